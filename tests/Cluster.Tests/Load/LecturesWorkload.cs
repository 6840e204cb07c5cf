using System.Collections.Concurrent;

namespace Lectures.Cluster.Tests.Load;

/// <summary>
/// Lecture robots: each starts sessions on its own run with an <c>Idempotency-Key</c> per start, retrying a failed start
/// with the same key. Recorded: every acknowledged session and every key tried.
/// </summary>
public sealed class LecturesWorkload(string run) : IWorkload
{
    private const int LectureCount = 4;
    private const int SessionsPerRun = 200;
    private static readonly string[] Topics = ["intro", "middle", "end"];
    private readonly ConcurrentDictionary<string, RunRecord> _runs = new();

    public string Name => "lecture sessions";

    private string Lecture(int i) => $"{run}-lecture-{i}";

    public async Task PrepareAsync(Driver driver)
    {
        for (var i = 0; i < LectureCount; i++)
        {
            var body = new
            {
                title = $"Lecture {i}",
                topics = Topics.Select(t => new { topicId = t, title = t, contents = new[] { $"{t} one", $"{t} two" }, timeList = new[] { 1.5, 2.5 } }),
            };
            var reply = await Requests.UntilSettledAsync(
                () => driver.SendAsync("lectures.put", HttpMethod.Put, $"/api/lectures/{Lecture(i)}", body, null), CancellationToken.None);
            if (reply is not { IsAck: true })
            {
                throw new InvalidOperationException($"could not define lecture {i}: {reply?.Status} {reply?.Code}");
            }
        }
    }

    public async Task RunClientAsync(Driver driver, int client, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            // A fresh robot every SessionsPerRun starts keeps each run's history within one read (limit 1,000).
            var record = _runs.GetOrAdd($"{Lecture(client % LectureCount)}/robots/r{client}-{n / SessionsPerRun}", path => new RunRecord(path));
            var key = $"{run}-{client}-{n}";
            record.Tried.Add(key);
            var topic = Topics[n % Topics.Length];
            var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };
            var reply = await Requests.UntilSettledAsync(
                () => driver.SendAsync("lectures.start", HttpMethod.Post, $"/api/lectures/{record.Path}/sessions",
                    new { topicId = topic, language = "en" }, headers), stop);
            if (reply is { IsAck: true } && reply.Body.Str("sessionId") is { } sessionId)
            {
                record.Acknowledged.Add((key, sessionId));
            }

            await Task.Delay(Load.ThinkTime);
        }
    }

    public async Task VerifyAsync(Driver driver, Findings findings)
    {
        var sessionsStored = 0;
        foreach (var record in _runs.Values.Where(r => !r.Acknowledged.IsEmpty))
        {
            findings.Acked(Name, record.Acknowledged.Count);
            var reply = await Requests.ReadAsync(driver, "verify.lecture_run", $"/api/lectures/{record.Path}?limit=1000");
            if (!reply.IsAck)
            {
                findings.LostOne(Name, $"run {record.Path} had acknowledged sessions but GET answers {reply.Status} {reply.Code}");
                continue;
            }

            var stored = reply.Body.GetProperty("sessions").EnumerateArray().Select(s => s.Str("sessionId")!).ToList();
            sessionsStored += stored.Count;
            var storedSet = stored.ToHashSet();
            foreach (var (key, sessionId) in record.Acknowledged)
            {
                if (!storedSet.Contains(sessionId))
                {
                    findings.LostOne(Name, $"session {sessionId} (key {key}) of {record.Path} acknowledged but not stored");
                }
            }

            foreach (var key in record.Acknowledged.GroupBy(a => a.Key).Where(g => g.Select(a => a.SessionId).Distinct().Count() > 1))
            {
                findings.DuplicatedOne(Name, $"Idempotency-Key {key.Key} of {record.Path} acknowledged as {string.Join(", ", key.Select(a => a.SessionId).Distinct())}");
            }

            var tried = record.Tried.Count;
            var count = (int?)reply.Body.Num("sessionCount") ?? stored.Count;
            if (stored.Count != storedSet.Count || count > tried)
            {
                findings.DuplicatedOne(Name, $"run {record.Path} holds {count} sessions ({storedSet.Count} distinct) for {tried} idempotency keys");
            }
        }

        findings.Figures["lecture sessions stored"] = sessionsStored.ToString();
    }

    private sealed class RunRecord(string path)
    {
        public string Path { get; } = path;
        public ConcurrentBag<string> Tried { get; } = [];
        public ConcurrentBag<(string Key, string SessionId)> Acknowledged { get; } = [];
    }
}
