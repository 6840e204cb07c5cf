using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Sessions;

/// <summary>
/// A host whose sessions queue (MaxQueue 3), time out after 3 s and get their replies from a fake OpenAI-compatible
/// server on loopback. The global bucket is wide so the tests of this collection do not limit each other.
/// </summary>
public sealed class SessionFixture : IAsyncLifetime
{
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(3);

    public FakeOpenAi Model { get; } = new();

    private HostProcess? _host;

    public HttpClient Http => (_host ?? throw new InvalidOperationException("not started")).Http;

    public async Task InitializeAsync() => _host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
    {
        ["Sessions:Responder"] = "OpenAI",
        ["Sessions:Endpoint"] = Model.Endpoint,
        ["Sessions:Model"] = "fake-model",
        ["Sessions:ApiKey"] = "test-key",
        ["Sessions:BusyPolicy"] = "Queue",
        ["Sessions:MaxQueue"] = "3",
        ["Sessions:ResponseTimeout"] = ResponseTimeout.ToString(),
        ["RateLimits:Global:TokenLimit"] = "100000",
        ["RateLimits:Global:TokensPerPeriod"] = "100000",
    });

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        await Model.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SessionCollection : ICollectionFixture<SessionFixture>
{
    public const string Name = "sessions";
}
