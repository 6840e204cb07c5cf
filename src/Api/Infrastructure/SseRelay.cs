using System.Text;
using System.Text.Json;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Lectures.Api.Infrastructure;

/// <summary>
/// Relays a grain's changes to a Server-Sent Events client by long-polling the grain (location-transparent, no
/// stream subscription to lose). The client resumes with <c>Last-Event-ID</c>; the grain fills the gap from its
/// recent events or answers with a snapshot of the current state, so a missed event is never a missed update.
/// Written by hand rather than with TypedResults.ServerSentEvents so the headers go out at once, even when the
/// client is already current, and idle connections get keep-alive comments that proxies do not time out.
/// </summary>
public static class SseRelay
{
    private static readonly TimeSpan PollWait = TimeSpan.FromSeconds(15);

    public delegate Task<EventBatch<T>> Poll<T>(long afterId, TimeSpan maxWait, CancellationToken cancellationToken);

    public static async Task RelayAsync<T, TOut>(HttpContext http, Poll<T> poll, Func<T, TOut> map)
    {
        var afterId = long.TryParse(http.Request.Headers["Last-Event-ID"].ToString(), out var lastId) ? lastId : -1;
        // Ends when the client leaves or the host stops (a stream held open would hold up a graceful stop).
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted,
            http.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        var ct = ended.Token;
        // The first poll does not wait, so an unknown resource is still answered with a 404 problem document.
        var batch = await poll(afterId, TimeSpan.Zero, ct);

        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.StartAsync(ct);
        await http.Response.Body.FlushAsync(ct);

        try
        {
            while (!ct.IsCancellationRequested)
            {
                var text = new StringBuilder();
                foreach (var e in batch.Events)
                {
                    text.Append("id: ").Append(e.Id).Append('\n')
                        .Append("event: ").Append(e.Type).Append('\n')
                        .Append("data: ").Append(JsonSerializer.Serialize(map(e.Data), json)).Append("\n\n");
                    afterId = e.Id;
                }

                await http.Response.WriteAsync(text.Length == 0 ? ": keep-alive\n\n" : text.ToString(), ct);
                await http.Response.Body.FlushAsync(ct);
                batch = await poll(afterId, PollWait, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away, or the host is stopping: the response ends and the client resumes with Last-Event-ID.
        }
    }
}
