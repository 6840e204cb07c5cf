using System.Reflection;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Diagnostics;

namespace Lectures.Grains.Hosting;

/// <summary>
/// Traces, metrics and logs over OTLP, the same in both hosts (README, Telemetry). Only when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set: otherwise no tracer provider, no activity listener and no grain call
/// filter exist, so tracing costs nothing. The exporter itself reads the standard <c>OTEL_*</c> settings.
/// </summary>
public static class ProductTelemetry
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meters both hosts export (the API silo also serves them to Prometheus, see ApiSetup).</summary>
    public static readonly string[] Meters = ["Microsoft.Orleans", DomainMetrics.MeterName,
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics", "Microsoft.AspNetCore.RateLimiting"];

    /// <summary>
    /// Instruments updated several times per request or grain message, which cost more CPU than they tell an operator
    /// (docs/benchmarks.md): not collected, so nothing records them. Request duration, grain calls and latency
    /// (<c>orleans-app-requests-latency</c>), storage latency, activations, rate-limit outcomes and failures stay.
    /// </summary>
    private static readonly string[] PerMessageInstruments =
    [
        "orleans-messaging-processing-", "orleans-messaging-sent-local", "orleans-messaging-sent-header-size",
        "orleans-messaging-received-header-size", "orleans-messaging-sent-messages-size", "orleans-messaging-received-messages-size",
        "orleans-directory-lookups-", "aspnetcore.rate_limiting.request_lease.duration", "aspnetcore.rate_limiting.active_request_leases",
    ];

    public static bool IsEnabled(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[EndpointKey]);

    public static ISiloBuilder AddProductTelemetry(this ISiloBuilder silo, IConfiguration configuration)
    {
        if (!IsEnabled(configuration))
        {
            return silo;
        }

        // Orleans' own spans: a grain call on both sides (client and server), and each read and write of grain state.
        silo.AddActivityPropagation();
        silo.Services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                // Aspire and operators name the service with OTEL_SERVICE_NAME; without it, the host's name (Api, Silo).
                if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"]))
                {
                    r.AddService(Assembly.GetEntryAssembly()?.GetName().Name ?? "lectures");
                }
            })
            .WithTracing(tracing => tracing
                .AddSource(ActivitySources.ApplicationGrainActivitySourceName, ActivitySources.RuntimeActivitySourceName,
                    ActivitySources.StorageActivitySourceName)
                // Probes and scrapes are not requests anybody waits for. No request header is recorded (an API key).
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.Filter = http => !IsOperational(http.Request.Path);
                    o.EnrichWithHttpRequest = (activity, request) => RedactQuery(activity, request.Query);
                }))
            .WithMetrics(metrics => metrics.AddProductMeters())
            .WithLogging()
            .UseOtlpExporter();
        return silo;
    }

    /// <summary>The product's meters (<see cref="Meters"/>) without the per-message instruments.</summary>
    public static MeterProviderBuilder AddProductMeters(this MeterProviderBuilder metrics) => metrics
        .AddMeter(Meters)
        .AddView(i => PerMessageInstruments.Any(p => i.Name.StartsWith(p, StringComparison.Ordinal)) ? MetricStreamConfiguration.Drop : null);

    /// <summary>
    /// The query string without its values (<c>?ticket=Redacted</c>): a stream ticket opens a stream, so it never goes into
    /// a span. The instrumentation redacts values too, but a setting turns that off, and Aspire sets it for every project.
    /// </summary>
    private static void RedactQuery(System.Diagnostics.Activity activity, IQueryCollection query)
    {
        if (query.Count > 0)
        {
            activity.SetTag("url.query", string.Join('&', query.Keys.Select(k => $"{Uri.EscapeDataString(k)}=Redacted")));
        }
    }

    private static bool IsOperational(PathString path) => path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics");
}
