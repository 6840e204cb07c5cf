using System.Text;
using System.Text.Json;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Lectures.Api.LiveUpdates;

/// <summary>
/// Relays a grain's changes to a Server-Sent Events client. Live events come from this silo's shared feed of the
/// grain's stream (<see cref="LiveFeeds"/>); the grain itself is asked only to fill a gap: on connect (resuming with
/// <c>Last-Event-ID</c>) and when the feed does not hold the next event, so a missed event is never a missed update.
/// Written by hand rather than with TypedResults.ServerSentEvents so the headers go out at once, even when the
/// client is already current, and idle connections get keep-alive comments that proxies do not time out.
/// </summary>
public static class SseRelay
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    // A feed hands the same event instance to all of this silo's clients of a grain: its text is made once.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, string> Frames = new();

    /// <param name="admits">
    /// Whether the client may still see the grain's events, judged on each event before it is sent (a room's player
    /// that was removed): the first event it refuses ends the response.
    /// </param>
    /// <param name="deltaSource">The owner's reply deltas (hints without ids), when the route has them.</param>
    public static async Task RelayAsync<T, TOut>(HttpContext http, StreamId stream, LiveFeeds.Poll<T> poll, Func<T, TOut> map, Func<T, bool>? admits = null,
        DeltaFeeds.Source? deltaSource = null)
    {
        var afterId = long.TryParse(http.Request.Headers["Last-Event-ID"].ToString(), out var lastId) ? lastId : -1;
        // Ends when the client leaves or the host stops (a stream held open would hold up a graceful stop).
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted,
            http.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        var ct = ended.Token;
        // Subscribed before the grain is asked, so nothing published in between is missed; an unknown resource is
        // still answered with a 404 problem document because nothing has been written yet.
        using var lease = await http.RequestServices.GetRequiredService<LiveFeeds>().WatchAsync(stream, poll);
        using var deltas = deltaSource is null ? null : http.RequestServices.GetRequiredService<DeltaFeeds>().Watch(deltaSource);
        var events = (await poll(afterId, ct)).Events;

        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.StartAsync(ct);

        try
        {
            while (true)
            {
                var text = new StringBuilder();
                var refused = false;
                // Deltas first: the pieces of a reply go out before its stored message when both are waiting.
                deltas?.AppendTo(text);
                foreach (var e in events.Where(e => e.Id > afterId))
                {
                    if (admits is not null && !admits(e.Data))
                    {
                        refused = true;
                        break;
                    }

                    text.Append(Frames.GetValue(e, _ => $"id: {e.Id}\nevent: {e.Type}\ndata: {JsonSerializer.Serialize(map(e.Data), json)}\n\n"));
                    afterId = e.Id;
                }

                await http.Response.WriteAsync(text.Length == 0 ? ": keep-alive\n\n" : text.ToString(), ct);
                await http.Response.Body.FlushAsync(ct);
                if (refused)
                {
                    return;
                }

                if (!lease.Feed.TryGetAfter(afterId, out var next))
                {
                    events = (await poll(afterId, ct)).Events;
                    continue;
                }

                if (next.Count == 0)
                {
                    await DeltaFeeds.WaitAsync(t => lease.Feed.WaitAsync(KeepAlive, t), deltas, ct);
                    if (!lease.Feed.TryGetAfter(afterId, out next))
                    {
                        next = [.. (await poll(afterId, ct)).Events];
                    }
                }

                events = next;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away, or the host is stopping: the response ends and the client resumes with Last-Event-ID.
        }
    }
}
