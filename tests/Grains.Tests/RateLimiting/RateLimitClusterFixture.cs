using Lectures.Grains.Hosting;
using Lectures.Grains.RateLimiting;
using Lectures.Grains.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Lectures.Grains.Tests.RateLimiting;

/// <summary>
/// A one-silo cluster of its own whose rate limits run on a <see cref="ManualClock"/>: the shared cluster's global
/// bucket is spent by other tests and runs on real time. The silo's limiter and the global grain share that clock, so
/// a minute of traffic takes a second, and a burst can run with time stopped.
/// </summary>
public sealed class RateLimitClusterFixture : IAsyncLifetime
{
    public ManualClock Clock { get; } = new(DateTimeOffset.UnixEpoch.AddYears(56));

    public InProcessTestCluster Cluster { get; }

    public RateLimitClusterFixture() =>
        Cluster = new InProcessTestClusterBuilder(1)
            .ConfigureSilo((_, silo) =>
            {
                var configuration = new ConfigurationBuilder().AddInMemoryCollection(ClusterFixture.Settings).Build();
                silo.AddMemoryGrainStorageAsDefault();
                silo.Services.AddProductGrainServices(configuration);
                silo.Services.AddKeyedSingleton<TimeProvider>(RateLimitOptions.Clock, Clock);
            })
            .Build();

    /// <summary>The silo's own limiter, as the session grains use it.</summary>
    public GlobalRateLimiter Limiter => Cluster.Silos[0].ServiceProvider.GetRequiredService<GlobalRateLimiter>();

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class RateLimitClusterCollection : ICollectionFixture<RateLimitClusterFixture>
{
    public const string Name = "rate-limit-cluster";
}
