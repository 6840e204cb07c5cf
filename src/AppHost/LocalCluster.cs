namespace Lectures.AppHost;

/// <summary>
/// The cluster as an operator runs it (README, Running with Redis), wired through the product's own configuration
/// keys: Aspire.Hosting.Orleans writes Orleans' keys (Orleans__Clustering__...), which the product does not read.
/// Every port is allocated by Aspire, so several local clusters (and tests) run side by side.
/// </summary>
public static class LocalCluster
{
    /// <summary>Where redis-server keeps its append-only file (default: .data/redis beside this project).</summary>
    public const string RedisDataKey = "LocalCluster:RedisData";

    public static IResourceBuilder<ProjectResource> AddLocalCluster(this IDistributedApplicationBuilder builder, int headlessSilos)
    {
        var data = builder.Configuration[RedisDataKey] ?? Path.Combine(builder.AppHostDirectory, ".data", "redis");
        Directory.CreateDirectory(data);
        // redis-server as an executable (no container runtime here), durable as the guarantees need it.
        var redis = builder.AddExecutable("redis", "redis-server", data)
            .WithEndpoint(name: "tcp", scheme: "tcp", isProxied: false);
        var port = redis.GetEndpoint("tcp");
        redis.WithArgs(context =>
        {
            context.Args.Add("--port");
            context.Args.Add(port.Property(EndpointProperty.TargetPort));
            foreach (var arg in new[] { "--bind", "127.0.0.1", "--dir", data, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                         "--maxmemory-policy", "noeviction" })
            {
                context.Args.Add(arg);
            }
        });
        var connection = ReferenceExpression.Create($"127.0.0.1:{port.Property(EndpointProperty.TargetPort)}");
        // State, reminders and Data Protection keys are under the service id and survive runs (append-only file). The
        // membership table is under the cluster id: a fresh one per run, so the silos of the last run, stopped with the
        // AppHost, are not probed as dead members before this run's silos may join (which took about 50 s).
        var service = builder.Configuration["LocalCluster:ServiceId"] ?? "lectures";
        var cluster = $"local-{DateTime.UtcNow:yyyyMMddHHmmss}";

        var api = builder.AddProject<Projects.Api>("api", launchProfileName: null)
            .WithHttpEndpoint()
            .WithSilo(connection, cluster, service)
            .WaitFor(redis);
        for (var i = 1; i <= headlessSilos; i++)
        {
            builder.AddProject<Projects.Silo>($"silo{i}", launchProfileName: null)
                .WithSilo(connection, cluster, service)
                .WaitFor(redis);
        }

        return api;
    }

    private static IResourceBuilder<ProjectResource> WithSilo(this IResourceBuilder<ProjectResource> silo, ReferenceExpression redis,
        string clusterId, string serviceId) => silo
        .WithEnvironment("ConnectionStrings__Redis", redis)
        .WithEnvironment("Orleans__ClusterId", clusterId)
        .WithEnvironment("Orleans__ServiceId", serviceId)
        .WithEndpoint(name: "orleans-silo", scheme: "tcp", env: "Orleans__SiloPort", isProxied: false)
        .WithEndpoint(name: "orleans-gateway", scheme: "tcp", env: "Orleans__GatewayPort", isProxied: false);
}
