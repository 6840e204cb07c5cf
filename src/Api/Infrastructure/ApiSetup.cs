using Lectures.Api.LiveUpdates;
using Lectures.Api.Errors;
using Lectures.Api.Validation;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lectures.Grains.Common;
using Lectures.Api.Security;
using Lectures.Grains.Hosting;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;
using Scalar.AspNetCore;

namespace Lectures.Api.Infrastructure;

/// <summary>Bound from <c>Api</c>.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    [System.ComponentModel.DataAnnotations.Range(1024L, 64L * 1024 * 1024, ErrorMessage = "Api:MaxBodyBytes must be from 1024 to 67108864.")]
    public long MaxBodyBytes { get; set; } = 256 * 1024;
}

public static class ApiSetup
{
    /// <summary>The API silo: Orleans (shared configuration), JSON, problem details, OpenAPI, health, metrics.</summary>
    public static WebApplicationBuilder AddApiSilo(this WebApplicationBuilder builder)
    {
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls("http://127.0.0.1:8080");
        }

        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        using (var startupLog = LoggerFactory.Create(l => l.AddConsole()))
        {
            var log = startupLog.CreateLogger("Lectures.Api");
            builder.AddApiSecurity(log);
            builder.UseOrleans(silo => silo.ConfigureProductSilo(builder.Configuration, log));
        }

        builder.AddEdgeProtection();
        builder.AddBrowserAccess();
        var maxBody = StartupOptions.Read<ApiOptions>(builder.Configuration, ApiOptions.Section).MaxBodyBytes;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxBody);
        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = maxBody);

        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
            // "50" is not a number: wrong JSON types are refused, not coerced.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Bad bodies throw, so the exception handler answers them with a problem document that says what was wrong.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.AddCode);
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        // Request records declare their rules (DataAnnotations, IValidatableObject); the framework checks them before a handler runs.
        builder.Services.AddValidation();
        ValidationCache.Install(builder.Services);
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();

        builder.Services.AddSingleton<GrainLookup>();
        builder.Services.AddSingleton(services => new LiveFeeds(() => services.GetRequiredService<IClusterClient>().GetStreamProvider(LiveStreams.Provider),
            services.GetRequiredService<ILogger<LiveFeeds>>()));
        builder.Services.AddSingleton<DeltaFeeds>();
        builder.Services.AddProductOpenApi();
        builder.Services.AddSingleton<RedisHealthConnection>();
        builder.Services.AddHealthChecks()
            .AddCheck<SiloReadyCheck>("silo", tags: ["ready"])
            .AddCheck<StorageReadyCheck>("storage", tags: ["ready"]);
        // The same meters as the OTLP export (ProductTelemetry), served to Prometheus.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddProductMeters()
            .AddPrometheusExporter());
        return builder;
    }

    public static WebApplication UseApiPipeline(this WebApplication app)
    {
        app.UseBrowserAccess();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseRequestTimeouts();
        return app;
    }

    /// <summary>Health, OpenAPI and its reference UI, the Orleans dashboard and Prometheus metrics.</summary>
    public static WebApplication MapOperations(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealthAsync })
            .ExcludeFromDescription().AllowAnonymous().DisableRateLimiting();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealthAsync })
            .ExcludeFromDescription().AllowAnonymous().DisableRateLimiting();
        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference("/api-reference", o => o.WithTitle("Lectures backend API")).AllowAnonymous();
        app.MapGet("/", () => Results.Redirect("/api-reference")).ExcludeFromDescription().AllowAnonymous();
        // The dashboard shows grain state and has no authentication of its own: admin keys only (its assets and APIs too).
        app.MapOrleansDashboard(routePrefix: "/dashboard").ExcludeFromDescription().RequireAuthorization(Access.Admin);
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(Access.Admin);
        return app;
    }

    private static Task WriteHealthAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                data = e.Value.Data,
            }),
        });
    }
}
