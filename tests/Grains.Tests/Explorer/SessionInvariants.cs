using System.Text.Json;
using Lectures.Grains.Common;
using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// DESIGN.md's invariant 3 and its neighbours, judged on a settled session run: on every write the store took (in its
/// order, from the gate's record), on the session as stored, and on what each caller was answered.
/// </summary>
public static class SessionInvariants
{
    private const int MaxQueue = 3;

    public static IEnumerable<string> All(SessionOutcome o)
    {
        var s = new Store(o.Writes);
        return EveryAcceptedRequestEndsExactlyOnce(o, s)
            .Concat(AtMostOneRequestInFlight(o))
            .Concat(ACancelledRequestWasCancelledOrCleared(o, s))
            .Concat(AFailedRequestHadSomethingFail(o, s))
            .Concat(NothingLandsAfterAClearOrADeletion(o, s))
            .Concat(RefusalsRestOnWrittenState(o, s))
            .Concat(CompletedExchangesAreKept(o, s))
            .Concat(FailuresAreRefusalsOrStorageUnavailable(o));
    }

    /// <summary>Every 202 ends in one stored terminal status, the one its caller is answered; none is acknowledged and then lost.</summary>
    public static IEnumerable<string> EveryAcceptedRequestEndsExactlyOnce(SessionOutcome o, Store s)
    {
        foreach (var (call, id) in Accepted(o))
        {
            var ended = s.Terminal(id);
            var waited = o.Outcomes.GetValueOrDefault(id);
            if (ended.Count > 1)
            {
                yield return $"{Name(call)} ({id}) was stored with {ended.Count} outcomes: {string.Join(", ", ended)}";
            }

            if (s.Replies(id) > 1)
            {
                yield return $"{Name(call)} ({id}) has {s.Replies(id)} replies in one stored page";
            }

            if (waited?.Outcome is not { } outcome)
            {
                yield return $"{Name(call)} ({id}): its caller got no outcome within {SessionRun.OutcomeDeadline}";
                continue;
            }

            if (outcome.Status != RequestStatus.Cancelled && !ended.Contains(outcome.Status))
            {
                yield return $"{Name(call)} ({id}): its caller was answered {outcome.Status}, the store has [{string.Join(", ", ended)}]";
            }

            if (ended.Count == 0 && !ClearedDuring(o, call.Start, waited.At))
            {
                yield return $"{Name(call)} ({id}) was accepted (202) and then lost: no outcome was ever stored and nothing cleared it (its caller was answered {outcome.Status})";
            }
        }
    }

    public static IEnumerable<string> AtMostOneRequestInFlight(SessionOutcome o) =>
        o.MostConcurrentCalls > 1 ? [$"the user had {o.MostConcurrentCalls} generations in flight at once"] : [];

    /// <summary>Cancelled only by a cancel that named it or a clear while it lived; a cancel that named it stored it as cancelled.</summary>
    public static IEnumerable<string> ACancelledRequestWasCancelledOrCleared(SessionOutcome o, Store s)
    {
        foreach (var (call, id) in Accepted(o))
        {
            var ended = s.Terminal(id);
            var until = o.Outcomes.GetValueOrDefault(id)?.At ?? DateTime.MaxValue;
            var namedBy = o.Calls.Where(c => c.Result is CancelResult { Cancelled: true } r && r.RequestId == id).ToList();
            if (ended.Contains(RequestStatus.Cancelled) && namedBy.Count == 0 && !ClearedDuring(o, call.Start, until))
            {
                yield return $"{Name(call)} ({id}) was stored cancelled, but no cancel named it and no clear came while it lived";
            }

            if (namedBy.Count > 0 && !ended.SequenceEqual([RequestStatus.Cancelled]))
            {
                yield return $"{Name(call)} ({id}): {namedBy[0]} answered it cancelled, the store has [{string.Join(", ", ended)}]";
            }
        }
    }

    /// <summary>Failed only when its responder failed, or its session or worker was deactivated while it lived (a lost generation).</summary>
    public static IEnumerable<string> AFailedRequestHadSomethingFail(SessionOutcome o, Store s)
    {
        foreach (var (call, id) in Accepted(o).Where(a => s.Terminal(a.Id).Contains(RequestStatus.Failed)))
        {
            var until = o.Outcomes.GetValueOrDefault(id)?.At ?? DateTime.MaxValue;
            var throws = ((SessionOp.Send)call.Op).Marker.Contains("[throws]", StringComparison.Ordinal);
            var deactivated = o.Calls.Any(c => c.Op is SessionOp.Injected { Fault: Fault.Deactivate } && c.Overlaps(call.Start, until));
            if (!throws && !deactivated)
            {
                yield return $"{Name(call)} ({id}) failed, but its responder did not fail and nothing was deactivated while it lived";
            }
        }
    }

    /// <summary>After a clear (its answer) or an idle deletion (its write), no write stores a request that was sent before it.</summary>
    public static IEnumerable<string> NothingLandsAfterAClearOrADeletion(SessionOutcome o, Store s)
    {
        var clears = o.Calls.Where(c => c.Result is ClearResult { Cleared: true }).Select(c => (Kind: $"the clear {c}", From: c.Start, After: c.End));
        var deletions = s.Deletions.Select(at => (Kind: $"the deletion stored at {at:HH:mm:ss.fff}", From: at, After: at));
        foreach (var (kind, from, after) in clears.Concat(deletions))
        {
            foreach (var (call, id) in Accepted(o).Where(a => s.FirstStored(a.Id) is { } first && first < from))
            {
                if (s.StoredAfter(id, after) is { } landed)
                {
                    yield return $"{Name(call)} ({id}), stored before {kind}, was written again after it at {landed:HH:mm:ss.fff}";
                }
            }
        }
    }

    /// <summary>A busy refusal names a request that was written; a full queue had its places taken by accepted requests.</summary>
    public static IEnumerable<string> RefusalsRestOnWrittenState(SessionOutcome o, Store s)
    {
        foreach (var call in o.Calls.Where(c => c.Op is SessionOp.Send))
        {
            if (call.Error is DomainException { Code: SessionErrors.Busy } busy)
            {
                var active = busy.Extensions?.GetValueOrDefault("activeRequestId") ?? "";
                if (s.FirstStored(active) is not { } written || written > call.End)
                {
                    yield return $"{call}: refused as busy with request '{active}', which was not written";
                }
            }

            if (call.Result is SendResult { Outcome: SendOutcome.QueueFull })
            {
                var living = Accepted(o).Count(a => a.Call.Start <= call.End && (o.Outcomes.GetValueOrDefault(a.Id)?.At ?? DateTime.MaxValue) >= call.Start);
                if (living < MaxQueue + 1)
                {
                    yield return $"{call}: refused as queue full while only {living} accepted requests lived";
                }
            }
        }
    }

    /// <summary>A completed exchange stays in the stored history unless a clear or a deletion came after it.</summary>
    public static IEnumerable<string> CompletedExchangesAreKept(SessionOutcome o, Store s)
    {
        foreach (var (call, id) in Accepted(o).Where(a => s.Terminal(a.Id).SequenceEqual([RequestStatus.Completed])))
        {
            var gone = o.Calls.Any(c => c.Result is ClearResult { Cleared: true } && c.End >= call.Start) || s.Deletions.Any(d => d >= s.FirstStored(id));
            var kept = o.Stored?.History.Where(e => e.RequestId == id).ToList() ?? [];
            if (!gone && !(kept.Any(e => e.Role == HistoryRole.User && e.Status == RequestStatus.Completed) && kept.Any(e => e.Role == HistoryRole.Assistant)))
            {
                yield return $"{Name(call)} ({id}) completed and nothing cleared it, but the stored history has [{string.Join(", ", kept.Select(e => $"{e.Role} {e.Status}"))}]";
            }
        }
    }

    /// <summary>
    /// Every call is answered, refused with a domain refusal, or fails as the API's 503s: storage unavailable, or a
    /// message Orleans rejected unrun (its activation kept going away: failed writes deactivate it). Nothing else.
    /// </summary>
    public static IEnumerable<string> FailuresAreRefusalsOrStorageUnavailable(SessionOutcome o) =>
        o.Calls.Where(c => c.Error is not null and not DomainException and not StorageUnavailableException and not OrleansMessageRejectionException)
            .Select(c => $"{c}: failed with {c.Error}");

    private static IEnumerable<(Call Call, string Id)> Accepted(SessionOutcome o) =>
        o.Calls.Where(c => c.Result is SendResult { Outcome: SendOutcome.Accepted }).Select(c => (c, ((SendResult)c.Result!).RequestId!));

    private static bool ClearedDuring(SessionOutcome o, DateTime from, DateTime to) =>
        o.Calls.Any(c => c.Result is ClearResult { Cleared: true } && c.Overlaps(from, to));

    private static string Name(Call call) => $"#{call.Step} {call.Op}";

    /// <summary>
    /// The writes the store took, in its order: each request's stored statuses, the deletions of the session. A history
    /// page counts once a stored record lists it: a page written under a record write that then failed is never read.
    /// </summary>
    public sealed class Store
    {
        private readonly List<(DateTime At, string Json)> _stored;
        private readonly Dictionary<string, List<RequestStatus>> _terminal = [];
        private readonly Dictionary<string, int> _replies = [];

        public Store(IReadOnlyList<WriteGate.Write> writes)
        {
            var listed = writes.Where(w => w.IsStored && w.StateName == "session" && w.Json != WriteGate.Cleared).SelectMany(w => Pages(w.Json)).ToHashSet();
            _stored = [.. writes.Where(w => w.IsStored && (w.StateName == "session" || w.Json == WriteGate.Cleared || listed.Contains(w.StateName)))
                .Select(w => (w.StoredAt!.Value, w.Json))];
            Deletions = [.. writes.Where(w => w.IsStored && w.StateName == "session" && w.Json == WriteGate.Cleared).Select(w => w.StoredAt!.Value)];
            foreach (var (_, json) in _stored.Where(w => w.Json != WriteGate.Cleared))
            {
                var repliesHere = new Dictionary<string, int>();
                foreach (var (role, requestId, status) in Entries(json))
                {
                    if (role == HistoryRole.Assistant)
                    {
                        repliesHere[requestId] = repliesHere.GetValueOrDefault(requestId) + 1;
                    }
                    else if (status is not (RequestStatus.Queued or RequestStatus.Processing))
                    {
                        var seen = _terminal.TryGetValue(requestId, out var list) ? list : _terminal[requestId] = [];
                        if (!seen.Contains(status))
                        {
                            seen.Add(status);
                        }
                    }
                }

                foreach (var (id, n) in repliesHere)
                {
                    _replies[id] = Math.Max(_replies.GetValueOrDefault(id), n);
                }
            }
        }

        public IReadOnlyList<DateTime> Deletions { get; }

        /// <summary>The terminal statuses the store ever took for the request, in the order it took them.</summary>
        public IReadOnlyList<RequestStatus> Terminal(string requestId) => _terminal.GetValueOrDefault(requestId) ?? [];

        /// <summary>The most replies to the request one stored page held.</summary>
        public int Replies(string requestId) => _replies.GetValueOrDefault(requestId);

        public DateTime? FirstStored(string requestId) => _stored.Where(w => w.Json.Contains(requestId, StringComparison.Ordinal)).Select(w => (DateTime?)w.At).FirstOrDefault();

        public DateTime? StoredAfter(string requestId, DateTime after) =>
            _stored.Where(w => w.At > after && w.Json.Contains(requestId, StringComparison.Ordinal)).Select(w => (DateTime?)w.At).FirstOrDefault();

        /// <summary>The names of the history pages a stored record lists (<c>history-{incarnation}-{number}-{version}</c>, as PagedHistory names them).</summary>
        private static IEnumerable<string> Pages(string json)
        {
            using var document = JsonDocument.Parse(json);
            var incarnation = Property(document.RootElement, "Incarnation")?.GetInt64() ?? 0;
            if (Property(document.RootElement, "HistoryPages") is not { ValueKind: JsonValueKind.Array } pages)
            {
                return [];
            }

            return [.. pages.EnumerateArray().Select(p => $"history-{incarnation}-{Property(p, "Number")?.GetInt64()}-{Property(p, "Version")?.GetInt64()}")];
        }

        /// <summary>The history entries in a stored page (property names and enums as the storage serializer writes them).</summary>
        private static IEnumerable<(HistoryRole Role, string RequestId, RequestStatus Status)> Entries(string json)
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object || Property(document.RootElement, "Entries") is not { ValueKind: JsonValueKind.Array } entries)
            {
                yield break;
            }

            foreach (var entry in entries.EnumerateArray())
            {
                if (Property(entry, "RequestId")?.GetString() is { } id && Property(entry, "Role") is { } role && Property(entry, "Status") is { } status)
                {
                    yield return (Enum<HistoryRole>(role), id, Enum<RequestStatus>(status));
                }
            }
        }

        private static JsonElement? Property(JsonElement element, string name) =>
            element.EnumerateObject().Where(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(p => (JsonElement?)p.Value).FirstOrDefault();

        private static T Enum<T>(JsonElement value) where T : struct, System.Enum =>
            value.ValueKind == JsonValueKind.Number ? (T)(object)value.GetInt32() : System.Enum.Parse<T>(value.GetString()!, ignoreCase: true);
    }
}
