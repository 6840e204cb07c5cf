using System.Reflection;
using Lectures.Api.LiveUpdates;
using Lectures.Grains.Common;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Orleans.Streams;

namespace Lectures.Api.Tests.Platform;

/// <summary>The API silo's shared feeds, on a stream provider the test controls.</summary>
public sealed class LiveFeedTests
{
    [Fact]
    public async Task A_subscription_that_failed_once_is_made_again_for_the_next_watcher()
    {
        var provider = new FlakyStreams(failures: 1);
        var feeds = new LiveFeeds(() => provider, NullLogger<LiveFeeds>.Instance);
        var id = StreamId.Create(LiveStreams.Rooms, "room-x");
        LiveFeeds.Poll<int> poll = (_, _) => Task.FromResult(new EventBatch<int>([]));

        await Assert.ThrowsAnyAsync<Exception>(() => feeds.WatchAsync(id, poll));
        using var lease = await feeds.WatchAsync(id, poll).WaitAsync(TimeSpan.FromSeconds(5));
        using var another = await feeds.WatchAsync(id, poll).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(2, provider.Subscriptions);
        Assert.Same(lease.Feed, another.Feed);
    }

    /// <summary>A stream provider whose first <c>failures</c> subscriptions throw, as a pub-sub grain that cannot be reached would.</summary>
    private sealed class FlakyStreams(int failures) : IStreamProvider
    {
        private int _calls;

        public int Subscriptions => Volatile.Read(ref _calls);

        public string Name => LiveStreams.Provider;

        public bool IsRewindable => false;

        public IAsyncStream<T> GetStream<T>(StreamId streamId)
        {
            var stream = DispatchProxy.Create<IAsyncStream<T>, StreamProxy>();
            ((StreamProxy)(object)stream).Subscribe = () => Interlocked.Increment(ref _calls) <= failures
                ? Task.FromException(new InvalidOperationException("pub-sub unreachable"))
                : Task.CompletedTask;
            return stream;
        }
    }

    public class StreamProxy : DispatchProxy
    {
        internal Func<Task> Subscribe { get; set; } = () => Task.CompletedTask;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IAsyncObservable<int>.SubscribeAsync))
            {
                throw new NotSupportedException(targetMethod?.Name);
            }

            // Task<StreamSubscriptionHandle<T>> with no handle: the feed has nothing to unsubscribe.
            var handle = targetMethod.ReturnType.GetGenericArguments()[0];
            var result = typeof(StreamProxy).GetMethod(nameof(Then), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(handle);
            return result.Invoke(null, [Subscribe()]);
        }

        private static async Task<THandle> Then<THandle>(Task subscribed)
        {
            await subscribed;
            return default!;
        }
    }
}
