using System.Net;
using System.Net.Http.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Rooms;

/// <summary>The OpenAI responder path against a real OpenAI-compatible server on loopback, through the real host.</summary>
public sealed class RoomOpenAiTests
{
    private const int ContextMessages = 3;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Replies_come_from_the_OpenAI_compatible_endpoint_with_model_key_persona_and_recent_messages(bool streaming)
    {
        await using var model = new FakeOpenAi();
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Agents:Responder"] = "OpenAI",
            ["Agents:Endpoint"] = model.Endpoint,
            ["Agents:Model"] = "fake-model-7",
            ["Agents:ApiKey"] = "sk-test-123",
            ["Agents:Streaming"] = streaming.ToString(),
            ["Agents:ContextMessages"] = ContextMessages.ToString(),
            ["Agents:ResponseTimeout"] = "00:00:10",
        });
        var http = host.Http;
        var roomCode = Ids.New("room");
        var persona = "You are Dr. Pulse, a cardiologist who loves puns.";
        await (await http.PutAsJsonAsync($"/api/rooms/{roomCode}", new { agents = new[] { new { agentId = "pulse", name = "Dr. Pulse", persona } } })).Expect(HttpStatusCode.OK);
        await (await http.PutAsync($"/api/rooms/{roomCode}/players/alice", null)).Expect(HttpStatusCode.OK);
        foreach (var early in new[] { "first words", "second words", "third words" })
        {
            await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = early, agentIds = Array.Empty<string>() })).Expect(HttpStatusCode.Created);
        }

        var post = await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "How is my heart?" })).Expect(HttpStatusCode.Created);
        await RoomApiTests.AllIdle(http, roomCode, TimeSpan.FromSeconds(30));

        var reply = (await RoomApiTests.Messages(http, roomCode)).Single(m => m.GetProperty("senderKind").GetString() == "agent");
        Assert.Equal("reply", reply.GetProperty("outcome").GetString());
        Assert.Equal(post.GetProperty("seq").GetInt64(), reply.GetProperty("inReplyTo").GetInt64());
        Assert.StartsWith("fake reply to \"alice: How is my heart?\"", reply.GetProperty("text").GetString());

        var (path, authorization, body) = Assert.Single(model.Calls);
        Assert.Equal("/v1/chat/completions", path);
        Assert.Equal("Bearer sk-test-123", authorization);
        Assert.Equal("fake-model-7", body.GetProperty("model").GetString());
        Assert.Equal(streaming, body.TryGetProperty("stream", out var stream) && stream.GetBoolean());
        var messages = body.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Contains(persona, FakeOpenAi.Text(messages[0]));
        // The room's latest Agents:ContextMessages messages, oldest first, the trigger last.
        Assert.Equal(["alice: second words", "alice: third words", "alice: How is my heart?"], messages.Skip(1).Select(FakeOpenAi.Text));

        // A failing endpoint: exactly one failed outcome and one agent_failed event; the agent is free again.
        var start = long.Parse((await http.GetAsync($"/api/rooms/{roomCode}")).Headers.ETag!.Tag.Trim('"'));
        var failing = await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "[fail] please" })).Expect(HttpStatusCode.Created);
        var events = await http.ReadEventsAsync($"/api/rooms/{roomCode}/events", start,
            e => e.Type == "agent" && e.Data.GetProperty("status").GetString() == "idle", TimeSpan.FromSeconds(30));
        Assert.Equal(["message", "agent", "message", "agent_failed", "agent"], events.Select(e => e.Type));
        var failed = events.Single(e => e.Type == "agent_failed").Data;
        Assert.Equal((failing.GetProperty("seq").GetInt64(), "failed", "responder_failed", ""),
            (failed.GetProperty("inReplyTo").GetInt64(), failed.GetProperty("outcome").GetString(), failed.GetProperty("error").GetString(), failed.GetProperty("text").GetString()));
        var room = await (await http.GetAsync($"/api/rooms/{roomCode}")).Expect(HttpStatusCode.OK);
        Assert.Equal("idle", room.GetProperty("agents")[0].GetProperty("status").GetString());
    }
}
