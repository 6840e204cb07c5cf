using System.Collections.Concurrent;

namespace Lectures.Cluster.Tests.Load;

/// <summary>
/// Chatbot users: each sends a message without waiting (202 with a request id), follows its session until that request
/// is finished, then sends the next. Recorded: every accepted request id and its text.
/// </summary>
public sealed class UsersWorkload(string run, TimeSpan responseTimeout) : IWorkload
{
    private const int RequestsPerUser = 40;
    private static readonly string[] SendRefusals = ["session.busy", "session.queue_full", "rate_limited.user", "rate_limited.global"];
    private static readonly HashSet<string> Terminal = ["completed", "cancelled", "timeout", "failed"];
    private readonly ConcurrentDictionary<string, ConcurrentBag<(string RequestId, string Text)>> _accepted = new();

    public string Name => "user messages";

    public Task PrepareAsync(Driver driver) => Task.CompletedTask;

    public async Task RunClientAsync(Driver driver, int client, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            // A fresh user every RequestsPerUser requests keeps each history below Sessions:MaxHistory.
            var user = $"{run}-user-{client}-{n / RequestsPerUser}";
            var text = $"question {client}-{n}";
            var sent = await driver.PostAsync("users.send", $"/api/users/{user}/messages?wait=false", new { text }, SendRefusals);
            if (!sent.IsAck)
            {
                await Task.Delay(sent.Outcome == Outcome.Refused ? TimeSpan.FromMilliseconds(300) : Requests.RetryPause);
                continue;
            }

            var requestId = sent.Body.Str("requestId")!;
            _accepted.GetOrAdd(user, _ => []).Add((requestId, text));
            // Follow the session until the request is finished (or the load stops).
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250));
                var session = await driver.GetAsync("users.session", $"/api/users/{user}/session");
                if (session.IsAck && session.Body.GetProperty("history").EnumerateArray()
                        .Any(e => e.Str("requestId") == requestId && e.Str("role") == "user" && Terminal.Contains(e.Str("status")!)))
                {
                    break;
                }
            }
        }
    }

    public async Task VerifyAsync(Driver driver, Findings findings)
    {
        // A request lost with its silo must end (failed) within Sessions:ResponseTimeout + 15 s, even unread.
        var deadline = responseTimeout + TimeSpan.FromSeconds(15);
        var settle = System.Diagnostics.Stopwatch.StartNew();
        var statuses = new ConcurrentDictionary<string, int>();
        foreach (var (user, accepted) in _accepted)
        {
            findings.Acked(Name, accepted.Count);
            Reply session;
            List<System.Text.Json.JsonElement> history;
            while (true)
            {
                session = await Requests.ReadAsync(driver, "verify.user_session", $"/api/users/{user}/session");
                history = session.IsAck ? [.. session.Body.GetProperty("history").EnumerateArray()] : [];
                var open = accepted.Any(a => history.FirstOrDefault(e => e.Str("requestId") == a.RequestId && e.Str("role") == "user") is { } e
                    && !Terminal.Contains(e.Str("status")!));
                if (!session.IsAck || !open || settle.Elapsed > deadline + TimeSpan.FromSeconds(15))
                {
                    break;
                }

                await Task.Delay(250);
            }

            if (!session.IsAck)
            {
                findings.LostOne(Name, $"session of {user} had accepted requests but GET answers {session.Status} {session.Code}");
                continue;
            }

            foreach (var (requestId, text) in accepted)
            {
                var entries = history.Where(e => e.Str("requestId") == requestId && e.Str("role") == "user").ToList();
                if (entries.Count == 0 || entries[0].Str("text") != text)
                {
                    findings.LostOne(Name, $"request {requestId} of {user} was accepted (202) but is not in the history");
                    continue;
                }

                if (entries.Count > 1)
                {
                    findings.DuplicatedOne(Name, $"request {requestId} of {user} appears {entries.Count} times");
                }

                var status = entries[0].Str("status")!;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (!Terminal.Contains(status))
                {
                    findings.Problem($"users: request {requestId} of {user} is still {status} {settle.Elapsed.TotalSeconds:0.0} s into verification " +
                        $"(limit Sessions:ResponseTimeout + 15 s = {deadline.TotalSeconds:0} s)");
                }
            }

            foreach (var twice in history.Where(e => e.Str("role") == "assistant").GroupBy(e => e.Str("requestId")).Where(g => g.Count() > 1))
            {
                findings.DuplicatedOne(Name, $"request {twice.Key} of {user} has {twice.Count()} replies");
            }
        }

        findings.Figures["users: every accepted request terminal after"] = $"{settle.Elapsed.TotalSeconds:0.0} s (limit {deadline.TotalSeconds:0} s)";
        findings.Figures["users: accepted requests by final status"] = string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} {s.Value}"));
    }
}
