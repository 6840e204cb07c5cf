namespace LoadGen.Scenarios;

/// <summary>45% progress, 45% heartbeats (on other jobs), 10% lecture session starts; every invariant checked.</summary>
public sealed class MixedScenario(string runId) : IScenario
{
    private readonly JobsProgressScenario _progress = new($"{runId}-p");
    private readonly JobsHeartbeatScenario _heartbeat = new($"{runId}-h");
    private readonly LecturesStartScenario _lectures = new($"{runId}-l");

    public string Name => "mixed";

    public async Task PrepareAsync(HttpClient http, Options options)
    {
        var small = options with { Keys = Math.Max(1, options.Keys / 10) };
        await _progress.PrepareAsync(http, options);
        await _heartbeat.PrepareAsync(http, options);
        await _lectures.PrepareAsync(http, small);
    }

    public Task<int> ExecuteAsync(HttpClient http, int client) => Random.Shared.Next(20) switch
    {
        < 9 => _progress.ExecuteAsync(http, client),
        < 18 => _heartbeat.ExecuteAsync(http, client),
        _ => _lectures.ExecuteAsync(http, client),
    };

    public async Task CleanUpAsync(HttpClient http)
    {
        await ((IScenario)_progress).CleanUpAsync(http);
        await ((IScenario)_heartbeat).CleanUpAsync(http);
    }

    public async Task<Verdict> VerifyAsync(HttpClient http)
    {
        var verdicts = new[] { await _progress.VerifyAsync(http), await _heartbeat.VerifyAsync(http), await _lectures.VerifyAsync(http) };
        var detail = string.Join("; ", verdicts.Select(v => v.Detail));
        return verdicts.All(v => v.Ok) ? Verdict.Pass(detail) : Verdict.Fail(detail);
    }
}
