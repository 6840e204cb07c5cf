using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace Lectures.Grains.Common;

/// <summary>
/// The recent changes of one grain: published to the grain's live stream (<see cref="LiveStreams"/>) as they become
/// durable, and kept in memory so a client that missed some (a reconnect with <c>Last-Event-ID</c>, a lost stream
/// event) gets them from the grain. It is a hint, not a record: after a reactivation or when a client is further
/// behind than the buffer reaches, the client gets a snapshot of the current state instead, so a lost event is never a
/// lost update. Only touched from the grain's own scheduler, so it needs no lock. The stream and the list are created
/// on first use: a stream handle costs about 1 KB per activation in Orleans (a stream directory and a concurrent
/// dictionary in the activation's scope), which an idle grain that nobody watches should not pay.
/// </summary>
/// <remarks>
/// With <c>keepUnwatched</c> false the log keeps nothing while no relay watches (see <see cref="WatchedFor"/>): for
/// grains whose snapshot is their whole state (a job), where a replayed event tells a client nothing the snapshot does
/// not. Kept, every report's event outlived the young generation under load (gen1 collections), and an idle job kept
/// its creation event (about 240 B of managed memory per activation, docs/benchmarks.md).
/// </remarks>
public sealed class EventLog<T>(Grain? grain, string? streamNamespace, ILogger? logger, int capacity = 128, bool keepUnwatched = true)
{
    /// <summary>
    /// How long after a relay last asked for events the log keeps publishing. Every published stream costs a pub-sub
    /// grain in Orleans, so grains nobody watches publish nothing; a watching API silo asks at connect and on every
    /// resync (<c>LiveFeeds.ResyncPeriod</c>, well inside this), and fills any gap from <see cref="After"/>.
    /// </summary>
    public static readonly TimeSpan WatchedFor = TimeSpan.FromSeconds(30);

    // In id order; a list grown from one slot (most grains keep only a few events, and a linked list costs 48 B per event).
    private List<ChangeEvent<T>>? _events;
    private IAsyncStream<ChangeEvent<T>>? _live;
    private long _watchedUntil;

    /// <summary>Whether a relay asked for events within <see cref="WatchedFor"/>: somebody may follow this grain live.</summary>
    public bool Watched => Environment.TickCount64 < _watchedUntil;

    /// <summary>Records a durable change and publishes it; publishing is a hint and never fails the change.</summary>
    public void Append(long id, string type, T data)
    {
        var watched = Environment.TickCount64 < _watchedUntil;
        if (!watched && !keepUnwatched)
        {
            // The log now misses this change, so it holds no gap for anyone: a client that comes back gets a snapshot.
            _events = null;
            return;
        }

        // Keep id order even if the writers' continuations resume out of order.
        var events = _events ??= new(1);
        var at = events.Count;
        while (at > 0 && events[at - 1].Id > id)
        {
            at--;
        }

        var change = new ChangeEvent<T>(id, type, data);
        events.Insert(at, change);
        if (events.Count > capacity)
        {
            events.RemoveRange(0, events.Count - capacity);
        }

        if (grain is not null && streamNamespace is not null && watched)
        {
            _live ??= grain.GetStreamProvider(LiveStreams.Provider)
                .GetStream<ChangeEvent<T>>(StreamId.Create(streamNamespace, grain.GetGrainId().Key.ToString()!));
            _ = PublishAsync(_live, change);
        }
    }

    /// <summary>
    /// The events after <paramref name="afterId"/>; a snapshot event when the log cannot prove it holds every one of them.
    /// A grain whose ids jump (a new incarnation after a deletion starts above every id the old one used) passes the
    /// id before its first event as <paramref name="floor"/>: a log that holds every event from there holds every event
    /// after any lower id too.
    /// </summary>
    public EventBatch<T> After(long afterId, Func<ChangeEvent<T>> snapshot, long floor = -1)
    {
        var current = snapshot();
        return After(afterId, current, () => [current], floor);
    }

    /// <summary>
    /// The events after <paramref name="afterId"/> up to <paramref name="current"/> (the latest durable event's id);
    /// what <paramref name="fallback"/> gives (a replay from stored state, or a snapshot) when the log cannot prove it
    /// holds every one of them.
    /// </summary>
    public EventBatch<T> After(long afterId, ChangeEvent<T> current, Func<IReadOnlyList<ChangeEvent<T>>> fallback, long floor = -1)
    {
        _watchedUntil = Environment.TickCount64 + (long)WatchedFor.TotalMilliseconds;
        if (current.Id <= afterId)
        {
            return new EventBatch<T>([]);
        }

        var first = _events is [var oldest, ..] ? oldest : null;
        // The log holds the gap only when its oldest event is the very next one the client has not seen (or older).
        if (first is null || (first.Id > afterId + 1 && !(afterId < floor && first.Id == floor + 1)))
        {
            return new EventBatch<T>(fallback());
        }

        return new EventBatch<T>(_events!.Where(e => e.Id > afterId).ToList());
    }

    private async Task PublishAsync(IAsyncStream<ChangeEvent<T>> stream, ChangeEvent<T> change)
    {
        try
        {
            await stream.OnNextAsync(change);
        }
        catch (Exception ex)
        {
            // Subscribers fill the gap from the grain (their resync or the next event's id), so this is not a lost update.
            logger?.LogDebug(ex, "Publishing event {Id} to {Stream} failed", change.Id, stream.StreamId);
        }
    }
}

public static class EventLogExtensions
{
    /// <summary>An event log that publishes to this grain's live stream in <paramref name="streamNamespace"/>.</summary>
    public static EventLog<T> CreateEventLog<T>(this Grain grain, string streamNamespace, ILogger logger, bool keepUnwatched = true) =>
        new(grain, streamNamespace, logger, keepUnwatched: keepUnwatched);
}

/// <summary>
/// A gap rebuilt from stored state, for a client further behind than a grain's <see cref="EventLog{T}"/> reaches: the
/// events the grain stored with their ids (a room's messages, a session's replies), each once and in order, and, when
/// the client also missed other events, one snapshot under the id of the last of those (so ids still only increase
/// and the snapshot never takes an id a stored event has).
/// </summary>
public static class EventReplay
{
    /// <param name="stored">The stored events with ids above <paramref name="afterId"/>, in id order.</param>
    public static List<ChangeEvent<T>> Fill<T>(IReadOnlyList<ChangeEvent<T>> stored, long afterId, ChangeEvent<T> snapshot)
    {
        var ids = stored.Select(e => e.Id).ToHashSet();
        var other = snapshot.Id;
        while (other > afterId && ids.Contains(other))
        {
            other--;
        }

        var missed = stored.ToList();
        if (other > afterId)
        {
            var at = missed.FindIndex(e => e.Id > other);
            missed.Insert(at < 0 ? missed.Count : at, snapshot with { Id = other });
        }

        return missed;
    }
}
