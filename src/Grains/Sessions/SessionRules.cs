using System.Collections.Immutable;
using Lectures.Grains.Common;
using Lectures.Grains.RateLimiting;

namespace Lectures.Grains.Sessions;

public enum Admission { Process, Queue, Busy, QueueFull }

/// <summary>
/// The rules of a session (API.md, User sessions) as pure functions over an immutable <see cref="SessionState"/>: each
/// returns the next state (the same instance when nothing changes). No I/O and no clock of their own, so every rule is
/// tested without a cluster; <see cref="UserSessionGrain"/> only commits what they return.
/// </summary>
public static class SessionRules
{
    /// <summary>The end of a reply cut at <c>Sessions:MaxReplyChars</c>.</summary>
    public const string CutMarker = "\n[reply cut at Sessions:MaxReplyChars]";

    /// <summary>Takes one token of the user's bucket (wall-clock time: the bucket is stored and read on any silo).</summary>
    public static (SessionState Next, bool Admitted, TimeSpan RetryAfter) TakeToken(SessionState s, TokenBucketOptions options, DateTimeOffset now)
    {
        var bucket = new TokenBucket { Tokens = s.BucketTokens, UpdatedAt = s.BucketUpdatedAt };
        var admitted = bucket.TryTake(options, now, out var retryAfter);
        return (s with { BucketTokens = bucket.Tokens, BucketUpdatedAt = bucket.UpdatedAt }, admitted, retryAfter);
    }

    public static Admission Admit(SessionState s, SessionOptions options) =>
        s.ActiveRequestId is null && s.Queue.IsEmpty ? Admission.Process
        : options.BusyPolicy == BusyPolicy.Drop ? Admission.Busy
        : s.Queue.Count < options.MaxQueue ? Admission.Queue
        : Admission.QueueFull;

    /// <summary>
    /// Records an accepted request: in flight when the session is free, else at the end of the queue. A session created
    /// now (new, or after its deletion) starts its event ids at <paramref name="incarnation"/>. Returns its position.
    /// </summary>
    public static (SessionState Next, int Position) Accept(SessionState s, string requestId, string text, DateTimeOffset now, long incarnation,
        SessionOptions options)
    {
        if (!s.Exists)
        {
            s = s with { Exists = true, CreatedAt = now, Incarnation = incarnation, EventSeq = Math.Max(s.EventSeq, incarnation) };
        }

        var processing = Admit(s, options) == Admission.Process;
        var entry = new HistoryEntry(HistoryRole.User, text, requestId, processing ? RequestStatus.Processing : RequestStatus.Queued, now);
        s = Trim(s with { LastActiveAt = now, History = s.History.Add(entry) }, options.MaxHistory);
        return processing
            ? (s with { ActiveRequestId = requestId, ActiveSince = now }, 0)
            : (s with { Queue = s.Queue.Add(requestId) }, s.Queue.Count + 1);
    }

    /// <summary>
    /// Ends the request in flight with <paramref name="status"/> and moves the next queued one in flight, in one step.
    /// The same state when <paramref name="requestId"/> is no longer in flight: a late reply for a cancelled or cleared
    /// request is discarded here.
    /// </summary>
    public static SessionState Finish(SessionState s, string requestId, RequestStatus status, string? reply, DateTimeOffset now, SessionOptions options)
    {
        if (s.ActiveRequestId != requestId)
        {
            return s;
        }

        var history = SetStatus(s.History, requestId, status);
        if (status == RequestStatus.Completed)
        {
            var text = GenerationWorkerGrain.Cut(reply ?? "", options.MaxReplyChars, CutMarker);
            history = history.Add(new HistoryEntry(HistoryRole.Assistant, text, requestId, RequestStatus.Completed, now));
        }

        return PromoteNext(Trim(s with { History = history, ActiveRequestId = null, ActiveSince = null, LastActiveAt = now }, options.MaxHistory), now);
    }

    /// <summary>Moves the first queued request in flight when the session is free.</summary>
    public static SessionState PromoteNext(SessionState s, DateTimeOffset now)
    {
        if (s.ActiveRequestId is not null || s.Queue.IsEmpty)
        {
            return s;
        }

        var next = s.Queue[0];
        return s with { Queue = s.Queue.RemoveAt(0), ActiveRequestId = next, ActiveSince = now, History = SetStatus(s.History, next, RequestStatus.Processing) };
    }

    /// <summary>Empties the history, drops the queue and ends the request in flight, in one step.</summary>
    public static SessionState Clear(SessionState s, DateTimeOffset now) =>
        s with
        {
            ActiveRequestId = null, ActiveSince = null, Queue = [], History = [], HistoryStart = s.HistoryStart + s.History.Count, LastActiveAt = now,
            TrimmedEventId = Math.Max(s.TrimmedEventId, s.History.Select(e => e.EventId).DefaultIfEmpty(0).Max()),
        };

    /// <summary>Whether the request in flight has outlived its deadline and its report's: its generation is lost.</summary>
    public static bool IsLost(SessionState s, DateTimeOffset now, SessionOptions options) =>
        s.ActiveRequestId is not null && (s.ActiveSince ?? DateTimeOffset.MinValue) + options.LostAfter <= now;

    /// <summary>Whether the session may be deleted: nothing in flight or queued, and idle for <c>Sessions:IdleExpiry</c>.</summary>
    public static bool IsExpired(SessionState s, DateTimeOffset now, SessionOptions options) =>
        s.Exists && s.ActiveRequestId is null && s.Queue.IsEmpty && now - s.LastActiveAt >= options.IdleExpiry;

    /// <summary>The outcome of a request as the history shows it; null while it is queued or processing.</summary>
    public static RequestOutcome? Outcome(SessionState s, string requestId)
    {
        if (Entry(s, requestId) is not { } entry)
        {
            // Cleared (or expired) meanwhile: its reply can never land.
            return new RequestOutcome(requestId, RequestStatus.Cancelled, null);
        }

        if (entry.Status is RequestStatus.Queued or RequestStatus.Processing)
        {
            return null;
        }

        var reply = entry.Status == RequestStatus.Completed
            ? s.History.FindLast(e => e.Role == HistoryRole.Assistant && e.RequestId == requestId)?.Text
            : null;
        return new RequestOutcome(requestId, entry.Status, reply);
    }

    /// <summary>The prompt: a system line, the latest completed exchanges before this request, and the request itself.</summary>
    public static PromptMessage[] Prompt(SessionState s, string requestId, int contextMessages)
    {
        var index = s.History.FindIndex(e => e.Role == HistoryRole.User && e.RequestId == requestId);
        var context = s.History.Take(Math.Max(0, index))
            .Where(e => e.Status == RequestStatus.Completed)
            .TakeLast(contextMessages)
            .Select(e => new PromptMessage(e.Role == HistoryRole.User ? PromptRole.User : PromptRole.Assistant, e.Text));
        return
        [
            new(PromptRole.System, "Medical-education tutor\nAnswer the student's question clearly and accurately; say when something needs a clinician."),
            .. context,
            new(PromptRole.User, index >= 0 ? s.History[index].Text : ""),
        ];
    }

    public static SessionView View(SessionState s, string userId) => new(userId, s.ActiveRequestId is not null, s.ActiveRequestId, s.Queue.Count,
        s.History.Select(e => e.View()).ToList(), s.CreatedAt, s.LastActiveAt);

    /// <summary>The event that stands for every event a client missed: the session's status as of now.</summary>
    public static ChangeEvent<SessionEvent> Snapshot(SessionState s, DateTimeOffset now) => new(s.EventSeq, "status", Event(s, null, null, null, now));

    /// <summary>A live event about <paramref name="requestId"/>, with the session's status after the change.</summary>
    public static SessionEvent Event(SessionState s, string? requestId, RequestStatus? status, string? reply, DateTimeOffset now) =>
        new(requestId, status, reply, s.ActiveRequestId is not null, s.ActiveRequestId, s.Queue.Count, now);

    /// <summary>What a generation's outcome makes of its request.</summary>
    public static RequestStatus StatusOf(GenerationOutcome outcome) => outcome switch
    {
        GenerationOutcome.Reply => RequestStatus.Completed,
        GenerationOutcome.Timeout => RequestStatus.Timeout,
        _ => RequestStatus.Failed,
    };

    public static HistoryEntry? Entry(SessionState s, string requestId) =>
        s.History.FindLast(e => e.Role == HistoryRole.User && e.RequestId == requestId);

    private static ImmutableList<HistoryEntry> SetStatus(ImmutableList<HistoryEntry> history, string requestId, RequestStatus status)
    {
        var index = history.FindLastIndex(e => e.Role == HistoryRole.User && e.RequestId == requestId);
        return index < 0 ? history : history.SetItem(index, history[index] with { Status = status });
    }

    private static SessionState Trim(SessionState s, int maxHistory)
    {
        // Never drops an entry of a request that is still queued or in flight.
        var drop = 0;
        while (s.History.Count - drop > maxHistory && s.History[drop].Status is not (RequestStatus.Queued or RequestStatus.Processing))
        {
            drop++;
        }

        return drop == 0 ? s : s with
        {
            History = s.History.RemoveRange(0, drop), HistoryStart = s.HistoryStart + drop,
            TrimmedEventId = Math.Max(s.TrimmedEventId, s.History.Take(drop).Select(e => e.EventId).DefaultIfEmpty(0).Max()),
        };
    }

    /// <summary>
    /// Marks the reply to <paramref name="requestId"/> (the assistant entry) with the id of the <c>reply</c> event it is
    /// published under, so a client that missed the event gets it again from the history.
    /// </summary>
    public static SessionState MarkReplyEvent(SessionState s, string requestId, long eventId)
    {
        var index = s.History.FindLastIndex(e => e.Role == HistoryRole.Assistant && e.RequestId == requestId);
        return index < 0 ? s : s with { History = s.History.SetItem(index, s.History[index] with { EventId = eventId }) };
    }

    /// <summary>
    /// What a client that saw events up to <paramref name="afterId"/> missed, from the history: every reply it missed
    /// that the history still holds, once each and in order, then (if it missed other events too) the status
    /// <paramref name="snapshot"/>; the snapshot alone when the gap reaches a reply that was dropped, or replies stored
    /// before they recorded their event ids.
    /// </summary>
    public static IReadOnlyList<ChangeEvent<SessionEvent>> Replay(SessionState s, long afterId, ChangeEvent<SessionEvent> snapshot)
    {
        var replies = s.History.Where(e => e.Role == HistoryRole.Assistant && e.Status == RequestStatus.Completed).ToList();
        if (afterId < 0 || afterId < s.TrimmedEventId || replies.Any(e => e.EventId == 0))
        {
            return [snapshot];
        }

        var stored = replies.Where(e => e.EventId > afterId).OrderBy(e => e.EventId)
            .Select(e => new ChangeEvent<SessionEvent>(e.EventId, "reply", snapshot.Data with { RequestId = e.RequestId, Status = RequestStatus.Completed, Reply = e.Text }))
            .ToList();
        return EventReplay.Fill(stored, afterId, snapshot);
    }
}
