using System.Net;
using System.Text.Encodings.Web;
using Lectures.Grains.Ai;
using Lectures.Grains.Common;
using Lectures.Grains.Jobs;
using Lectures.Grains.Lectures;
using Lectures.Grains.Rooms;
using Lectures.Grains.RateLimiting;
using Lectures.Grains.Sessions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Dashboard;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Storage;
using StackExchange.Redis;

namespace Lectures.Grains.Hosting;

/// <summary>
/// The one place that configures Orleans. The API silo and the headless silo both call it, so they cannot drift.
/// Everything is driven by configuration (see README, Configuration).
/// </summary>
public static class ProductSilo
{
    public static bool IsEmbedded(IConfiguration configuration) => string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis"));

    /// <summary>Redis client settings shared by clustering, storage, reminders and the readiness check.</summary>
    public static ConfigurationOptions RedisOptions(IConfiguration configuration)
    {
        var options = ConfigurationOptions.Parse(configuration.GetConnectionString("Redis")!);
        // Keep reconnecting in the background, and while Redis is down fail commands at once instead of queueing
        // them: a request then answers 503 quickly and nothing is acknowledged that was not written.
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        return options;
    }

    public static ISiloBuilder ConfigureProductSilo(this ISiloBuilder silo, IConfiguration configuration, ILogger? startupLog = null)
    {
        var cluster = StartupOptions.Read<ClusterOptions>(configuration, ClusterOptions.Section);
        var (clusterId, serviceId, siloPort, gatewayPort) = (cluster.ClusterId, cluster.ServiceId, cluster.SiloPort, cluster.GatewayPort);

        if (IsEmbedded(configuration))
        {
            if (cluster.Kubernetes == true)
            {
                throw new OptionsValidationException(ClusterOptions.Section, typeof(ClusterOptions),
                    ["Orleans:Kubernetes needs ConnectionStrings:Redis: silos in pods form their cluster through Redis."]);
            }

            startupLog?.LogWarning(
                "Embedded mode: no ConnectionStrings:Redis, so grain state, reminders and streams are in memory and are NOT durable. " +
                "Everything is lost when this process stops. Set ConnectionStrings:Redis for a durable cluster.");
            silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: serviceId, clusterId: clusterId);
            silo.AddProcessMemoryGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME);
            silo.AddProcessMemoryGrainStorage(SessionOptions.Storage);
            silo.AddProcessMemoryGrainStorage(RoomOptions.Storage);
            silo.UseInMemoryReminderService();
        }
        else
        {
            var redis = RedisOptions(configuration);
            startupLog?.LogInformation("Cluster mode: Redis clustering, grain state and reminders at {Redis}", redis.ToString(includePassword: false));
            silo.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
            if (KubernetesMode.IsOn(configuration, cluster))
            {
                startupLog?.LogInformation("Kubernetes: the pod's address, name and labels give this silo its endpoint and identity");
                silo.UseProductKubernetesHosting(configuration, cluster);
            }
            else
            {
                var advertised = IPAddress.Parse(cluster.AdvertisedIP);
                silo.ConfigureEndpoints(advertised, siloPort, gatewayPort, listenOnAnyHostAddress: advertised.Equals(IPAddress.Any));
            }

            silo.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
            silo.AddRedisGrainStorageAsDefault(o => o.ConfigurationOptions = redis.Clone());
            // Idle sessions are deleted with ClearStateAsync: without DeleteStateOnClear it would leave an empty record.
            // (Not Redis' entry expiry: that deletes behind a live activation's back.)
            silo.AddRedisGrainStorage(SessionOptions.Storage, o =>
            {
                o.ConfigurationOptions = redis.Clone();
                o.DeleteStateOnClear = true;
            });
            // A room's replaced message pages are deleted with ClearStateAsync (the same reason).
            silo.AddRedisGrainStorage(RoomOptions.Storage, o =>
            {
                o.ConfigurationOptions = redis.Clone();
                o.DeleteStateOnClear = true;
            });
            silo.UseRedisReminderService(o => o.ConfigurationOptions = redis.Clone());
        }

        // Plain System.Text.Json state (both modes): readable in redis-cli, no $type names tied to CLR type names,
        // and cheaper than the Newtonsoft default.
        silo.UseSystemTextJsonGrainStorageSerializer();
        // Live events (SSE) fan out per API silo through memory streams. They are hints, not records: subscribers fill
        // gaps from the grains, so neither the queues nor the subscriptions (PubSubStore) need to be durable, in any mode.
        // Orleans' own binary serializer: its stream pub-sub state is not System.Text.Json-serialisable.
        silo.Services.AddGrainStorage("PubSubStore", (services, _) => ActivatorUtilities.CreateInstance<ProcessMemoryGrainStorage>(services,
            (IGrainStorageSerializer)new OrleansGrainStorageSerializer(services.GetRequiredService<Orleans.Serialization.Serializer>())));
        silo.AddMemoryStreams(LiveStreams.Provider, streams =>
        {
            streams.ConfigurePartitioning(2);
            streams.ConfigurePullingAgent(o => o.Configure(a => a.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(50)));
        });
        // Stall detection ticks every HeartbeatTimeout / 3 (5 s by default), below Orleans' one-minute default floor.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        // The dashboard's live log stream shows every log line of the silo: off unless an operator turns it on.
        silo.AddDashboard(o => o.HideTrace = !configuration.GetValue("Dashboard:LiveLog", false));
        DashboardProfilerGate.Install(silo.Services, startupLog);
        silo.Services.AddProductGrainServices(configuration);
        silo.Services.AddBoundedShutdown();
        silo.AddProductTelemetry(configuration);
        return silo;
    }

    /// <summary>Adds a <see cref="ProcessMemoryGrainStorage"/> under <paramref name="name"/>.</summary>
    public static ISiloBuilder AddProcessMemoryGrainStorage(this ISiloBuilder silo, string name)
    {
        silo.Services.AddGrainStorage(name, (services, _) => ActivatorUtilities.CreateInstance<ProcessMemoryGrainStorage>(services));
        return silo;
    }

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from <paramref name="section"/> and validates it (DataAnnotations and
    /// <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/>) when the host starts, before the silo
    /// joins the cluster: a bad value stops the process with a message naming the key instead of failing requests later.
    /// </summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class =>
        services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateDataAnnotations().ValidateOnStart();

    /// <summary>Options and services the grains need; also used by test clusters that bring their own storage.</summary>
    public static IServiceCollection AddProductGrainServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<JobOptions>(configuration, JobOptions.Section);
        services.AddValidatedOptions<LectureOptions>(configuration, LectureOptions.Section);
        services.AddValidatedOptions<AgentOptions>(configuration, AgentOptions.Section);
        services.AddValidatedOptions<RoomOptions>(configuration, RoomOptions.Section);
        services.AddResponder<AgentOptions>(AgentOptions.Section);
        services.AddValidatedOptions<SessionOptions>(configuration, SessionOptions.Section);
        services.AddValidatedOptions<RateLimitOptions>(configuration, RateLimitOptions.Section);
        services.AddResponder<SessionOptions>(SessionOptions.ResponderKey);
        services.AddSingleton<GlobalRateLimiter>();
        // Stored text unescaped: the default encoder writes every character outside ASCII as a six-byte \uXXXX escape.
        // The store is no HTML page, so the relaxed encoder (which still escapes what JSON requires) is the right one.
        services.Configure<SystemTextJsonGrainStorageSerializerOptions>(o => o.JsonSerializerOptions.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        // The system clock, without Orleans' sub-millisecond busy waits (SiloClock).
        services.AddSingleton<TimeProvider>(SiloClock.Instance);
        services.AddKeyedSingleton(RateLimitOptions.Clock, (sp, _) => sp.GetRequiredService<TimeProvider>());
        return services;
    }
}
