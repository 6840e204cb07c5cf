using System.Net.Http.Headers;
using System.Text.Json;

namespace Lectures.Api.Tests.Infrastructure;

public sealed record SseEvent(long Id, string Type, JsonElement Data);

public static class SseClient
{
    /// <summary>Reads a Server-Sent Events stream until <paramref name="until"/> holds for an event (or the deadline fails the test).</summary>
    public static async Task<List<SseEvent>> ReadEventsAsync(this HttpClient Http, string path, long? lastEventId, Func<SseEvent, bool> until, TimeSpan deadline)
    {
        using var cts = new CancellationTokenSource(deadline);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is { } id)
        {
            request.Headers.Add("Last-Event-ID", id.ToString());
        }

        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = new List<SseEvent>();
        long eventId = 0;
        var type = "";
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                eventId = long.Parse(line[4..]);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var e = new SseEvent(eventId, type, JsonDocument.Parse(line[6..]).RootElement.Clone());
                events.Add(e);
                if (until(e))
                {
                    return events;
                }
            }
        }

        throw new Xunit.Sdk.XunitException("event stream ended early");
    }
}
