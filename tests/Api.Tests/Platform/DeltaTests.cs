using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;
using Lectures.Api.Tests.Sessions;

namespace Lectures.Api.Tests.Platform;

/// <summary>One Server-Sent Events frame as sent: its id line (null when it had none), type and data.</summary>
public sealed record SseFrame(string? Id, string Type, JsonElement Data);

public static class RawSse
{
    /// <summary>Reads frames until <paramref name="until"/> holds, then <paramref name="linger"/> longer (for frames that follow).</summary>
    public static async Task<List<SseFrame>> ReadFramesAsync(HttpClient http, string path, string? lastEventId, Func<SseFrame, bool> until,
        TimeSpan deadline, TimeSpan linger = default, Func<Task>? connected = null)
    {
        using var cts = new CancellationTokenSource(deadline);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        if (connected is not null)
        {
            await connected();
        }

        var frames = new List<SseFrame>();
        string? id = null;
        string type = "message";
        string? data = null;
        var stopAt = (DateTime?)null;
        try
        {
            while (stopAt is null || DateTime.UtcNow < stopAt)
            {
                using var lineTimeout = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
                if (stopAt is { } stop)
                {
                    lineTimeout.CancelAfter(Max(stop - DateTime.UtcNow, TimeSpan.FromMilliseconds(1)));
                }

                var line = await reader.ReadLineAsync(lineTimeout.Token) ?? throw new Xunit.Sdk.XunitException("event stream ended early");
                if (line.Length == 0)
                {
                    if (data is not null)
                    {
                        var frame = new SseFrame(id, type, JsonDocument.Parse(data).RootElement.Clone());
                        frames.Add(frame);
                        if (stopAt is null && until(frame))
                        {
                            stopAt = DateTime.UtcNow + linger;
                        }
                    }

                    (id, type, data) = (null, "message", null);
                }
                else if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line[6..];
                }
            }
        }
        catch (OperationCanceledException) when (stopAt is not null && !cts.IsCancellationRequested)
        {
        }

        return frames;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

[Collection(ApiCollection.Name)]
public sealed class RoomDeltaTests(ApiFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task While_an_agent_generates_the_rooms_clients_get_delta_events_without_ids_that_join_to_its_message()
    {
        var room = Ids.New("deltas");
        await (await Http.PutAsJsonAsync($"/api/rooms/{room}", new { agents = new[] { new { agentId = "a1", name = "Ada", persona = "A patient tutor" } } }))
            .Expect(HttpStatusCode.OK);
        await (await Http.PutAsync($"/api/rooms/{room}/players/p1", null)).Expect(HttpStatusCode.OK);

        var frames = await RawSse.ReadFramesAsync(Http, $"/api/rooms/{room}/events", null,
            f => f.Type == "message" && f.Data.GetProperty("senderKind").GetString() == "agent", TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(500),
            connected: async () => await (await Http.PostJson($"/api/rooms/{room}/messages", new { senderId = "p1", text = "explain preload please" }))
                .Expect(HttpStatusCode.Created));

        var reply = frames.Single(f => f.Type == "message" && f.Data.GetProperty("senderKind").GetString() == "agent");
        var deltas = frames.Where(f => f.Type == "delta").ToList();
        Assert.True(deltas.Count > 1, $"{deltas.Count} deltas");
        Assert.All(deltas, d =>
        {
            Assert.Null(d.Id);
            Assert.Equal("a1", d.Data.GetProperty("agentId").GetString());
            Assert.Equal(reply.Data.GetProperty("inReplyTo").GetInt64(), d.Data.GetProperty("inReplyTo").GetInt64());
        });
        Assert.Equal(reply.Data.GetProperty("text").GetString(), string.Concat(deltas.Select(d => d.Data.GetProperty("text").GetString())));
        // In order: every piece before the stored message, which stays the resumable event it was.
        Assert.True(frames.IndexOf(deltas[^1]) < frames.IndexOf(reply), "a delta came after the reply's message");
        Assert.NotNull(reply.Id);

        // Not replayed: a client resuming from before the reply gets the durable events only.
        var firstId = frames.First(f => f.Id is not null).Id;
        var resumed = await RawSse.ReadFramesAsync(Http, $"/api/rooms/{room}/events", firstId, f => f.Id == reply.Id, TimeSpan.FromSeconds(10),
            TimeSpan.FromMilliseconds(300));
        Assert.DoesNotContain(resumed, f => f.Type == "delta");
        Assert.Contains(resumed, f => f.Id == reply.Id && f.Type == "message");
    }
}

[Collection(SessionCollection.Name)]
public sealed class SessionDeltaTests(SessionFixture fixture)
{
    [Fact]
    public async Task While_the_chatbot_streams_a_reply_the_users_clients_get_delta_events_that_join_to_the_reply()
    {
        var user = Ids.New("deltas");
        string? requestId = null;
        var frames = await RawSse.ReadFramesAsync(fixture.Http, $"/api/users/{user}/events", null,
            f => f.Type == "reply", TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(500),
            connected: async () => requestId = (await (await fixture.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = "what is afterload [delay]" }))
                .Expect(HttpStatusCode.Accepted)).GetProperty("requestId").GetString());

        var reply = frames.Single(f => f.Type == "reply");
        var deltas = frames.Where(f => f.Type == "delta").ToList();
        Assert.True(deltas.Count > 1, $"{deltas.Count} deltas");
        Assert.All(deltas, d =>
        {
            Assert.Null(d.Id);
            Assert.Equal(requestId, d.Data.GetProperty("requestId").GetString());
        });
        Assert.Equal(reply.Data.GetProperty("reply").GetString(), string.Concat(deltas.Select(d => d.Data.GetProperty("text").GetString())));
        Assert.True(frames.IndexOf(deltas[^1]) < frames.IndexOf(reply), "a delta came after the reply");
    }
}
