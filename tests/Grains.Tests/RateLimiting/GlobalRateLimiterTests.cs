using Lectures.Grains.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.Tests.RateLimiting;

[Collection(RateLimitClusterCollection.Name)]
public sealed class GlobalRateLimiterTests(RateLimitClusterFixture fixture)
{
    private static readonly TimeSpan Trickle = TimeSpan.FromMilliseconds(400);

    private int TokenLimit =>
        fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<IOptions<RateLimitOptions>>().Value.Global.TokenLimit;

    [Fact]
    public async Task A_silo_never_holds_more_than_its_lease_after_a_minute_of_trickle()
    {
        var limiter = fixture.Limiter;
        // Whatever another test left: its leases expire and the bucket refills.
        fixture.Clock.Advance(TimeSpan.FromMinutes(1));

        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromMinutes(1); elapsed += Trickle)
        {
            Assert.True((await limiter.TryAcquireAsync()).Admitted, $"refused at {elapsed} of the trickle");
            await limiter.LeaseSettled();
            fixture.Clock.Advance(Trickle);
        }

        // Time stands still: nothing refills, so what passes is what the silo held plus what the bucket had.
        var admitted = await BurstAsync(limiter);

        // The trickle ran at a quarter of the refill rate, so the bucket is full; the silo adds at most its lease.
        Assert.InRange(admitted, TokenLimit, TokenLimit * 11 / 10);
    }

    [Fact]
    public async Task A_backward_step_of_the_wall_clock_does_not_make_a_silo_refuse_messages()
    {
        var limiter = fixture.Limiter;
        fixture.Clock.Advance(TimeSpan.FromMinutes(1));
        await BurstAsync(limiter);
        var refused = await limiter.TryAcquireAsync();
        Assert.False(refused.Admitted);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1));

        // The wall clock is set back an hour while two seconds pass: 20 tokens refill at 10 per second.
        fixture.Clock.StepWallClock(TimeSpan.FromHours(-1));
        fixture.Clock.Advance(TimeSpan.FromSeconds(2));

        var first = await limiter.TryAcquireAsync();
        Assert.True(first.Admitted, $"refused with Retry-After {first.RetryAfter} after the wall clock stepped back an hour");
        Assert.InRange(1 + await BurstAsync(limiter), 19, 21);
    }

    /// <summary>Acquires with the clock stopped until the limiter refuses; returns how many passed.</summary>
    private async Task<int> BurstAsync(GlobalRateLimiter limiter)
    {
        var admitted = 0;
        for (var i = 0; i < TokenLimit * 10; i++)
        {
            if (!(await limiter.TryAcquireAsync()).Admitted)
            {
                return admitted;
            }

            admitted++;
        }

        return admitted;
    }
}
