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

    /// <summary>The request timeout of the message route: a wait-mode send is given Sessions' wait budget.</summary>
    public const string SessionMessages = "session-messages";

    public static WebApplicationBuilder AddEdgeProtection(this WebApplicationBuilder builder)
    {
        var edge = StartupOptions.Read<EdgeOptions>(builder.Configuration, EdgeOptions.Section);
        // A wait-mode message, also one that waits in the queue, is answered with its outcome, never cut by the edge:
        // its route is given (MaxQueue + 1) x ResponseTimeout + 15 s (Sessions' wait budget, validated at start).
        var sessions = StartupOptions.Read<Grains.Sessions.SessionOptions>(builder.Configuration, Grains.Sessions.SessionOptions.Section);
        var waitBudget = TimeSpan.FromTicks(Math.Max(edge.RequestTimeout.Ticks, sessions.WaitBudget.Ticks));
        var anonymous = StartupOptions.Read<AuthOptions>(builder.Configuration, AuthOptions.Section).Keys.Count == 0;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestHeaderCount = 64;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.Limits.MaxRequestLineSize = 8 * 1024;
        });
        // Made once: a factory that captured the options would be a new delegate on every request.
        Func<string, RateLimiter> perKey = _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = edge.RequestsPerSecond,
            TokensPerPeriod = edge.RequestsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
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
            o.GlobalLimiter = anonymous ? null : PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartition.Get(Partition(http), perKey));
            o.AddPolicy(EventStreams, http => anonymous
                ? RateLimitPartition.GetNoLimiter("anonymous")
                : RateLimitPartition.GetConcurrencyLimiter(Partition(http), _ => new ConcurrencyLimiterOptions { PermitLimit = edge.EventStreamsPerKey, QueueLimit = 0 }));
        });
        builder.Services.AddRequestTimeouts(o =>
        {
            o.DefaultPolicy = TimeoutPolicy(edge.RequestTimeout);
            o.AddPolicy(SessionMessages, TimeoutPolicy(waitBudget));
        });
        return builder;
    }

    /// <summary>A Server-Sent Events route: no request timeout, a cap on open streams per key.</summary>
    public static IEndpointConventionBuilder AsEventStream(this RouteHandlerBuilder builder) =>
        builder.RequireRateLimiting(EventStreams).DisableRequestTimeout();

    private static RequestTimeoutPolicy TimeoutPolicy(TimeSpan timeout) => new()
    {
        Timeout = timeout,
        WriteTimeoutResponse = http => Problems.WriteAsync(http, 503, "unavailable", "Service unavailable", "The request took too long. Retry later.").AsTask(),
    };

    /// <summary>The rate-limit partition of the key with configured index <paramref name="keyId"/>.</summary>
    public static string KeyPartition(string keyId) => "key:" + keyId;

    private static string Partition(HttpContext http) => http.User.Identity is ApiKeyIdentity key ? key.Partition
        : ApiKeyAuthentication.PartitionKey(http) is { } keyId ? KeyPartition(keyId) : "ip:" + http.Connection.RemoteIpAddress;
}
