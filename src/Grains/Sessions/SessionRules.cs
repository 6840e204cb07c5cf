using Microsoft.Extensions.AI;

namespace Lectures.Grains.Sessions;

public enum Admission { Process, Queue, Busy, QueueFull }

/// <summary>
/// The rules of a session as pure functions over its state: no awaits, so the grain applies each one as a single
/// step (the busy check and the mark, a cancel, a clear) and nothing can interleave inside it.
/// </summary>
public static class SessionRules
{
    public static Admission Admit(UserSessionState s, SessionOptions options) =>
        s.ActiveRequestId is null && s.Queue.Count == 0 ? Admission.Process
        : options.BusyPolicy == BusyPolicy.Drop ? Admission.Busy
        : s.Queue.Count < options.MaxQueue ? Admission.Queue
        : Admission.QueueFull;

    /// <summary>Records an accepted request: in flight when the session is free, else at the end of the queue. Returns its position.</summary>
    public static int Accept(UserSessionState s, string requestId, string text, bool processing, DateTimeOffset now, int maxHistory)
    {
        if (!s.Exists)
        {
            s.Exists = true;
            s.CreatedAt = now;
        }

        s.LastActiveAt = now;
        s.History.Add(new HistoryEntry
        {
            Role = HistoryRole.User, Text = text, RequestId = requestId, At = now,
            Status = processing ? RequestStatus.Processing : RequestStatus.Queued,
        });
        Trim(s, maxHistory);
        if (processing)
        {
            s.ActiveRequestId = requestId;
            s.ActiveSince = now;
            return 0;
        }

        s.Queue.Add(requestId);
        return s.Queue.Count;
    }

    /// <summary>
    /// Ends the request in flight with <paramref name="status"/>. False (nothing changed) when <paramref name="requestId"/>
    /// is no longer the one in flight: a late reply for a cancelled or cleared request is discarded here.
    /// </summary>
    public static bool Finish(UserSessionState s, string requestId, RequestStatus status, string? reply, DateTimeOffset now, int maxHistory)
    {
        if (s.ActiveRequestId != requestId)
        {
            return false;
        }

        if (Entry(s, requestId) is { } entry)
        {
            entry.Status = status;
        }

        if (status == RequestStatus.Completed)
        {
            s.History.Add(new HistoryEntry { Role = HistoryRole.Assistant, Text = reply ?? "", RequestId = requestId, Status = RequestStatus.Completed, At = now });
            Trim(s, maxHistory);
        }

        s.ActiveRequestId = null;
        s.ActiveSince = null;
        s.LastActiveAt = now;
        return true;
    }

    /// <summary>Moves the first queued request in flight, in the same step that freed the session. Returns its id.</summary>
    public static string? PromoteNext(UserSessionState s, DateTimeOffset now)
    {
        if (s.ActiveRequestId is not null || s.Queue.Count == 0)
        {
            return null;
        }

        var next = s.Queue[0];
        s.Queue.RemoveAt(0);
        s.ActiveRequestId = next;
        s.ActiveSince = now;
        if (Entry(s, next) is { } entry)
        {
            entry.Status = RequestStatus.Processing;
        }

        return next;
    }

    /// <summary>Empties the history, drops the queue and ends the request in flight, in one step. Returns what was cancelled.</summary>
    public static (string? Active, List<string> Queued) Clear(UserSessionState s, DateTimeOffset now)
    {
        var active = s.ActiveRequestId;
        var queued = s.Queue.ToList();
        s.ActiveRequestId = null;
        s.ActiveSince = null;
        s.Queue.Clear();
        s.History.Clear();
        s.LastActiveAt = now;
        return (active, queued);
    }

    /// <summary>The outcome of a request as the history shows it; null while it is queued or processing.</summary>
    public static RequestOutcome? Outcome(UserSessionState s, string requestId)
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
            ? s.History.LastOrDefault(e => e.Role == HistoryRole.Assistant && e.RequestId == requestId)?.Text
            : null;
        return new RequestOutcome(requestId, entry.Status, reply);
    }

    /// <summary>The prompt: a system line, the latest completed exchanges before this request, and the request itself.</summary>
    public static List<ChatMessage> Prompt(UserSessionState s, string requestId, int contextMessages)
    {
        var index = s.History.FindIndex(e => e.Role == HistoryRole.User && e.RequestId == requestId);
        var context = s.History.Take(Math.Max(0, index))
            .Where(e => e.Status == RequestStatus.Completed)
            .TakeLast(contextMessages)
            .Select(e => new ChatMessage(e.Role == HistoryRole.User ? ChatRole.User : ChatRole.Assistant, e.Text));
        var prompt = new List<ChatMessage>
        {
            new(ChatRole.System, "Medical-education tutor\nAnswer the student's question clearly and accurately; say when something needs a clinician."),
        };
        prompt.AddRange(context);
        prompt.Add(new ChatMessage(ChatRole.User, index >= 0 ? s.History[index].Text : ""));
        return prompt;
    }

    public static HistoryEntry? Entry(UserSessionState s, string requestId) =>
        s.History.FindLast(e => e.Role == HistoryRole.User && e.RequestId == requestId);

    private static void Trim(UserSessionState s, int maxHistory)
    {
        // Never drops an entry of a request that is still queued or in flight.
        while (s.History.Count > maxHistory && s.History[0].Status is not (RequestStatus.Queued or RequestStatus.Processing))
        {
            s.History.RemoveAt(0);
        }
    }
}
