using System.Collections.Concurrent;

namespace LoadGen.Scenarios;

/// <summary>
/// Session starts over <c>--keys</c> lectures and 5 robots each, one in ten retried with the Idempotency-Key of an
/// earlier start. Invariant: every created session is stored, none twice, retries return the original session.
/// </summary>
public sealed class LecturesStartScenario(string runId) : IScenario
{
    private const int Robots = 5;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _createdByRun = new();
    private readonly ConcurrentDictionary<string, (string Run, string SessionId)> _keys = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly string?[] _recentKeys = new string?[64];
    private int _recentSlot;
    private string[] _lectures = [];
    private long _sequence;

    public string Name => "lectures-start";

    public async Task PrepareAsync(HttpClient http, Options options)
    {
        _lectures = Enumerable.Range(0, Math.Max(1, Math.Min(options.Keys, 200))).Select(i => $"lg-{runId}-lecture-{i}").ToArray();
        const string definition = """{"title":"Load","topics":[{"topicId":"a","title":"A","contents":["one","two","three"],"timeList":[1,2,3]},{"topicId":"b","title":"B","contents":["x"],"timeList":[4]}]}""";
        await Http.ForEachAsync(_lectures.Length, async i =>
        {
            using var content = new StringContent(definition, System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PutAsync($"/api/lectures/{_lectures[i]}", content);
            return (int)response.StatusCode;
        }, 200);
    }

    public async Task<int> ExecuteAsync(HttpClient http, int client)
    {
        var earlier = Random.Shared.Next(10) == 0 ? Volatile.Read(ref _recentKeys[Random.Shared.Next(_recentKeys.Length)]) : null;
        var retry = earlier is not null;
        string key, path;
        if (earlier is not null)
        {
            key = earlier;
            path = _keys[key].Run;
        }
        else
        {
            key = $"{runId}-{Interlocked.Increment(ref _sequence)}";
            path = $"/api/lectures/{_lectures[Random.Shared.Next(_lectures.Length)]}/robots/robot-{Random.Shared.Next(Robots)}";
        }

        var (status, body) = await http.PostReadAsync($"{path}/sessions", """{"topicId":"a","language":"en"}""",
            new Dictionary<string, string> { ["Idempotency-Key"] = key });
        if (status is 200 or 201)
        {
            var sessionId = body.GetProperty("sessionId").GetString()!;
            if (retry || status == 200)
            {
                if (_keys.TryGetValue(key, out var original) && original.SessionId != sessionId)
                {
                    _violations.Enqueue($"retry of {key} returned {sessionId}, first start returned {original.SessionId}");
                }
            }
            else
            {
                _keys[key] = (path, sessionId);
                _createdByRun.GetOrAdd(path, _ => new()).TryAdd(sessionId, 0);
                Volatile.Write(ref _recentKeys[Interlocked.Increment(ref _recentSlot) & (_recentKeys.Length - 1)], key);
            }
        }

        return status;
    }

    public async Task<Verdict> VerifyAsync(HttpClient http)
    {
        if (_violations.TryPeek(out var violation))
        {
            return Verdict.Fail(violation);
        }

        var sessions = 0;
        foreach (var (run, created) in _createdByRun)
        {
            var stored = (await http.GetJsonAsync($"{run}?limit=1000")).GetProperty("sessions").EnumerateArray()
                .Select(s => s.GetProperty("sessionId").GetString()!).ToList();
            if (stored.Count != stored.Distinct().Count())
            {
                return Verdict.Fail($"{run} stores a session twice");
            }

            var missing = created.Keys.Except(stored).ToList();
            if (missing.Count > 0 || stored.Count != created.Count)
            {
                return Verdict.Fail($"{run}: {missing.Count} created session(s) missing, {stored.Count} stored for {created.Count} created");
            }

            sessions += stored.Count;
        }

        return Verdict.Pass($"{sessions} sessions stored exactly once over {_createdByRun.Count} runs; retries returned the first session");
    }
}
