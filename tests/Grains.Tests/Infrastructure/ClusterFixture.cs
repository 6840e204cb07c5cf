using Lectures.Grains.Common;
using Lectures.Grains.Hosting;
using Lectures.Grains.Sessions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.TestingHost;

namespace Lectures.Grains.Tests.Infrastructure;

/// <summary>
/// One in-process Orleans test cluster (two silos, so calls really cross silos) shared by every grain test, storing
/// state as the product does (see <see cref="GatedGrainStorage"/>).
/// Tests use their own grain keys and never depend on each other. Timeouts are short so that time-based rules
/// (stall detection) are tested in seconds.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromSeconds(2);

    /// <summary>Room agents: generation takes a second or more (see <c>ScriptedChatClient</c>), the deadline a few.</summary>
    public static readonly TimeSpan AgentResponseTimeout = TimeSpan.FromSeconds(4);
    /// <summary>How long the built-in responder takes to answer a session message (declared before Settings, which reads it).</summary>
    public static readonly TimeSpan SessionLatency = TimeSpan.FromSeconds(2);

    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Jobs:HeartbeatTimeout"] = HeartbeatTimeout.ToString(),
        ["Lectures:IdempotencyWindow"] = IdempotencyWindow.ToString(),
        ["Agents:ResponseTimeout"] = AgentResponseTimeout.ToString(),
        ["Rooms:MaxMessages"] = "100",
        ["Sessions:BuiltinLatency"] = SessionLatency.ToString(),
        ["Sessions:ResponseTimeout"] = "00:00:20",
    };

    public InProcessTestCluster Cluster { get; } = new InProcessTestClusterBuilder(2)
        .ConfigureSilo((_, silo) =>
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(Settings).Build();
            // The product's stored format (System.Text.Json) and its store, behind a gate tests can hold or fail per grain.
            silo.UseSystemTextJsonGrainStorageSerializer();
            silo.Services.AddGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME,
                (services, _) => ActivatorUtilities.CreateInstance<GatedGrainStorage>(services));
            silo.AddMemoryGrainStorage("PubSubStore");
            silo.AddMemoryGrainStorage(SessionOptions.Storage);
            silo.AddMemoryStreams(LiveStreams.Provider);
            silo.UseInMemoryReminderService();
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.Services.AddProductGrainServices(configuration);
            // Replaces the Agents responder: the built-in one, plus personas that make it throw, hang or go slow.
            silo.Services.AddKeyedSingleton<Microsoft.Extensions.AI.IChatClient>("Agents", (_, _) => new Rooms.ScriptedChatClient());
        })
        .Build();

    public IGrainFactory Grains => Cluster.Client;

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

public static class Keys
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
