using Lectures.Grains.RateLimiting;

namespace Lectures.Grains.Tests.Sessions;

public sealed class TokenBucketTests
{
    private static readonly TokenBucketOptions Options = new() { TokenLimit = 20, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromSeconds(1) };

    [Fact]
    public void A_new_bucket_is_full_then_refills_at_its_rate_and_never_beyond_its_limit()
    {
        var bucket = new TokenBucket();
        var t0 = DateTimeOffset.UnixEpoch.AddDays(1);
        Assert.Equal(20, bucket.Take(Options, t0, 100, out _));
        Assert.False(bucket.TryTake(Options, t0, out var retry));
        Assert.Equal(TimeSpan.FromSeconds(1), retry);
        Assert.Equal(2, bucket.Take(Options, t0.AddSeconds(2.5), 5, out _));
        Assert.Equal(20, bucket.Take(Options, t0.AddHours(1), 100, out _));
    }
}
