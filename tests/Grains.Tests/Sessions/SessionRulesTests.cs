using Lectures.Grains.Common;
using Lectures.Grains.RateLimiting;
using Lectures.Grains.Sessions;

namespace Lectures.Grains.Tests.Sessions;

/// <summary>The session rules as pure functions: no cluster, no clock, no store.</summary>
public sealed class SessionRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly SessionOptions Drop = new();
    private static readonly SessionOptions Queue = new() { BusyPolicy = BusyPolicy.Queue, MaxQueue = 2, MaxHistory = 10, MaxReplyChars = 100 };

    private static SessionState Accept(SessionState s, string id, SessionOptions options) =>
        SessionRules.Accept(s, id, $"question {id}", T0, T0.ToUnixTimeMilliseconds() * 1000, options).Next;

    [Fact]
    public void A_message_to_a_free_session_is_in_flight_and_a_busy_one_is_refused_or_queued_by_policy()
    {
        var busy = Accept(SessionState.Empty, "a", Drop);
        Assert.Equal(("a", true), (busy.ActiveRequestId, busy.Exists));
        Assert.Equal(Admission.Busy, SessionRules.Admit(busy, Drop));

        var queued = Accept(Accept(Accept(SessionState.Empty, "a", Queue), "b", Queue), "c", Queue);
        Assert.Equal(["b", "c"], queued.Queue);
        Assert.Equal([RequestStatus.Processing, RequestStatus.Queued, RequestStatus.Queued], queued.History.Select(e => e.Status));
        Assert.Equal(Admission.QueueFull, SessionRules.Admit(queued, Queue));
    }

    [Fact]
    public void Finishing_the_request_in_flight_stores_the_reply_and_starts_the_next_in_the_same_step_and_a_late_result_changes_nothing()
    {
        var s = Accept(Accept(SessionState.Empty, "a", Queue), "b", Queue);
        var finished = SessionRules.Finish(s, "a", RequestStatus.Completed, "an answer", T0.AddSeconds(3), Queue);

        Assert.Equal("b", finished.ActiveRequestId);
        Assert.Empty(finished.Queue);
        Assert.Equal([(HistoryRole.User, RequestStatus.Completed), (HistoryRole.User, RequestStatus.Processing), (HistoryRole.Assistant, RequestStatus.Completed)],
            finished.History.Select(e => (e.Role, e.Status)));
        Assert.Same(finished, SessionRules.Finish(finished, "a", RequestStatus.Failed, null, T0.AddSeconds(4), Queue));
        Assert.Equal("a", s.ActiveRequestId);
    }

    [Fact]
    public void A_reply_longer_than_MaxReplyChars_is_cut_and_ends_with_the_marker()
    {
        var s = SessionRules.Finish(Accept(SessionState.Empty, "a", Queue), "a", RequestStatus.Completed, new string('x', 500), T0, Queue);
        var reply = s.History[^1].Text;
        Assert.Equal(Queue.MaxReplyChars, reply.Length);
        Assert.EndsWith(SessionRules.CutMarker, reply);
    }

    [Fact]
    public void Clear_empties_history_and_queue_in_one_step_and_moves_the_history_start_past_every_entry()
    {
        var s = Accept(Accept(SessionState.Empty, "a", Queue), "b", Queue);
        var cleared = SessionRules.Clear(s, T0);
        Assert.Equal((null, 0, 0, 2L), (cleared.ActiveRequestId, cleared.Queue.Count, cleared.History.Count, cleared.HistoryStart));
        Assert.Equal(RequestStatus.Cancelled, SessionRules.Outcome(cleared, "a")!.Status);
    }

    [Fact]
    public void Trimming_keeps_MaxHistory_entries_and_never_drops_a_queued_or_processing_one()
    {
        var s = SessionState.Empty;
        for (var i = 0; i < 8; i++)
        {
            s = Accept(s, $"r{i}", Queue);
            s = SessionRules.Finish(s, $"r{i}", RequestStatus.Completed, "ok", T0, Queue);
        }

        Assert.Equal(10, s.History.Count);
        Assert.Equal(6, s.HistoryStart);
        s = Accept(Accept(Accept(s, "p", Queue), "q1", Queue), "q2", Queue);
        Assert.Equal(10, s.History.Count);
        Assert.Equal(["p", "q1", "q2"], s.History.TakeLast(3).Select(e => e.RequestId));
    }

    [Fact]
    public void A_session_created_after_its_deletion_starts_its_event_ids_at_its_incarnation_above_the_old_ones()
    {
        var deleted = SessionState.Empty with { EventSeq = 42 };
        var incarnation = T0.ToUnixTimeMilliseconds() * 1000;
        var created = SessionRules.Accept(deleted, "a", "hello", T0, incarnation, Drop).Next;
        Assert.Equal((incarnation, incarnation), (created.Incarnation, created.EventSeq));
        Assert.True(created.EventSeq > deleted.EventSeq);
    }

    [Fact]
    public void A_request_is_lost_only_after_its_deadline_and_its_report_deadline()
    {
        var s = Accept(SessionState.Empty, "a", Drop);
        Assert.False(SessionRules.IsLost(s, T0 + Drop.ResponseTimeout, Drop));
        Assert.False(SessionRules.IsLost(s, T0 + Drop.LostAfter - TimeSpan.FromMilliseconds(1), Drop));
        Assert.True(SessionRules.IsLost(s, T0 + Drop.LostAfter, Drop));
        Assert.True(Drop.LostAfter + Drop.RecoveryPeriod <= Drop.ResponseTimeout + TimeSpan.FromSeconds(15), "detected within ResponseTimeout + 15 s");
    }

    [Fact]
    public void The_users_bucket_is_taken_on_a_copy_and_an_empty_one_says_when_to_retry()
    {
        var limits = new TokenBucketOptions { TokenLimit = 2, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromSeconds(1) };
        var s = SessionState.Empty;
        var (one, ok1, _) = SessionRules.TakeToken(s, limits, T0);
        var (two, ok2, _) = SessionRules.TakeToken(one, limits, T0);
        var (_, ok3, retry) = SessionRules.TakeToken(two, limits, T0);
        Assert.Equal((true, true, false), (ok1, ok2, ok3));
        Assert.Equal(TimeSpan.FromSeconds(1), retry);
        Assert.Equal(0, s.BucketTokens);
    }
}
