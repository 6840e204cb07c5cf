using Lectures.Api.Errors;
using Lectures.Api.Validation;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Lectures.Grains.Hosting;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;

namespace Lectures.Api.Security;

/// <summary>Bound from <c>Api:Edge</c>: request rate per key, open event streams per key, request timeout.</summary>
public sealed class EdgeOptions
{
    public const string Section = "Api:Edge";

    /// <summary>Requests per second per API key (per client IP for requests without a valid key); also the burst.</summary>
    [Range(1, 10_000_000, ErrorMessage = "Api:Edge:RequestsPerSecond must be from 1 to 10000000.")]
    public int RequestsPerSecond { get; set; } = 100_000;

    [Range(1, 1_000_000, ErrorMessage = "Api:Edge:EventStreamsPerKey must be from 1 to 1000000.")]
    public int EventStreamsPerKey { get; set; } = 1_000;

    /// <summary>Longest a non-streaming request may take; never below Sessions:ResponseTimeout + 15 s (the longest wait the contract allows).</summary>
    [Range(typeof(TimeSpan), "00:00:05", "00:10:00", ErrorMessage = "Api:Edge:RequestTimeout must be from 00:00:05 to 00:10:00.")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// ASP.NET Core's own middleware at the edge: a token bucket per API key (per client IP without a valid key; off in
/// anonymous loopback mode), a cap on open event streams per key, request timeouts on every non-streaming route, and
/// explicit header limits. Rejections are problem documents (429 <c>rate_limited</c> with <c>Retry-After</c>).
/// </summary>
public static class EdgeProtection
{
    public const string EventStreams = "event-streams";

    public static WebApplicationBuilder AddEdgeProtection(this WebApplicationBuilder builder)
    {
        var edge = StartupOptions.Read<EdgeOptions>(builder.Configuration, EdgeOptions.Section);
        // A wait-mode message may take Sessions:ResponseTimeout: its request is never cut before that, plus a margin.
        var sessions = StartupOptions.Read<Grains.Sessions.SessionOptions>(builder.Configuration, Grains.Sessions.SessionOptions.Section);
        var requestTimeout = TimeSpan.FromTicks(Math.Max(edge.RequestTimeout.Ticks, (sessions.ResponseTimeout + TimeSpan.FromSeconds(15)).Ticks));
        var anonymous = StartupOptions.Read<AuthOptions>(builder.Configuration, AuthOptions.Section).Keys.Count == 0;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestHeaderCount = 64;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.Limits.MaxRequestLineSize = 8 * 1024;
        });
        builder.Services.AddRateLimiter(o =>
        {
            o.OnRejected = async (context, _) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Problems.WriteAsync(context.HttpContext, 429, "rate_limited", "Too many requests", "Slow down and retry after Retry-After seconds.");
            };
            // Anonymous loopback mode has no keys to limit by: no global limiter at all (not one that admits everything,
            // which still costs a partition lookup and a lease per request).
            o.GlobalLimiter = anonymous ? null : PartitionedRateLimiter.Create<HttpContext, string>(http =>
                RateLimitPartition.GetTokenBucketLimiter(Partition(http), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = edge.RequestsPerSecond,
                    TokensPerPeriod = edge.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                }));
            o.AddPolicy(EventStreams, http => anonymous
                ? RateLimitPartition.GetNoLimiter("anonymous")
                : RateLimitPartition.GetConcurrencyLimiter(Partition(http), _ => new ConcurrencyLimiterOptions { PermitLimit = edge.EventStreamsPerKey, QueueLimit = 0 }));
        });
        builder.Services.AddRequestTimeouts(o => o.DefaultPolicy = new RequestTimeoutPolicy
        {
            Timeout = requestTimeout,
            WriteTimeoutResponse = http => Problems.WriteAsync(http, 503, "unavailable", "Service unavailable", "The request took too long. Retry later.").AsTask(),
        });
        return builder;
    }

    /// <summary>A Server-Sent Events route: no request timeout, a cap on open streams per key.</summary>
    public static IEndpointConventionBuilder AsEventStream(this RouteHandlerBuilder builder) =>
        builder.RequireRateLimiting(EventStreams).DisableRequestTimeout();

    private static string Partition(HttpContext http) =>
        ApiKeyAuthentication.PartitionKey(http) is { } key ? "key:" + key : "ip:" + http.Connection.RemoteIpAddress;
}
