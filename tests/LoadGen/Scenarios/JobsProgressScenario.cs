using System.Collections.Concurrent;
using System.Globalization;

namespace LoadGen.Scenarios;

/// <summary>
/// Progress reports spread over <c>--keys</c> processing jobs (<c>--keys 1</c> is the hot-key case). Invariant: each
/// job's stored progress equals the highest value acknowledged for it, and after completion nothing is applied.
/// </summary>
public class JobsProgressScenario(string runId) : IScenario
{
    private readonly ConcurrentDictionary<int, double> _highestAcknowledged = new();
    private string[] _jobs = [];

    public virtual string Name => "jobs-progress";

    protected string[] Jobs => _jobs;

    public async Task PrepareAsync(HttpClient http, Options options)
    {
        _jobs = Enumerable.Range(0, Math.Max(1, options.Keys)).Select(i => $"lg-{runId}-{i}").ToArray();
        await Http.ForEachAsync(_jobs.Length, i => http.PostAsync("/api/jobs", $$"""{"kind":"loadgen","jobId":"{{_jobs[i]}}"}"""), 200, 201);
        await Http.ForEachAsync(_jobs.Length, i => http.PostAsync($"/api/jobs/{_jobs[i]}/start", """{"workerId":"lg-worker"}"""), 200);
    }

    public virtual async Task<int> ExecuteAsync(HttpClient http, int client)
    {
        var job = Random.Shared.Next(_jobs.Length);
        // Three decimals so values rarely repeat; kept below 100 so the terminal check below is meaningful.
        var value = Math.Round(Random.Shared.NextDouble() * 99, 3);
        var status = await http.PostAsync($"/api/jobs/{_jobs[job]}/progress",
            string.Create(CultureInfo.InvariantCulture, $$"""{"workerId":"lg-worker","progress":{{value}}}"""));
        if (status == 200)
        {
            _highestAcknowledged.AddOrUpdate(job, value, (_, current) => Math.Max(current, value));
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

        // Terminal is final: complete some jobs, then report progress to them; nothing may be applied.
        var completed = _jobs.Take(Math.Min(_jobs.Length, 20)).ToArray();
        foreach (var job in completed)
        {
            await http.PostAsync($"/api/jobs/{job}/complete", """{"workerId":"lg-worker"}""");
        }

        var refusedStatuses = await Task.WhenAll(completed.SelectMany(job => Enumerable.Range(0, 5).Select(_ =>
            http.PostAsync($"/api/jobs/{job}/progress", """{"workerId":"lg-worker","progress":50}"""))));
        foreach (var job in completed)
        {
            var state = await http.GetJsonAsync($"/api/jobs/{job}");
            if (state.GetProperty("status").GetString() != "completed" || state.GetProperty("progress").GetDouble() != 100)
            {
                return Verdict.Fail($"{job} changed after completion: {state}");
            }
        }

        return refusedStatuses.All(s => s == 409)
            ? Verdict.Pass($"{_highestAcknowledged.Count} jobs at their highest acknowledged progress; {refusedStatuses.Length} reports after completion refused")
            : Verdict.Fail($"reports after completion answered {string.Join(',', refusedStatuses.Distinct())}, expected 409");
    }
}
