using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Orleans.Core.Internal;

namespace Lectures.Grains.Tests.Sessions;

/// <summary>A client resuming a session's events with Last-Event-ID gets the replies it missed from the history, not a snapshot.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionReplayTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(25);

    private static async Task<RequestOutcome> Outcome(IUserSessionGrain session, string requestId) =>
        await session.WaitAsync(requestId, Deadline) ?? throw new Xunit.Sdk.XunitException($"{requestId} did not end within {Deadline}");

    [Fact]
    public async Task A_client_resuming_after_the_session_reactivated_gets_every_missed_reply_once_in_order_then_the_status()
    {
        var session = fixture.Grains.GetGrain<IUserSessionGrain>(Keys.New("resume"));
        var first = await session.SendAsync("the first question");
        await Outcome(session, first.RequestId!);
        var resumeFrom = (await session.GetEventsAsync(-1)).Events.Max(e => e.Id);
        var second = await session.SendAsync("the second question");
        await Outcome(session, second.RequestId!);
        var third = await session.SendAsync("the third question");
        await Outcome(session, third.RequestId!);
        await session.Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var events = (await session.GetEventsAsync(resumeFrom)).Events;
        var replies = events.Where(e => e.Type == "reply").ToList();
        Assert.Equal([second.RequestId, third.RequestId], replies.Select(e => e.Data.RequestId));
        var history = (await session.GetAsync()).History.Where(e => e.Role == HistoryRole.Assistant).Select(e => e.Text).ToList();
        Assert.Equal(history.Skip(1), replies.Select(e => e.Data.Reply));
        Assert.All(replies, e => Assert.Equal(RequestStatus.Completed, e.Data.Status));
        Assert.Equal("status", Assert.Single(events, e => e.Type == "status").Type);
        Assert.Equal(events.Select(e => e.Id).Distinct().Order(), events.Select(e => e.Id));
        Assert.All(events, e => Assert.True(e.Id > resumeFrom));

        // From the first missed reply on: the second reply only, then the status.
        var tail = (await session.GetEventsAsync(replies[0].Id)).Events;
        Assert.Equal([third.RequestId], tail.Where(e => e.Type == "reply").Select(e => e.Data.RequestId));
        Assert.Equal("status", tail[^1].Type);
        Assert.Empty((await session.GetEventsAsync(events.Max(e => e.Id))).Events);
    }
}
