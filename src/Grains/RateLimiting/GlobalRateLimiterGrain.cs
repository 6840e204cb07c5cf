using Lectures.Grains.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.RateLimiting;

/// <summary>
/// The cluster-wide bucket. Its state is in memory only: the bucket is a rate, not a record, and a write per lease
/// would make the hottest path a Redis round trip. After a failover the new activation starts full (see README).
/// </summary>
public sealed class GlobalRateLimiterGrain(
    IOptions<RateLimitOptions> options,
    [FromKeyedServices(RateLimitOptions.Clock)] TimeProvider clock) : Grain, IGlobalRateLimiterGrain
{
    private readonly TokenBucket _bucket = new();
    // The bucket only compares the times it is given, so it runs on a monotonic time line (activation start plus the
    // time elapsed since): a wall-clock step back would otherwise stop its refill for the length of the step.
    private readonly long _started = clock.GetTimestamp();

    public Task<TokenLease> LeaseAsync(int wanted)
    {
        var granted = _bucket.Take(options.Value.Global, DateTimeOffset.UnixEpoch + clock.GetElapsedTime(_started), Math.Max(1, wanted), out var retryAfter);
        return Task.FromResult(new TokenLease(granted, retryAfter));
    }
}
