using Lectures.Grains.Common;
using Orleans.Streams;

namespace Lectures.Api.LiveUpdates;

/// <summary>
/// One subscription per watched grain per API silo, shared by every SSE client of that grain on this silo and released
/// when the last one leaves: an event costs one delivery to the silo however many clients watch. The feed keeps the
/// latest events for its clients; every <see cref="ResyncPeriod"/> it asks the grain what it missed (streams are a
/// hint), and subscribes again if the stream lost anything. A feed whose subscription failed is never shared again:
/// its watchers get the fault and release it, and the next watcher subscribes anew instead of awaiting the same fault.
/// </summary>
public sealed class LiveFeeds(Func<IStreamProvider> streams, ILogger<LiveFeeds> logger)
{
    /// <summary>Well inside <c>EventLog.WatchedFor</c>, so a watched grain keeps publishing.</summary>
    public static readonly TimeSpan ResyncPeriod = TimeSpan.FromSeconds(10);

    private readonly Dictionary<StreamId, object> _feeds = [];
    private readonly Func<IStreamProvider> _streams = streams;
    private readonly ILogger _logger = logger;

    public delegate Task<EventBatch<T>> Poll<T>(long afterId, CancellationToken cancellationToken);

    /// <summary>The shared feed of <paramref name="id"/>; dispose the lease when the client leaves.</summary>
    public async Task<Feed<T>.Lease> WatchAsync<T>(StreamId id, Poll<T> poll)
    {
        Feed<T> feed;
        lock (_feeds)
        {
            // A feed whose subscription failed is replaced: its watchers get the fault, the next one subscribes again.
            if (_feeds.TryGetValue(id, out var existing) && existing is Feed<T> shared && !shared.Subscribed.IsFaulted && !shared.Subscribed.IsCanceled)
            {
                feed = shared;
            }
            else
            {
                feed = new Feed<T>(this, id, poll);
                _feeds[id] = feed;
            }

            feed.Watchers++;
        }

        try
        {
            await feed.Subscribed;
        }
        catch
        {
            Release(feed);
            throw;
        }

        return new Feed<T>.Lease(feed);
    }

    private void Release<T>(Feed<T> feed)
    {
        lock (_feeds)
        {
            if (--feed.Watchers > 0)
            {
                return;
            }

            if (_feeds.TryGetValue(feed.Id, out var shared) && ReferenceEquals(shared, feed))
            {
                _feeds.Remove(feed.Id);
            }
        }

        _ = feed.CloseAsync();
    }

    public sealed class Feed<T>
    {
        private const int Capacity = 256;
        private readonly LiveFeeds _owner;
        private readonly Poll<T> _poll;
        private readonly LinkedList<ChangeEvent<T>> _events = new();
        private readonly CancellationTokenSource _closed = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private StreamSubscriptionHandle<ChangeEvent<T>>? _subscription;

        internal Feed(LiveFeeds owner, StreamId id, Poll<T> poll)
        {
            _owner = owner;
            _poll = poll;
            Id = id;
            Subscribed = SubscribeAsync();
            _ = ResyncAsync();
        }

        internal StreamId Id { get; }
        internal int Watchers { get; set; }
        internal Task Subscribed { get; }

        /// <summary>Whether the feed holds every event after <paramref name="afterId"/> (none yet counts); if so, those events.</summary>
        public bool TryGetAfter(long afterId, out List<ChangeEvent<T>> events)
        {
            lock (_events)
            {
                events = _events.Where(e => e.Id > afterId).ToList();
                return events.Count == 0 || events[0].Id == afterId + 1;
            }
        }

        /// <summary>Completes when an event arrives (or after <paramref name="timeout"/>).</summary>
        public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            Task changed;
            lock (_events)
            {
                changed = _changed.Task;
            }

            await Task.WhenAny(changed, Task.Delay(timeout, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }

        /// <summary>Adds events in id order (from the stream or a resync); returns how many were new.</summary>
        private int Add(IEnumerable<ChangeEvent<T>> events)
        {
            var added = 0;
            lock (_events)
            {
                foreach (var e in events)
                {
                    if (_events.Last is { } last && last.Value.Id >= e.Id)
                    {
                        continue;
                    }

                    _events.AddLast(e);
                    added++;
                    if (_events.Count > Capacity)
                    {
                        _events.RemoveFirst();
                    }
                }

                if (added > 0)
                {
                    _changed.TrySetResult();
                    _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            return added;
        }

        private long LastId()
        {
            lock (_events)
            {
                return _events.Last?.Value.Id ?? -1;
            }
        }

        private async Task SubscribeAsync()
        {
            var stream = _owner._streams().GetStream<ChangeEvent<T>>(Id);
            _subscription = await stream.SubscribeAsync((e, _) =>
            {
                Add([e]);
                return Task.CompletedTask;
            });
        }

        private async Task ResyncAsync()
        {
            using var timer = new PeriodicTimer(ResyncPeriod);
            try
            {
                while (await timer.WaitForNextTickAsync(_closed.Token))
                {
                    try
                    {
                        // Also what keeps the grain publishing (it publishes only while somebody asked recently).
                        var lastId = LastId();
                        var missed = await _poll(lastId, _closed.Token);
                        // A feed that holds nothing yet has no gap to fill: what the grain answers it is a snapshot under
                        // the latest id, which a live event of that id would then find taken (and be dropped for).
                        if (lastId >= 0 && Add(missed.Events) > 0 && _subscription is { } subscription)
                        {
                            _owner._logger.LogInformation("Live stream {Stream} missed events; subscribing again", Id);
                            _subscription = await subscription.ResumeAsync((e, _) =>
                            {
                                Add([e]);
                                return Task.CompletedTask;
                            });
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        _owner._logger.LogDebug(ex, "Resync of {Stream} failed; trying again in {Period}", Id, ResyncPeriod);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        internal async Task CloseAsync()
        {
            await _closed.CancelAsync();
            try
            {
                await Subscribed;
                if (_subscription is { } subscription)
                {
                    await subscription.UnsubscribeAsync();
                }
            }
            catch (Exception ex)
            {
                _owner._logger.LogDebug(ex, "Unsubscribing from {Stream} failed", Id);
            }
        }

        /// <summary>One SSE client's hold on the feed.</summary>
        public sealed class Lease(Feed<T> feed) : IDisposable
        {
            private int _disposed;

            public Feed<T> Feed => feed;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    feed._owner.Release(feed);
                }
            }
        }
    }
}
