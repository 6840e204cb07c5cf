using System.Text.Json;
using System.Threading.Channels;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace Lectures.Api.LiveUpdates;

/// <summary>
/// Reply text while it is generated (<c>delta</c> events), from the owner's delta stream (see
/// <see cref="LiveStreams.RoomDeltas"/>): one subscription per watched owner per API silo, shared by its SSE clients
/// like <see cref="LiveFeeds"/>, but apart from it, because deltas are hints without ids: never stored, never
/// replayed, never part of a stream's resumable sequence or its gap detection. Each delta's SSE frame (no <c>id:</c>)
/// is made once per silo. A client that does not keep up loses deltas, never its durable events.
/// </summary>
public sealed class DeltaFeeds(IClusterClient cluster, IOptions<JsonOptions> json, ILogger<DeltaFeeds> logger)
{
    private const int ClientBuffer = 1024;
    private readonly Dictionary<StreamId, Feed> _feeds = [];

    /// <summary>Where a route's deltas come from and what a client receives for one.</summary>
    public sealed record Source(StreamId Stream, Func<ReplyDelta, object> Map);

    /// <summary>Joins the shared feed of <paramref name="source"/>; deltas are hints, so a failed subscription only means none arrive.</summary>
    public Lease Watch(Source source)
    {
        var lease = new Lease(this, source.Stream);
        lock (_feeds)
        {
            if (!_feeds.TryGetValue(source.Stream, out var feed))
            {
                feed = new Feed(this, source);
                _feeds[source.Stream] = feed;
            }

            feed.Clients = [.. feed.Clients, lease.Writer];
        }

        return lease;
    }

    /// <summary>Waits until the feed has an event, a delta arrives, or <paramref name="feedWait"/> times out.</summary>
    public static async Task WaitAsync(Func<CancellationToken, Task> feedWait, Lease? deltas, CancellationToken cancellationToken)
    {
        if (deltas is null)
        {
            await feedWait(cancellationToken);
            return;
        }

        // The losing wait is cancelled, so no timer outlives it (a delta wakes a client many times per reply).
        using var woken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await Task.WhenAny(feedWait(woken.Token), deltas.Reader.WaitToReadAsync(woken.Token).AsTask());
        await woken.CancelAsync();
        cancellationToken.ThrowIfCancellationRequested();
    }

    private void Release(Lease lease)
    {
        Feed? closed = null;
        lock (_feeds)
        {
            if (_feeds.TryGetValue(lease.Stream, out var feed) && feed.Clients.Contains(lease.Writer))
            {
                feed.Clients = [.. feed.Clients.Where(c => c != lease.Writer)];
            }

            if (feed is { Clients.Length: 0 })
            {
                _feeds.Remove(lease.Stream);
                closed = feed;
            }
        }

        closed?.Close();
    }

    private sealed class Feed
    {
        private readonly DeltaFeeds _owner;
        private readonly Source _source;
        private readonly Task<StreamSubscriptionHandle<ReplyDelta>?> _subscription;

        public Feed(DeltaFeeds owner, Source source)
        {
            _owner = owner;
            _source = source;
            _subscription = SubscribeAsync();
        }

        /// <summary>Replaced whole under the feeds' lock, so a delivery reads it without one.</summary>
        public volatile ChannelWriter<string>[] Clients = [];

        private async Task<StreamSubscriptionHandle<ReplyDelta>?> SubscribeAsync()
        {
            try
            {
                return await _owner._cluster.GetStreamProvider(LiveStreams.Provider).GetStream<ReplyDelta>(_source.Stream)
                    .SubscribeAsync((delta, _) => Deliver(delta));
            }
            catch (Exception ex)
            {
                // Nothing cached outlives this feed: the next client after the last one leaves subscribes anew.
                _owner._logger.LogWarning(ex, "Subscribing to the deltas of {Stream} failed; its clients get no deltas", _source.Stream);
                return null;
            }
        }

        private Task Deliver(ReplyDelta delta)
        {
            var frame = $"event: delta\ndata: {JsonSerializer.Serialize(_source.Map(delta), _owner._json.Value.SerializerOptions)}\n\n";
            foreach (var client in Clients)
            {
                client.TryWrite(frame);
            }

            return Task.CompletedTask;
        }

        public void Close() => _ = UnsubscribeAsync();

        private async Task UnsubscribeAsync()
        {
            try
            {
                if (await _subscription is { } handle)
                {
                    await handle.UnsubscribeAsync();
                }
            }
            catch (Exception ex)
            {
                _owner._logger.LogDebug(ex, "Unsubscribing from the deltas of {Stream} failed", _source.Stream);
            }
        }
    }

    private readonly IClusterClient _cluster = cluster;
    private readonly IOptions<JsonOptions> _json = json;
    private readonly ILogger _logger = logger;

    /// <summary>One SSE client's deltas: frames to write before its next events.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly DeltaFeeds _owner;
        private readonly Channel<string> _frames = Channel.CreateBounded<string>(
            new BoundedChannelOptions(ClientBuffer) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        private int _disposed;

        internal Lease(DeltaFeeds owner, StreamId stream)
        {
            _owner = owner;
            Stream = stream;
        }

        internal StreamId Stream { get; }
        internal ChannelWriter<string> Writer => _frames.Writer;
        internal ChannelReader<string> Reader => _frames.Reader;

        /// <summary>Appends the frames of the deltas received so far.</summary>
        public void AppendTo(System.Text.StringBuilder text)
        {
            while (_frames.Reader.TryRead(out var frame))
            {
                text.Append(frame);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _owner.Release(this);
            }
        }
    }
}
