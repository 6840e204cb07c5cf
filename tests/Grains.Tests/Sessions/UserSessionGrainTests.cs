using System.Diagnostics;
using Lectures.Grains.Common;
using Lectures.Grains.RateLimiting;
using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Lectures.Grains.Tests.Sessions;

[Collection(ClusterCollection.Name)]
public sealed class UserSessionGrainTests(ClusterFixture fixture)
{
    private IUserSessionGrain Session(string userId) => fixture.Grains.GetGrain<IUserSessionGrain>(userId);

    [Fact]
    public async Task Ten_concurrent_messages_for_one_user_accept_exactly_one_and_refuse_nine_as_busy()
    {
        for (var iteration = 0; iteration < 5; iteration++)
        {
            var session = Session(Keys.New("busy"));
            var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
            {
                try
                {
                    return (await session.SendAsync($"message {i}")).Outcome.ToString();
                }
                catch (DomainException refusal)
                {
                    return refusal.Code;
                }
            }));

            Assert.Equal(1, results.Count(r => r == nameof(SendOutcome.Accepted)));
            Assert.Equal(9, results.Count(r => r == SessionErrors.Busy));
            var view = await session.GetAsync();
            Assert.True(view.Processing);
            Assert.Single(view.History);
        }
    }

    [Fact]
    public async Task Reads_and_cancel_are_served_while_a_reply_is_being_generated()
    {
        var session = Session(Keys.New("interleave"));
        var sent = await session.SendAsync("explain the cardiac cycle");
        Assert.Equal(RequestStatus.Processing, sent.Status);

        var clock = Stopwatch.StartNew();
        var view = await session.GetAsync();
        var cancelled = await session.CancelAsync();
        clock.Stop();

        Assert.True(view.Processing);
        Assert.True(cancelled.Cancelled);
        Assert.Equal(sent.RequestId, cancelled.RequestId);
        // The model needs SessionLatency (2 s); the grain answered both calls long before, so it was not blocked.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"read and cancel took {clock.Elapsed}");
        var after = await session.GetAsync();
        Assert.False(after.Processing);
        Assert.Equal(RequestStatus.Cancelled, after.History.Single().Status);
        Assert.Equal(SendOutcome.Accepted, (await session.SendAsync("next")).Outcome);
    }

    [Fact]
    public async Task Clear_during_generation_empties_the_history_and_no_late_reply_lands_in_it()
    {
        var session = Session(Keys.New("clear"));
        var first = await session.SendAsync("first");
        Assert.Equal(RequestStatus.Completed, (await session.WaitAsync(first.RequestId!, TimeSpan.FromSeconds(15)))!.Status);
        var second = await session.SendAsync("second");
        var waiting = session.WaitAsync(second.RequestId!, TimeSpan.FromSeconds(15));

        var cleared = await session.ClearAsync();

        Assert.True(cleared.Cancelled);
        Assert.True(cleared.Cleared);
        Assert.Equal(RequestStatus.Cancelled, (await waiting)!.Status);
        Assert.Empty((await session.GetAsync()).History);
        // Wait past the time the model would have answered the cleared request: its reply must not land.
        await Task.Delay(ClusterFixture.SessionLatency + TimeSpan.FromSeconds(1));
        var view = await session.GetAsync();
        Assert.Empty(view.History);
        Assert.False(view.Processing);
    }

    [Fact]
    public async Task A_completed_reply_lands_in_the_history_with_the_request_as_context()
    {
        var session = Session(Keys.New("reply"));
        var first = await session.SendAsync("what is a murmur");
        var outcome = await session.WaitAsync(first.RequestId!, TimeSpan.FromSeconds(15));
        Assert.Equal(RequestStatus.Completed, outcome!.Status);
        Assert.Contains("what is a murmur", outcome.Reply);

        var second = await session.SendAsync("and a gallop");
        var reply = (await session.WaitAsync(second.RequestId!, TimeSpan.FromSeconds(15)))!.Reply;
        // System line, the first exchange (2), the new question.
        Assert.Contains("4 messages of context", reply);
        var history = (await session.GetAsync()).History;
        Assert.Equal([HistoryRole.User, HistoryRole.Assistant, HistoryRole.User, HistoryRole.Assistant], history.Select(e => e.Role));
        Assert.All(history, e => Assert.Equal(RequestStatus.Completed, e.Status));
    }

    [Fact]
    public async Task A_burst_of_thirty_messages_from_one_user_gets_about_ten_rate_limit_refusals_with_a_retry_time()
    {
        var session = Session(Keys.New("burst"));
        var results = new List<SendResult?>();
        for (var i = 0; i < 30; i++)
        {
            try
            {
                results.Add(await session.SendAsync($"m{i}"));
            }
            catch (DomainException refusal) when (refusal.Code == SessionErrors.Busy)
            {
                results.Add(null);
            }
        }

        var limited = results.Where(r => r?.Outcome == SendOutcome.RateLimitedUser).ToList();
        // 20 tokens, plus at most a couple refilled (1/s) while the burst runs.
        Assert.InRange(limited.Count, 7, 10);
        Assert.All(limited, r => Assert.True(r!.RetryAfter > TimeSpan.Zero));
        Assert.DoesNotContain(results, r => r?.Outcome == SendOutcome.RateLimitedGlobal);
    }

    [Fact]
    public async Task The_global_bucket_admits_no_more_than_it_allows_across_users_on_two_silos()
    {
        try
        {
            var limiters = fixture.Cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<GlobalRateLimiter>()).ToList();
            var leasedBefore = limiters.Select(l => l.Leased).ToList();
            var callsBefore = limiters.Select(l => l.LeaseCalls).ToList();
            var clock = Stopwatch.StartNew();
            var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Session(Keys.New($"global{i}")).SendAsync("hello")));
            clock.Stop();

            var admitted = results.Count(r => r.Outcome == SendOutcome.Accepted);
            var limited = results.Count(r => r.Outcome == SendOutcome.RateLimitedGlobal);
            // 100 tokens, 10 per second. Earlier tests spent some, so fewer may pass, never more.
            var allowed = 100 + (int)Math.Ceiling(clock.Elapsed.TotalSeconds * 10);
            Assert.InRange(admitted, 1, allowed);
            Assert.Equal(400, admitted + limited);
            Assert.All(results.Where(r => r.Outcome == SendOutcome.RateLimitedGlobal), r => Assert.True(r.RetryAfter > TimeSpan.Zero));
            // The users' grains lived on both silos: each silo asked the one global bucket (which of them got the tokens is a
            // race), and together they admitted no more than it released.
            Assert.All(limiters.Select((l, i) => l.LeaseCalls - callsBefore[i]), calls => Assert.True(calls > 0));
            Assert.True(limiters.Sum(l => l.Leased) - leasedBefore.Sum() <= allowed);
        }
        finally
        {
            // Leave a full bucket to the tests after this one (100 tokens at 10/s).
            await Task.Delay(TimeSpan.FromSeconds(10));
        }
    }
}
