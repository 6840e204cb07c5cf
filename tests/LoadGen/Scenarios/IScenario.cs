namespace LoadGen.Scenarios;

/// <summary>
/// One load scenario: it prepares its own entities, issues one request per call (closed loop, many clients at once),
/// and afterwards checks an invariant by reading the state back. Add a scenario by adding one such class.
/// </summary>
public interface IScenario
{
    string Name { get; }

    Task PrepareAsync(HttpClient http, Options options);

    /// <summary>One request; returns the HTTP status. Must be safe to call from many clients at once.</summary>
    Task<int> ExecuteAsync(HttpClient http, int client);

    Task<Verdict> VerifyAsync(HttpClient http);

    /// <summary>
    /// Leaves nothing running behind (a processing job keeps a stall reminder ticking), so one run does not load the
    /// target for the next one.
    /// </summary>
    Task CleanUpAsync(HttpClient http) => Task.CompletedTask;
}

public sealed record Verdict(bool Ok, string Detail)
{
    public static Verdict Pass(string detail) => new(true, detail);
    public static Verdict Fail(string detail) => new(false, detail);
}

public static class ScenarioCatalog
{
    public static IScenario Create(string name, string runId) => name switch
    {
        "jobs-progress" => new JobsProgressScenario(runId),
        "jobs-heartbeat" => new JobsHeartbeatScenario(runId),
        "lectures-start" => new LecturesStartScenario(runId),
        "mixed" => new MixedScenario(runId),
        "rooms-chat" => new RoomsChatScenario(runId),
        "sessions-chat" => new SessionsChatScenario(runId),
        _ => throw new ArgumentException($"unknown scenario '{name}'\n{Options.Usage}"),
    };
}
