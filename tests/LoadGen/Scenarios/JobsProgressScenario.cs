using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;

namespace LoadGen.Scenarios;

/// <summary>
/// Progress reports spread over <c>--keys</c> processing jobs (<c>--keys 1</c> is the hot-key case). Invariant: each
/// job's stored progress equals the highest value acknowledged for it, and after completion nothing is applied. Reports
/// go to random jobs and stop when the run ends, so a job may really go silent for longer than the target's
/// <c>Jobs:HeartbeatTimeout</c> (<c>--heartbeat-timeout</c>) before it is read back (short runs, many keys, a loaded
/// machine): it is then failed as stalled, as the contract says. That is checked, not excused: a job failed as stalled
/// sooner than the timeout after the last sign of life the target acknowledged for it is a violation.
/// </summary>
public class JobsProgressScenario(string runId) : IScenario
{
    private readonly ConcurrentDictionary<int, double> _highestAcknowledged = new();
    // Per job: the target's own time (lastHeartbeat) of the latest sign of life it acknowledged, on the clock that
    // also stamps completedAt, so the stall check holds for a remote target too.
    private readonly ConcurrentDictionary<int, DateTimeOffset> _lastSignOfLife = new();
    private TimeSpan _heartbeatTimeout = Options.DefaultHeartbeatTimeout;
    private string[] _jobs = [];

    public virtual string Name => "jobs-progress";

    protected string[] Jobs => _jobs;

    public async Task PrepareAsync(HttpClient http, Options options)
    {
        _heartbeatTimeout = options.HeartbeatTimeout;
        _jobs = Enumerable.Range(0, Math.Max(1, options.Keys)).Select(i => $"lg-{runId}-{i}").ToArray();
        await Http.ForEachAsync(_jobs.Length, i => http.PostAsync("/api/jobs", $$"""{"kind":"loadgen","jobId":"{{_jobs[i]}}"}"""), 200, 201);
        await Http.ForEachAsync(_jobs.Length, i => http.PostAsync($"/api/jobs/{_jobs[i]}/start", """{"workerId":"lg-worker"}"""), 200);
    }

    public virtual async Task<int> ExecuteAsync(HttpClient http, int client)
    {
        var job = Random.Shared.Next(_jobs.Length);
        // Three decimals so values rarely repeat; kept below 100 so the terminal check below is meaningful.
        var value = Math.Round(Random.Shared.NextDouble() * 99, 3);
        var (status, body) = await http.PostReadAsync($"/api/jobs/{_jobs[job]}/progress",
            string.Create(CultureInfo.InvariantCulture, $$"""{"workerId":"lg-worker","progress":{{value}}}"""));
        if (status == 200)
        {
            _highestAcknowledged.AddOrUpdate(job, value, (_, current) => Math.Max(current, value));
            if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("job", out var view))
            {
                Acknowledged(job, view);
            }
        }

        return status;
    }

    public async Task CleanUpAsync(HttpClient http) =>
        await Http.ForEachAsync(_jobs.Length, i => http.PostAsync($"/api/jobs/{_jobs[i]}/complete", """{"workerId":"lg-worker"}"""), 200, 409);

    public virtual async Task<Verdict> VerifyAsync(HttpClient http)
    {
        var wrong = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(_highestAcknowledged, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (entry, _) =>
        {
            var stored = (await http.GetJsonAsync($"/api/jobs/{_jobs[entry.Key]}")).GetProperty("progress").GetDouble();
            if (Math.Abs(stored - entry.Value) > 1e-9)
            {
                wrong.Add($"{_jobs[entry.Key]}: stored {stored}, highest acknowledged {entry.Value}");
            }
        });
        if (!wrong.IsEmpty)
        {
            return Verdict.Fail($"{wrong.Count} job(s) lost or invented progress, e.g. {wrong.First()}");
        }

        // Terminal is final: complete some jobs, then report progress to them; nothing may be applied. A job that is
        // already terminal (refused with 409) must have stalled legitimately and must not change either.
        var finished = new Dictionary<int, string?>();
        for (var i = 0; i < Math.Min(_jobs.Length, 20); i++)
        {
            var (status, _) = await http.PostReadAsync($"/api/jobs/{_jobs[i]}/complete", """{"workerId":"lg-worker"}""");
            if (status == 200)
            {
                finished[i] = null;
                continue;
            }

            var state = await http.GetJsonAsync($"/api/jobs/{_jobs[i]}");
            if (status != 409)
            {
                return Verdict.Fail($"completing {_jobs[i]} answered {status}: {state}");
            }

            if (StallViolation(i, state) is { } violation)
            {
                return Verdict.Fail(violation);
            }

            finished[i] = state.GetRawText();
        }

        var refusedStatuses = await Task.WhenAll(finished.Keys.SelectMany(i => Enumerable.Range(0, 5).Select(_ =>
            http.PostAsync($"/api/jobs/{_jobs[i]}/progress", """{"workerId":"lg-worker","progress":50}"""))));
        foreach (var (i, endedAs) in finished)
        {
            var state = await http.GetJsonAsync($"/api/jobs/{_jobs[i]}");
            if (endedAs is null
                ? state.GetProperty("status").GetString() != "completed" || state.GetProperty("progress").GetDouble() != 100
                : state.GetRawText() != endedAs)
            {
                return Verdict.Fail($"{_jobs[i]} changed after it ended: {state}");
            }
        }

        return refusedStatuses.All(s => s == 409)
            ? Verdict.Pass($"{_highestAcknowledged.Count} jobs at their highest acknowledged progress; {refusedStatuses.Length} reports after completion refused"
                + (finished.Count(f => f.Value is not null) is var stalled and > 0 ? $" ({stalled} of those jobs had already stalled legitimately)" : ""))
            : Verdict.Fail($"reports after completion answered {string.Join(',', refusedStatuses.Distinct())}, expected 409");
    }

    /// <summary>Records the sign of life in a job the target acknowledged (its answer to a report or a heartbeat).</summary>
    protected void Acknowledged(int job, JsonElement view)
    {
        // A target without the field (the baselines) never stalls a job, so it is never needed there.
        if (Time(view, "lastHeartbeat") is { } at)
        {
            _lastSignOfLife.AddOrUpdate(job, at, (_, current) => current > at ? current : at);
        }
    }

    /// <summary>
    /// Null when a job that is no longer processing was failed as stalled no sooner than the timeout after the last sign
    /// of life acknowledged for it (its claim, a heartbeat or a report), as the contract requires; else what is wrong.
    /// </summary>
    protected string? StallViolation(int job, JsonElement state)
    {
        var status = state.GetProperty("status").GetString();
        if (status != "failed" || state.GetProperty("error").GetString() != "stalled" || state.GetProperty("workerId").GetString() != "lg-worker"
            || Time(state, "completedAt") is not { } failedAt || Time(state, "startedAt") is not { } startedAt)
        {
            return $"{_jobs[job]} is {status} while lg-worker was reporting: {state}";
        }

        var lastSignOfLife = _lastSignOfLife.TryGetValue(job, out var acknowledged) && acknowledged > startedAt ? acknowledged : startedAt;
        var silence = failedAt - lastSignOfLife;
        return silence >= _heartbeatTimeout ? null : string.Create(CultureInfo.InvariantCulture,
            $"{_jobs[job]} failed as stalled {silence.TotalSeconds:F3}s after its last acknowledged sign of life ({lastSignOfLife:O}), within the heartbeat timeout of {_heartbeatTimeout.TotalSeconds:F3}s: {state}");
    }

    private static DateTimeOffset? Time(JsonElement job, string property) =>
        job.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetDateTimeOffset() : null;
}
