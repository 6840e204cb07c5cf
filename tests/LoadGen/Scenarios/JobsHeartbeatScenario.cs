namespace LoadGen.Scenarios;

/// <summary>Heartbeats spread over <c>--keys</c> processing jobs. Invariant: every job is still processing, owned by its worker.</summary>
public sealed class JobsHeartbeatScenario(string runId) : JobsProgressScenario(runId)
{
    public override string Name => "jobs-heartbeat";

    public override Task<int> ExecuteAsync(HttpClient http, int client) =>
        http.PostAsync($"/api/jobs/{Jobs[Random.Shared.Next(Jobs.Length)]}/heartbeat", """{"workerId":"lg-worker"}""");

    public override async Task<Verdict> VerifyAsync(HttpClient http)
    {
        foreach (var job in Jobs.Take(200))
        {
            var state = await http.GetJsonAsync($"/api/jobs/{job}");
            if (state.GetProperty("status").GetString() != "processing" || state.GetProperty("workerId").GetString() != "lg-worker")
            {
                return Verdict.Fail($"{job} is {state.GetProperty("status")} after heartbeats");
            }
        }

        return Verdict.Pass($"{Math.Min(200, Jobs.Length)} heartbeated jobs still processing");
    }
}
