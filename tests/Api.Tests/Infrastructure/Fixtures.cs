namespace Lectures.Api.Tests.Infrastructure;

/// <summary>
/// The real API host in embedded mode, shared by the HTTP specs of one collection. Tests use their own ids.
/// Time-based settings are short so stall detection is tested in seconds.
/// </summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromSeconds(2);

    /// <summary>How long the built-in responder takes in the shared host: long enough to observe agents responding.</summary>
    public static readonly TimeSpan AgentLatency = TimeSpan.FromSeconds(1);

    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Jobs:HeartbeatTimeout"] = HeartbeatTimeout.ToString(),
        ["Lectures:IdempotencyWindow"] = IdempotencyWindow.ToString(),
        ["Agents:BuiltinLatency"] = AgentLatency.ToString(),
        ["Agents:ResponseTimeout"] = "00:00:10",
    };

    private HostProcess? _host;

    public HostProcess Host => _host ?? throw new InvalidOperationException("not started");
    public HttpClient Http => Host.Http;

    public async Task InitializeAsync() => _host = await HostProcess.StartApiAsync(Settings);

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

/// <summary>Tests that start and stop their own hosts against one real redis-server.</summary>
[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServer>
{
    public const string Name = "redis";
}

public static class Ids
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
