using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Lectures.Grains.Tests.Rooms;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// The schedule explorer's clusters, configured as the product's (<see cref="ClusterFixture.Build"/>): a two-silo one
/// whose sessions refuse a busy user (Drop) and a one-silo one whose sessions queue (Queue, Sessions:MaxQueue 3). Short
/// deadlines, so a lost generation is ended within seconds; a session idle for a second is deleted, so the explorer races
/// deletions; limits too high to refuse anything; both responders scripted (<see cref="ScriptedChatClient"/>), so calls
/// are counted per agent and per user.
/// </summary>
public sealed class ExplorerFixture : IAsyncLifetime
{
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(4);
    public static readonly TimeSpan IdleExpiry = TimeSpan.FromSeconds(1);

    /// <summary>The first line of every session prompt (<see cref="SessionRules.Prompt"/>).</summary>
    public const string SessionPersona = "Medical-education tutor";

    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Agents:ResponseTimeout"] = ResponseTimeout.ToString(),
        ["Rooms:MaxMessages"] = "1000",
        ["Sessions:ResponseTimeout"] = ResponseTimeout.ToString(),
        ["Sessions:IdleExpiry"] = IdleExpiry.ToString(),
        ["RateLimits:User:TokenLimit"] = "1000000",
        ["RateLimits:User:TokensPerPeriod"] = "1000000",
        ["RateLimits:Global:TokenLimit"] = "1000000",
        ["RateLimits:Global:TokensPerPeriod"] = "1000000",
    };

    public InProcessTestCluster Drop { get; } = ClusterFixture.Build(2, Settings, ScriptedSessions);

    public InProcessTestCluster Queue { get; } = ClusterFixture.Build(1, new Dictionary<string, string?>(Settings)
    {
        ["Sessions:BusyPolicy"] = "Queue",
        ["Sessions:MaxQueue"] = "3",
    }, ScriptedSessions);

    public Task InitializeAsync() => Task.WhenAll(Drop.DeployAsync(), Queue.DeployAsync());

    public async Task DisposeAsync()
    {
        await Drop.DisposeAsync();
        await Queue.DisposeAsync();
    }

    private static void ScriptedSessions(Orleans.Hosting.ISiloBuilder silo) =>
        silo.Services.AddKeyedSingleton<IChatClient>(SessionOptions.ResponderKey, (_, _) => new ScriptedChatClient());
}

[CollectionDefinition(Name)]
public sealed class ExplorerCollection : ICollectionFixture<ExplorerFixture>
{
    public const string Name = "explorer";
}
