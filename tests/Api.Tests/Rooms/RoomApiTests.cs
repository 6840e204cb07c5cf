using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Rooms;

[Collection(ApiCollection.Name)]
public sealed class RoomApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    public static object Agents(params string[] names) =>
        new { agents = names.Select(n => new { agentId = n.ToLowerInvariant(), name = n, persona = $"{n}, a friendly study partner" }).ToArray(), replyPolicy = "all" };

    public static async Task<string> NewRoom(HttpClient http, string[] agents, params string[] players)
    {
        var roomCode = Ids.New("room");
        await (await http.PutAsJsonAsync($"/api/rooms/{roomCode}", Agents(agents))).Expect(HttpStatusCode.OK);
        foreach (var player in players)
        {
            await (await http.PutAsync($"/api/rooms/{roomCode}/players/{player}", null)).Expect(HttpStatusCode.OK);
        }

        return roomCode;
    }

    public static async Task<List<JsonElement>> Messages(HttpClient http, string roomCode) =>
        [.. (await (await http.GetAsync($"/api/rooms/{roomCode}/messages?limit=1000")).Expect(HttpStatusCode.OK)).GetProperty("messages").EnumerateArray()];

    public static Task<JsonElement> AllIdle(HttpClient http, string roomCode, TimeSpan deadline) =>
        Eventually.Poll(async () => await (await http.GetAsync($"/api/rooms/{roomCode}")).Expect(HttpStatusCode.OK),
            r => r.GetProperty("agents").EnumerateArray().All(a => a.GetProperty("status").GetString() == "idle"), deadline, "every agent idle");

    [Fact]
    public async Task A_room_is_created_joined_and_answered_once_by_each_agent()
    {
        var roomCode = Ids.New("room");
        var put = await Http.PutAsJsonAsync($"/api/rooms/{roomCode}", Agents("Ada", "Grace"));
        var room = await put.Expect(HttpStatusCode.OK);
        Assert.NotNull(put.Headers.ETag);
        Assert.Equal(["ada", "grace"], room.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("agentId").GetString()));
        await (await Http.PutAsync($"/api/rooms/{roomCode}/players/alice", null)).Expect(HttpStatusCode.OK);
        await (await Http.PutAsync($"/api/rooms/{roomCode}/players/bob", null)).Expect(HttpStatusCode.OK);
        var left = await (await Http.DeleteAsync($"/api/rooms/{roomCode}/players/bob")).Expect(HttpStatusCode.OK);
        Assert.Equal(["alice"], left.GetProperty("players").EnumerateArray().Select(p => p.GetString()));

        var posted = await Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "What does the QRS complex show?" });
        var post = await posted.Expect(HttpStatusCode.Created);
        var seq = post.GetProperty("seq").GetInt64();
        Assert.Equal(["ada", "grace"], post.GetProperty("triggeredAgents").EnumerateArray().Select(a => a.GetString()));
        Assert.Empty(post.GetProperty("skippedAgents").EnumerateArray());
        var during = await (await Http.GetAsync($"/api/rooms/{roomCode}")).Expect(HttpStatusCode.OK);
        Assert.All(during.GetProperty("agents").EnumerateArray(), a =>
        {
            Assert.Equal("responding", a.GetProperty("status").GetString());
            Assert.Equal(seq, a.GetProperty("respondingTo").GetInt64());
        });

        await AllIdle(Http, roomCode, TimeSpan.FromSeconds(30));
        var messages = await Messages(Http, roomCode);
        Assert.Equal(3, messages.Count);
        var replies = messages.Where(m => m.GetProperty("senderKind").GetString() == "agent").ToList();
        Assert.Equal(["ada", "grace"], replies.Select(r => r.GetProperty("senderId").GetString()).Order());
        Assert.All(replies, r =>
        {
            Assert.Equal(seq, r.GetProperty("inReplyTo").GetInt64());
            Assert.Equal("reply", r.GetProperty("outcome").GetString());
            Assert.Contains("QRS complex", r.GetProperty("text").GetString());
        });
        var player = messages.Single(m => m.GetProperty("senderKind").GetString() == "player");
        Assert.Equal(JsonValueKind.Null, player.GetProperty("inReplyTo").ValueKind);
        Assert.Equal(JsonValueKind.Null, player.GetProperty("outcome").ValueKind);
    }

    [Fact]
    public async Task Room_events_stream_messages_and_agent_status_and_resume_with_Last_Event_ID()
    {
        var roomCode = await NewRoom(Http, ["Ada"], "alice");
        var etag = (await Http.GetAsync($"/api/rooms/{roomCode}")).Headers.ETag!.Tag.Trim('"');
        var start = long.Parse(etag);
        var post = await (await Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "Hello agents" })).Expect(HttpStatusCode.Created);
        var seq = post.GetProperty("seq").GetInt64();

        var events = await Http.ReadEventsAsync($"/api/rooms/{roomCode}/events", start,
            e => e.Type == "agent" && e.Data.GetProperty("status").GetString() == "idle", TimeSpan.FromSeconds(30));
        Assert.Equal(["message", "agent", "message", "agent"], events.Select(e => e.Type));
        Assert.Equal(seq, events[0].Data.GetProperty("seq").GetInt64());
        Assert.Equal(seq, events[1].Data.GetProperty("respondingTo").GetInt64());
        Assert.Equal(seq, events[2].Data.GetProperty("inReplyTo").GetInt64());

        var resumed = await Http.ReadEventsAsync($"/api/rooms/{roomCode}/events", events[1].Id, e => e.Type == "agent", TimeSpan.FromSeconds(10));
        Assert.Equal(events.Skip(2).Select(e => (e.Id, e.Type)), resumed.Select(e => (e.Id, e.Type)));
    }

    [Fact]
    public async Task Twelve_concurrent_posts_with_one_clientMessageId_store_one_message_over_HTTP()
    {
        var roomCode = await NewRoom(Http, ["Ada", "Grace"], "alice");
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "once", clientMessageId = "c-1" })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(11, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct());
        await AllIdle(Http, roomCode, TimeSpan.FromSeconds(30));
        var messages = await Messages(Http, roomCode);
        Assert.Single(messages, m => m.GetProperty("senderKind").GetString() == "player");
        Assert.Equal(2, messages.Count(m => m.GetProperty("senderKind").GetString() == "agent"));
    }

    [Fact]
    public async Task Bad_input_is_refused_with_the_documented_problems()
    {
        var roomCode = await NewRoom(Http, ["Ada"], "alice");
        var unknown = Ids.New("nowhere");
        await (await Http.GetAsync($"/api/rooms/{unknown}")).ExpectProblem(HttpStatusCode.NotFound, "room.not_found");
        await (await Http.GetAsync($"/api/rooms/{unknown}/messages")).ExpectProblem(HttpStatusCode.NotFound, "room.not_found");
        await (await Http.GetAsync($"/api/rooms/{unknown}/events")).ExpectProblem(HttpStatusCode.NotFound, "room.not_found");
        await (await Http.PutAsync($"/api/rooms/{unknown}/players/alice", null)).ExpectProblem(HttpStatusCode.NotFound, "room.not_found");
        await (await Http.PostJson($"/api/rooms/{unknown}/messages", new { senderId = "alice", text = "hi" })).ExpectProblem(HttpStatusCode.NotFound, "room.not_found");
        await (await Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "mallory", text = "hi" })).ExpectProblem(HttpStatusCode.Forbidden, "room.not_a_player");

        object[] badPosts =
        [
            new { senderId = "alice", text = "" },
            new { senderId = "alice", text = "   " },
            new { senderId = "alice" },
            new { senderId = "alice", text = new string('x', 8_001) },
            new { senderId = "bad id", text = "hi" },
            new { senderId = "alice", text = "hi", agentIds = new[] { "nobody" } },
            new { senderId = "alice", text = "hi", agentIds = new[] { "not valid!" } },
            new { senderId = "alice", text = "hi", agentIds = Enumerable.Range(0, 17).Select(i => $"a{i}").ToArray() },
            new { senderId = "alice", text = "hi", clientMessageId = "" },
            new { senderId = "alice", text = 5 },
        ];
        foreach (var body in badPosts)
        {
            await (await Http.PostJson($"/api/rooms/{roomCode}/messages", body)).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        }

        object Agent(string id, string name = "Ada", string persona = "kind") => new { agentId = id, name, persona };
        object[] badRooms =
        [
            new { agents = Array.Empty<object>() },
            new { },
            new { agents = Enumerable.Range(0, 17).Select(i => Agent($"a{i}")).ToArray() },
            new { agents = new[] { Agent("a"), Agent("a") } },
            new { agents = new[] { Agent("bad id") } },
            new { agents = new[] { Agent("a", name: "") } },
            new { agents = new[] { Agent("a", name: new string('n', 101)) } },
            new { agents = new[] { Agent("a", persona: new string('p', 2_001)) } },
            new { agents = new[] { Agent("a") }, replyPolicy = "some" },
        ];
        foreach (var body in badRooms)
        {
            await (await Http.PutAsJsonAsync($"/api/rooms/{Ids.New("room")}", body)).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        }

        await (await Http.GetAsync($"/api/rooms/{roomCode}/messages?limit=0")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.GetAsync($"/api/rooms/{roomCode}/messages?limit=1001")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.GetAsync($"/api/rooms/{roomCode}/messages?after=-1")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.GetAsync($"/api/rooms/{roomCode}/messages?after=abc")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.PutAsync($"/api/rooms/{roomCode}/players/bad%20id", null)).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.GetAsync("/api/rooms/-room")).ExpectProblem(HttpStatusCode.BadRequest, "validation");

        Assert.Empty(await Messages(Http, roomCode));
    }

    [Fact]
    public async Task Agent_replies_are_counted_on_metrics_and_rooms_show_on_the_dashboard()
    {
        var roomCode = await NewRoom(Http, ["Ada"], "alice");
        await (await Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "count me" })).Expect(HttpStatusCode.Created);
        await AllIdle(Http, roomCode, TimeSpan.FromSeconds(30));

        await Eventually.Poll(async () => await (await Http.GetAsync("/metrics")).Content.ReadAsStringAsync(),
            t => t.Contains("rooms_agent_replies"), TimeSpan.FromSeconds(20), "agent replies exported on /metrics");
        await Eventually.Poll(async () => await (await Http.GetAsync("/dashboard/DashboardCounters")).Content.ReadAsStringAsync(),
            t => t.Contains("RoomGrain") && t.Contains("GenerationWorkerGrain"), TimeSpan.FromSeconds(20), "room grains listed on the dashboard");
    }

    [Fact]
    public async Task A_stale_If_Match_on_a_room_change_is_refused_with_412()
    {
        var roomCode = await NewRoom(Http, ["Ada"]);
        var get = await Http.GetAsync($"/api/rooms/{roomCode}");
        var etag = get.Headers.ETag!.Tag;
        await (await Http.PutAsync($"/api/rooms/{roomCode}/players/alice", null)).Expect(HttpStatusCode.OK);

        using var stale = new HttpRequestMessage(HttpMethod.Put, $"/api/rooms/{roomCode}/players/bob");
        stale.Headers.TryAddWithoutValidation("If-Match", etag);
        await (await Http.SendAsync(stale)).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        var room = await (await Http.GetAsync($"/api/rooms/{roomCode}")).Expect(HttpStatusCode.OK);
        Assert.Equal(["alice"], room.GetProperty("players").EnumerateArray().Select(p => p.GetString()));
    }
}
