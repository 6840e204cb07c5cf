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

    /// <summary>Short, so idle deletion is tested in seconds (every other session test keeps its session busy or reads it sooner).</summary>
    public static readonly TimeSpan SessionIdleExpiry = TimeSpan.FromSeconds(5);

    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Jobs:HeartbeatTimeout"] = HeartbeatTimeout.ToString(),
        ["Lectures:IdempotencyWindow"] = IdempotencyWindow.ToString(),
        ["Agents:ResponseTimeout"] = AgentResponseTimeout.ToString(),
        ["Rooms:MaxMessages"] = "100",
        ["Sessions:BuiltinLatency"] = SessionLatency.ToString(),
        ["Sessions:ResponseTimeout"] = "00:00:20",
        ["Sessions:IdleExpiry"] = SessionIdleExpiry.ToString(),
    };

    public InProcessTestCluster Cluster { get; } = Build(2, Settings);

    public IGrainFactory Grains => Cluster.Client;

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>
    /// A test cluster of <paramref name="silos"/> silos configured as the product's, with <paramref name="settings"/>;
    /// <paramref name="configure"/> changes each silo after that (for example another responder).
    /// </summary>
    public static InProcessTestCluster Build(short silos, IReadOnlyDictionary<string, string?> settings, Action<Orleans.Hosting.ISiloBuilder>? configure = null) =>
        new InProcessTestClusterBuilder(silos)
        .ConfigureSilo((_, silo) =>
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            // The product's stored format (System.Text.Json) and its stores, behind a gate tests can hold or fail per grain.
            silo.UseSystemTextJsonGrainStorageSerializer();
            silo.Services.AddGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME,
                (services, _) => ActivatorUtilities.CreateInstance<GatedGrainStorage>(services));
            silo.Services.AddGrainStorage(SessionOptions.Storage, (services, _) => ActivatorUtilities.CreateInstance<GatedGrainStorage>(services));
            silo.Services.AddGrainStorage(global::Lectures.Grains.Rooms.RoomOptions.Storage, (services, _) => ActivatorUtilities.CreateInstance<GatedGrainStorage>(services));
            silo.AddMemoryGrainStorage("PubSubStore");
            silo.AddMemoryStreams(LiveStreams.Provider);
            // Reminders in a table tests can delay or fail per grain (a slow or partitioned reminder store).
            silo.AddReminders();
            silo.Services.AddSingleton<IReminderTable, GatedReminderTable>();
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.Services.AddProductGrainServices(configuration);
            // Replaces the Agents responder: the built-in one, plus personas that make it throw, hang or go slow.
            silo.Services.AddKeyedSingleton<Microsoft.Extensions.AI.IChatClient>("Agents", (_, _) => new Rooms.ScriptedChatClient());
            configure?.Invoke(silo);
        })
        .Build();
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

/// <summary>A second, one-silo cluster whose sessions queue messages (Sessions:BusyPolicy Queue) instead of refusing them.</summary>
public sealed class QueueClusterFixture : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>(ClusterFixture.Settings)
    {
        ["Sessions:BusyPolicy"] = "Queue",
        ["Sessions:MaxQueue"] = "3",
    };

    public InProcessTestCluster Cluster { get; } = ClusterFixture.Build(1, Settings);

    public IGrainFactory Grains => Cluster.Client;

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class QueueClusterCollection : ICollectionFixture<QueueClusterFixture>
{
    public const string Name = "queue-cluster";
}

public static class Keys
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
