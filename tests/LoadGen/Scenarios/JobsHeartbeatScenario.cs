using System.Text.Json;

namespace LoadGen.Scenarios;

/// <summary>
/// Heartbeats spread over <c>--keys</c> processing jobs. Invariant: every job is still processing, owned by its worker,
/// or was failed as stalled no sooner than <c>--heartbeat-timeout</c> after the last sign of life the target
/// acknowledged for it (heartbeats go to random jobs and stop when the run ends, see <see cref="JobsProgressScenario"/>).
/// </summary>
public sealed class JobsHeartbeatScenario(string runId) : JobsProgressScenario(runId)
{
    public override string Name => "jobs-heartbeat";

    public override async Task<int> ExecuteAsync(HttpClient http, int client)
    {
        var job = Random.Shared.Next(Jobs.Length);
        var (status, body) = await http.PostReadAsync($"/api/jobs/{Jobs[job]}/heartbeat", """{"workerId":"lg-worker"}""");
        if (status == 200 && body.ValueKind == JsonValueKind.Object)
        {
            Acknowledged(job, body);
        }

        return status;
    }

    public override async Task<Verdict> VerifyAsync(HttpClient http)
    {
        var stalled = 0;
        for (var i = 0; i < Math.Min(200, Jobs.Length); i++)
        {
            var state = await http.GetJsonAsync($"/api/jobs/{Jobs[i]}");
            if (state.GetProperty("status").GetString() == "processing" && state.GetProperty("workerId").GetString() == "lg-worker")
            {
                continue;
            }

            if (StallViolation(i, state) is { } violation)
            {
                return Verdict.Fail(violation);
            }

            stalled++;
        }

        var checkedJobs = Math.Min(200, Jobs.Length);
        return Verdict.Pass($"{checkedJobs - stalled} heartbeated jobs still processing" +
            (stalled == 0 ? "" : $", {stalled} failed as stalled only after the heartbeat timeout without an acknowledged heartbeat"));
    }
}
