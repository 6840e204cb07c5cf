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

    [Fact]
    public void A_users_bucket_counts_a_backward_step_of_the_wall_clock_as_no_time_passed()
    {
        var bucket = new TokenBucket();
        var t0 = DateTimeOffset.UnixEpoch.AddDays(1);
        Assert.Equal(20, bucket.Take(Options, t0, 100, out _));

        // An hour back: the step refills nothing, and the wait is one token's, not the hour.
        var stepped = t0.AddHours(-1);
        Assert.False(bucket.TryTake(Options, stepped, out var retry));
        Assert.Equal(TimeSpan.FromSeconds(1), retry);

        // Time passing after the step counts again.
        Assert.Equal(2, bucket.Take(Options, stepped.AddSeconds(2.5), 5, out _));
    }
}
