using System.Diagnostics;
using Lectures.Grains.Common;
using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Orleans.Core.Internal;

namespace Lectures.Grains.Tests.Sessions;

/// <summary>The session defects of issue 19 (point 3) and the reminder strategy (point 1.5), each a race the old grain lost.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionDefectTests(ClusterFixture fixture)
{
    // Below Orleans' 30 s response timeout: a wait is one grain call.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(25);

    private IUserSessionGrain Session(string userId) => fixture.Grains.GetGrain<IUserSessionGrain>(userId);

    private static async Task<RequestOutcome> Outcome(IUserSessionGrain session, string requestId) =>
        await session.WaitAsync(requestId, Deadline) ?? throw new Xunit.Sdk.XunitException($"{requestId} did not end within {Deadline}");

    [Fact]
    public async Task A_message_racing_the_idle_deletion_is_processed_in_a_fresh_session_and_the_deleted_history_never_comes_back()
    {
        var session = Session(Keys.New("expiry-race"));
        var gate = WriteGate.Of(session);
        var old = await session.SendAsync("an old question that expires");
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, old.RequestId!)).Status);

        // The idle check deletes the session; its deletion is held in the store while a new message arrives.
        var deletion = gate.HoldNextClear();
        await deletion.Reached.WaitAsync(ClusterFixture.SessionIdleExpiry + Deadline);
        var sending = session.SendAsync("a new question during the deletion");
        await Task.WhenAny(sending, Task.Delay(TimeSpan.FromMilliseconds(500)));
        deletion.Release();
        var sent = await sending;

        Assert.Equal(SendOutcome.Accepted, sent.Outcome);
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, sent.RequestId!)).Status);
        var view = await session.GetAsync();
        Assert.Equal([sent.RequestId, sent.RequestId], view.History.Select(e => e.RequestId));
        // What the store holds after the deletion of the session's record: the new request, and never the deleted history.
        var cleared = gate.Writes.ToList().FindIndex(w => w.StateName == "session" && w.Json == WriteGate.Cleared && w.IsStored);
        Assert.True(cleared >= 0, "the session's record was deleted");
        var after = gate.Writes.Skip(cleared + 1).Where(w => w.IsStored && w.Json != WriteGate.Cleared).ToList();
        Assert.NotEmpty(after);
        Assert.DoesNotContain(after, w => w.Json.Contains("an old question", StringComparison.Ordinal));
        Assert.Contains(after, w => w.Json.Contains(sent.RequestId!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_recovery_tick_while_an_accepted_message_is_being_written_does_not_fail_it()
    {
        var session = Session(Keys.New("recovery-race"));
        var gate = WriteGate.Of(session);
        // The first message makes the session register its recovery check.
        var first = await session.SendAsync("first");
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, first.RequestId!)).Status);

        // The next accept's write is held past a recovery tick (every 5 s at a 20 s response timeout).
        var held = gate.HoldNext();
        var sending = session.SendAsync("second");
        await held.Reached.WaitAsync(Deadline);
        await Task.Delay(TimeSpan.FromSeconds(7));
        held.Release();
        var sent = await sending;

        Assert.Equal(SendOutcome.Accepted, sent.Outcome);
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, sent.RequestId!)).Status);
    }

    [Fact]
    public async Task A_message_whose_check_registration_fails_is_accepted_and_answered()
    {
        var session = Session(Keys.New("reminder-fails"));
        ReminderGate.Of(session).FailNext(4);

        var sent = await session.SendAsync("a question while the reminder table refuses writes");

        Assert.Equal(SendOutcome.Accepted, sent.Outcome);
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, sent.RequestId!)).Status);
        Assert.Equal(SendOutcome.Accepted, (await session.SendAsync("and the session is free again")).Outcome);
    }

    [Fact]
    public async Task A_read_during_a_send_answers_in_under_a_second_while_the_reminder_table_takes_five()
    {
        var session = Session(Keys.New("reminder-slow"));
        var reminders = ReminderGate.Of(session);
        reminders.DelayWrites(TimeSpan.FromSeconds(5));

        var sending = session.SendAsync("a question that needs the recovery check");
        await reminders.Arrived.WaitAsync(Deadline);
        var clock = Stopwatch.StartNew();
        var cancelled = await session.CancelAsync();
        clock.Stop();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the cancel took {clock.Elapsed}");
        var sent = await sending;
        Assert.Equal(SendOutcome.Accepted, sent.Outcome);
        Assert.True(cancelled.Cancelled);
    }

    [Fact]
    public async Task Event_ids_of_a_session_created_after_its_idle_deletion_continue_above_the_deleted_ones()
    {
        var session = Session(Keys.New("event-ids"));
        var gate = WriteGate.Of(session);
        var old = await session.SendAsync("before the deletion");
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, old.RequestId!)).Status);
        var lastOld = (await session.GetEventsAsync(0)).Events.Max(e => e.Id);

        await Eventually.Poll(() => Task.FromResult(gate.Writes.Any(w => w.Json == WriteGate.Cleared && w.IsStored)), deleted => deleted,
            ClusterFixture.SessionIdleExpiry + Deadline, "the idle session deleted");
        var sent = await session.SendAsync("after the deletion");
        Assert.Equal(RequestStatus.Completed, (await Outcome(session, sent.RequestId!)).Status);

        // A client still connected (or resuming) with the old incarnation's last id gets every new event.
        var events = (await session.GetEventsAsync(lastOld)).Events;
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.True(e.Id > lastOld, $"event {e.Id} ({e.Type}) is not above {lastOld}"));
        Assert.Contains(events, e => e.Type == "reply" && e.Data.RequestId == sent.RequestId);
    }
}

/// <summary>A failed write of a session: answered as unavailable, nothing of it stored, and the session reloaded from the store.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionStoreFailureTests(ClusterFixture fixture)
{
    [Fact]
    public async Task A_message_whose_page_write_fails_is_refused_as_unavailable_and_the_session_serves_again_from_what_is_stored()
    {
        var session = fixture.Grains.GetGrain<IUserSessionGrain>(Keys.New("write-fails"));
        var gate = WriteGate.Of(session);
        var first = await session.SendAsync("stored question");
        Assert.Equal(RequestStatus.Completed, (await session.WaitAsync(first.RequestId!, TimeSpan.FromSeconds(20)))?.Status);

        gate.FailNext();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => session.SendAsync("never stored"));

        // The broken activation goes away by itself; the next one reads what is stored.
        var view = await Eventually.Poll(async () =>
        {
            try
            {
                return await session.GetAsync();
            }
            catch (StorageUnavailableException)
            {
                return null;
            }
        }, v => v is not null, TimeSpan.FromSeconds(10), "the session served again");
        Assert.Equal([first.RequestId, first.RequestId], view!.History.Select(e => e.RequestId));
        Assert.DoesNotContain(view.History, e => e.Text.Contains("never stored", StringComparison.Ordinal));
        var again = await session.SendAsync("next question");
        Assert.Equal(RequestStatus.Completed, (await session.WaitAsync(again.RequestId!, TimeSpan.FromSeconds(20)))?.Status);
    }
}

/// <summary>Sessions that queue (point 3.5): a deactivation loses neither the request in flight nor a queued one.</summary>
[Collection(QueueClusterCollection.Name)]
public sealed class SessionQueueTests(QueueClusterFixture fixture)
{
    [Fact]
    public async Task Deactivating_a_session_with_a_queue_loses_neither_the_request_in_flight_nor_the_queued_one()
    {
        for (var iteration = 0; iteration < 3; iteration++)
        {
            var session = fixture.Grains.GetGrain<IUserSessionGrain>(Keys.New("deactivated"));
            var first = await session.SendAsync("in flight");
            var second = await session.SendAsync("queued");
            Assert.Equal(RequestStatus.Processing, first.Status);
            Assert.Equal(RequestStatus.Queued, second.Status);

            await session.Cast<IGrainManagementExtension>().DeactivateOnIdle();

            foreach (var request in new[] { first, second })
            {
                var outcome = await session.WaitAsync(request.RequestId!, TimeSpan.FromSeconds(25));
                Assert.Equal(RequestStatus.Completed, outcome?.Status);
            }
        }
    }
}
