using System.ComponentModel.DataAnnotations;
using Lectures.Api.Infrastructure;
using Lectures.Grains.Hosting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;

namespace Lectures.Api.Security;

/// <summary>Bound from <c>Api:Cors</c>: the exact origins whose pages may call the API (none: no CORS headers at all).</summary>
public sealed class CorsOriginOptions : IValidatableObject
{
    public const string Section = "Api:Cors";

    public List<string> Origins { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        for (var n = 0; n < Origins.Count; n++)
        {
            // An origin is scheme://host[:port] exactly as a browser sends it: no path, no trailing slash, no wildcard.
            if (!Uri.TryCreate(Origins[n], UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || !string.Equals(uri.GetLeftPart(UriPartial.Authority), Origins[n], StringComparison.OrdinalIgnoreCase)
                || Origins[n].EndsWith('/'))
            {
                yield return new($"Api:Cors:Origins:{n} must be an origin such as https://chat.example.com (scheme, host and port only).", [nameof(Origins)]);
            }
        }
    }
}

/// <summary>
/// What pages on other origins need: CORS (ASP.NET Core's middleware, the origins of <see cref="CorsOriginOptions"/>)
/// and stream tickets (<see cref="StreamTickets"/>), protected with ASP.NET Core Data Protection. In cluster mode its
/// key ring lives in Redis, so a ticket issued by one API silo opens its stream on any other; embedded mode has one
/// silo and keeps the ring in memory.
/// </summary>
public static class BrowserAccess
{
    /// <summary>Headers a page may send: the key headers, JSON bodies, preconditions, idempotency, and SSE resumption.</summary>
    public static readonly string[] AllowedHeaders = ["Authorization", ApiKeyAuthentication.HeaderName, "Content-Type", "If-Match", "Idempotency-Key", "Last-Event-ID"];

    /// <summary>Response headers a page may read.</summary>
    public static readonly string[] ExposedHeaders = ["ETag", "Location", "Retry-After"];

    /// <summary>The log category whose request lines include the URL's query string.</summary>
    public const string TicketBearingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static WebApplicationBuilder AddBrowserAccess(this WebApplicationBuilder builder)
    {
        var origins = StartupOptions.Read<CorsOriginOptions>(builder.Configuration, CorsOriginOptions.Section).Origins;
        if (origins.Count > 0)
        {
            builder.Services.AddCors(o => o.AddDefaultPolicy(policy => policy.WithOrigins([.. origins])
                .WithMethods("GET", "POST", "PUT", "DELETE").WithHeaders(AllowedHeaders).WithExposedHeaders(ExposedHeaders)
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10))));
        }

        var cluster = StartupOptions.Read<ClusterOptions>(builder.Configuration, ClusterOptions.Section);
        var protection = builder.Services.AddDataProtection().SetApplicationName($"lectures-backend/{cluster.ServiceId}");
        if (string.IsNullOrEmpty(builder.Configuration.GetConnectionString("Redis")))
        {
            protection.UseEphemeralDataProtectionProvider();
        }
        else
        {
            // The readiness check's connection, so the key ring costs no connection of its own.
            var key = $"{cluster.ServiceId}/data-protection-keys";
            builder.Services.AddOptions<KeyManagementOptions>().Configure<RedisHealthConnection>((o, redis) =>
                o.XmlRepository = new RedisXmlRepository(() => redis.Get().GetDatabase(), key));
        }

        builder.Services.AddSingleton<StreamTickets>();
        // ASP.NET's "Request starting/finished" lines carry the query string, so a ticket: never written, whatever the
        // configured levels (this rule is added after the configuration's, so it wins for its category). Off, not
        // Warning: while this logger is on at all, ASP.NET Core starts an Activity on every request (for the log
        // scopes' trace id), which cost more than anything this category writes above Information (docs/benchmarks.md).
        builder.Logging.AddFilter(TicketBearingCategory, LogLevel.None);
        return builder;
    }

    /// <summary>CORS first, so preflights are answered before anything else and every answer (errors too) carries its headers.</summary>
    public static WebApplication UseBrowserAccess(this WebApplication app)
    {
        if (app.Services.GetService<Microsoft.AspNetCore.Cors.Infrastructure.ICorsService>() is not null)
        {
            app.UseCors();
        }

        return app;
    }
}
