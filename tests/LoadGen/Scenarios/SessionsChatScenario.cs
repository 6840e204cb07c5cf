using System.Collections.Concurrent;
using System.Text.Json;

namespace LoadGen.Scenarios;

/// <summary>
/// Chatbot users (<c>--keys</c> of them) sending messages without waiting (<c>wait=false</c>), with some cancels and clears
/// mixed in. Invariant, read back once every session is idle: every accepted request ends in exactly one terminal
/// status (or was removed by a clear sent after it was accepted), and no reply lands after a clear: nothing accepted
/// before a clear was sent is in the history afterwards, and every reply belongs to a request in the history.
/// </summary>
public sealed class SessionsChatScenario(string runId) : IScenario
{
    private static readonly string[] Terminal = ["completed", "cancelled", "timeout", "failed"];

    // Logical times (one counter): when a request was sent and when its 202 arrived; the same for each clear.
    private readonly ConcurrentDictionary<string, (long Sent, long Answered)> _accepted = new();
    private readonly ConcurrentDictionary<string, int> _userOf = new();
    private readonly ConcurrentDictionary<int, ConcurrentBag<(long Sent, long Answered)>> _clears = new();
    private string[] _users = [];
    private long _sequence;

    public string Name => "sessions-chat";

    public Task PrepareAsync(HttpClient http, Options options)
    {
        _users = Enumerable.Range(0, Math.Max(1, options.Keys)).Select(i => $"lg-{runId}-{i}").ToArray();
        return Task.CompletedTask;
    }

    public async Task<int> ExecuteAsync(HttpClient http, int client)
    {
        var user = Random.Shared.Next(_users.Length);
        var dice = Random.Shared.Next(100);
        if (dice < 3)
        {
            var sent = Interlocked.Increment(ref _sequence);
            var (clearStatus, _) = await http.PostReadAsync($"/api/users/{_users[user]}/clear", "{}");
            if (clearStatus == 200)
            {
                _clears.GetOrAdd(user, _ => []).Add((sent, Interlocked.Increment(ref _sequence)));
            }

            return clearStatus;
        }

        if (dice < 8)
        {
            return await http.PostAsync($"/api/users/{_users[user]}/cancel", "{}");
        }

        var requestSent = Interlocked.Increment(ref _sequence);
        var (status, body) = await http.PostReadAsync($"/api/users/{_users[user]}/messages?wait=false", """{"text":"what is the normal resting heart rate"}""");
        if (status == 202)
        {
            var requestId = body.GetProperty("requestId").GetString()!;
            _accepted[requestId] = (requestSent, Interlocked.Increment(ref _sequence));
            _userOf[requestId] = user;
        }

        return status;
    }

    public async Task<Verdict> VerifyAsync(HttpClient http)
    {
        var touched = _userOf.Values.Distinct().ToArray();
        var histories = new ConcurrentDictionary<int, JsonElement>();
        var stuck = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(touched, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (user, _) =>
        {
            // Every request in flight or queued ends by itself (reply, timeout): wait for the session to be idle.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (true)
            {
                using var response = await http.GetAsync($"/api/users/{_users[user]}/session");
                if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    histories[user] = JsonDocument.Parse("""{"history":[]}""").RootElement.Clone();
                    return;
                }

                var session = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
                if (session.GetProperty("status").GetString() == "idle" && session.GetProperty("queued").GetInt32() == 0)
                {
                    histories[user] = session;
                    return;
                }

                if (DateTime.UtcNow > until)
                {
                    stuck.Add(_users[user]);
                    return;
                }

                await Task.Delay(200);
            }
        });
        if (!stuck.IsEmpty)
        {
            return Verdict.Fail($"{stuck.Count} session(s) still busy 120 s after the run, e.g. {stuck.First()}");
        }

        var problems = new List<string>();
        var terminal = 0;
        var removedByClear = 0;
        var overlapping = 0;
        foreach (var (requestId, request) in _accepted)
        {
            var user = _userOf[requestId];
            var history = histories[user].GetProperty("history").EnumerateArray().ToList();
            var entries = history.Where(e => e.GetProperty("requestId").GetString() == requestId).ToList();
            var asked = entries.Where(e => e.GetProperty("role").GetString() == "user").ToList();
            var replies = entries.Count(e => e.GetProperty("role").GetString() == "assistant");
            var clears = _clears.TryGetValue(user, out var c) ? c.ToList() : [];
            if (clears.Any(clear => clear.Sent > request.Answered))
            {
                if (entries.Count > 0)
                {
                    problems.Add($"{requestId} was accepted before a clear of {_users[user]} but is in its history afterwards");
                }

                removedByClear++;
                continue;
            }

            if (asked.Count == 0 && clears.Any(clear => clear.Sent < request.Answered && request.Sent < clear.Answered))
            {
                // Sent while a clear was under way: the clear may have come after it, and then it is gone. Either is right.
                overlapping++;
                continue;
            }

            if (asked.Count != 1)
            {
                // Not cleared after it was accepted, so it must be there exactly once (histories keep 200 entries).
                if (asked.Count == 0 && history.Count >= 200)
                {
                    continue;
                }

                problems.Add($"{requestId} appears {asked.Count} times in the history of {_users[user]}");
                continue;
            }

            var status = asked[0].GetProperty("status").GetString();
            if (!Terminal.Contains(status))
            {
                problems.Add($"{requestId} ended as {status}, not a terminal status");
            }
            else if (replies != (status == "completed" ? 1 : 0))
            {
                problems.Add($"{requestId} is {status} with {replies} replies");
            }
            else
            {
                terminal++;
            }
        }

        foreach (var (user, session) in histories)
        {
            var history = session.GetProperty("history").EnumerateArray().ToList();
            var asked = history.Where(e => e.GetProperty("role").GetString() == "user").Select(e => e.GetProperty("requestId").GetString()).ToHashSet();
            problems.AddRange(history.Where(e => e.GetProperty("role").GetString() == "assistant" && !asked.Contains(e.GetProperty("requestId").GetString()))
                .Select(e => $"a reply to {e.GetProperty("requestId").GetString()} in {_users[user]} has no request (landed after a clear)"));
        }

        return problems.Count == 0
            ? Verdict.Pass($"{terminal} accepted requests each ended in one terminal status; {removedByClear} removed by a later clear, {overlapping} by a concurrent one; no reply after a clear")
            : Verdict.Fail($"{problems.Count} violation(s), e.g. {problems[0]}");
    }

    public async Task CleanUpAsync(HttpClient http) =>
        await Http.ForEachAsync(_users.Length, i => http.PostAsync($"/api/users/{_users[i]}/clear", "{}"), 200, 429, 503);
}
