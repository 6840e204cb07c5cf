using Lectures.Grains.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Lectures.Api.Infrastructure;

/// <summary>Ready when the cluster answers a grain call: reports how many silos are active.</summary>
public sealed class SiloReadyCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            return hosts.Count > 0
                ? HealthCheckResult.Healthy($"{hosts.Count} active silo(s)", new Dictionary<string, object> { ["activeSilos"] = hosts.Count })
                : HealthCheckResult.Unhealthy("No active silo");
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The cluster did not answer", ex);
        }
    }
}

/// <summary>Ready when the grain store answers: a Redis PING in cluster mode; always ready in embedded mode.</summary>
public sealed class StorageReadyCheck(IConfiguration configuration, IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (ProductSilo.IsEmbedded(configuration))
        {
            return HealthCheckResult.Healthy("in-memory grain store (embedded mode, not durable)");
        }

        try
        {
            var redis = services.GetRequiredService<RedisHealthConnection>().Get();
            var latency = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"Redis answered in {latency.TotalMilliseconds:F1} ms");
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("Redis did not answer", ex);
        }
    }
}

/// <summary>One lazily opened connection used only by the readiness check; it reconnects by itself.</summary>
public sealed class RedisHealthConnection(IConfiguration configuration) : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _connection = new(() => ConnectionMultiplexer.Connect(ProductSilo.RedisOptions(configuration)));

    public IConnectionMultiplexer Get() => _connection.Value;

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}
