using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Lectures.Api.Tests.Rooms;

[Collection(RedisCollection.Name)]
public sealed class RoomRedisTests(RedisServer redis, ITestOutputHelper output)
{
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(3);

    private Dictionary<string, string?> Settings(string serviceId, TimeSpan builtinLatency) => new()
    {
        ["ConnectionStrings:Redis"] = redis.ConnectionString,
        ["Orleans:ServiceId"] = serviceId,
        ["Orleans:ClusterId"] = serviceId,
        ["Agents:ResponseTimeout"] = ResponseTimeout.ToString(),
        ["Agents:BuiltinLatency"] = builtinLatency.ToString(),
    };

    [RedisFact]
    public async Task Agents_responding_when_their_silo_is_killed_end_in_exactly_one_outcome_with_nobody_reading_the_room()
    {
        var serviceId = Ids.New("rooms-crash");
        // The responder takes a minute: only a silo that is gone leaves these pairs unfinished.
        var host = await HostProcess.StartApiAsync(Settings(serviceId, TimeSpan.FromMinutes(1)));
        var roomCode = await RoomApiTests.NewRoom(host.Http, ["Ada", "Grace"], "alice");
        var post = await (await host.Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "Anyone there?" })).Expect(HttpStatusCode.Created);
        var sincePost = Stopwatch.StartNew();
        var seq = post.GetProperty("seq").GetInt64();
        Assert.Equal(2, post.GetProperty("triggeredAgents").GetArrayLength());
        host.Kill();
        await host.DisposeAsync();

        await using var restarted = await host.RestartedAsync();
        var ready = Stopwatch.StartNew();
        // Nobody calls the API for this room: the state is read straight from Redis.
        await using var connection = await redis.ConnectAsync();
        var state = await Eventually.Poll(() => ReadStoredRoomAsync(connection, serviceId, roomCode),
            s => s is { } r && r.GetProperty("Agents").EnumerateArray().All(a => Number(a, "RespondingTo") is null),
            ResponseTimeout + TimeSpan.FromSeconds(15), "every pair ended in Redis by the reminder");
        output.WriteLine($"pairs ended {ready.Elapsed} after the new host was ready, {sincePost.Elapsed} after the post (bound: ResponseTimeout {ResponseTimeout} + 15 s)");

        output.WriteLine(state!.Value.ToString());
        var stored = await ReadStoredMessagesAsync(connection, serviceId, roomCode, state.Value);
        var agentMessages = stored.Where(m => Number(m, "SenderKind") == 1).ToList();
        Assert.Equal(["ada", "grace"], agentMessages.Select(m => m.GetProperty("SenderId").GetString()).Order());
        Assert.All(agentMessages, m =>
        {
            Assert.Equal(seq, m.GetProperty("InReplyTo").GetInt64());
            Assert.Equal(1, m.GetProperty("Outcome").GetInt32());
            Assert.Equal("interrupted", m.GetProperty("Error").GetString());
        });

        // And the API agrees, with the events of the ending.
        var messages = await RoomApiTests.Messages(restarted.Http, roomCode);
        Assert.Equal(2, messages.Count(m => m.GetProperty("senderKind").GetString() == "agent" && m.GetProperty("error").GetString() == "interrupted"));
    }

    [RedisFact]
    public async Task A_post_stays_fast_at_ten_and_at_a_thousand_stored_messages()
    {
        await using var host = await HostProcess.StartApiAsync(Settings(Ids.New("rooms-latency"), TimeSpan.FromSeconds(3)));
        var http = host.Http;

        async Task<double[]> TimePosts(string roomCode, int count)
        {
            var times = new double[count];
            for (var i = 0; i < count; i++)
            {
                var watch = Stopwatch.StartNew();
                await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = $"measured message {i} with a sentence of ordinary length", agentIds = Array.Empty<string>() }))
                    .Expect(HttpStatusCode.Created);
                times[i] = watch.Elapsed.TotalMilliseconds;
            }

            return times;
        }

        // Ten stored messages: fresh rooms with ten messages each, one measured post per room.
        var small = new List<double>();
        for (var r = 0; r < 40; r++)
        {
            var roomCode = await RoomApiTests.NewRoom(http, ["Ada", "Grace"], "alice");
            await TimePosts(roomCode, 10);
            small.AddRange(await TimePosts(roomCode, 1));
        }

        // A thousand: one room filled to Rooms:MaxMessages, then every post trims one, so it stays at a thousand.
        var full = await RoomApiTests.NewRoom(http, ["Ada", "Grace"], "alice");
        await TimePosts(full, 1000);
        var large = await TimePosts(full, 200);
        var page = await (await http.GetAsync($"/api/rooms/{full}/messages?limit=1000")).Expect(HttpStatusCode.OK);
        Assert.Equal(1000, page.GetProperty("messages").GetArrayLength());
        Assert.Equal(201, page.GetProperty("trimmedBefore").GetInt64());

        string Describe(List<double> t) => $"p50 {Percentile(t, 0.5):F2} ms, p95 {Percentile(t, 0.95):F2} ms, mean {t.Average():F2} ms (n={t.Count})";
        output.WriteLine($"post latency (Redis mode, one client) at 10 stored messages: {Describe(small)}");
        output.WriteLine($"post latency (Redis mode, one client) at 1,000 stored messages: {Describe([.. large])}");
        Console.WriteLine($"ROOMS-LATENCY 10: {Describe(small)} | 1000: {Describe([.. large])}");
        Assert.True(Percentile([.. large], 0.5) < 250, "a post at a thousand stored messages stays well under a quarter second");
    }

    [RedisFact]
    public async Task A_room_keeps_its_messages_in_pages_its_record_small_and_no_replaced_page_left_behind()
    {
        var serviceId = Ids.New("rooms-pages");
        var settings = Settings(serviceId, TimeSpan.FromMilliseconds(50));
        settings["Rooms:MaxMessages"] = "20";
        await using var host = await HostProcess.StartApiAsync(settings);
        var roomCode = await RoomApiTests.NewRoom(host.Http, ["Ada"], "alice");
        var text = string.Concat(Enumerable.Repeat("Сообщение ", 700));
        for (var i = 0; i < 45; i++)
        {
            await (await host.Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = $"{i} {text}", clientMessageId = $"c-{i}", agentIds = Array.Empty<string>() }))
                .Expect(HttpStatusCode.Created);
        }

        await using var connection = await redis.ConnectAsync();
        var record = (await ReadStoredRoomAsync(connection, serviceId, roomCode))!.Value;
        Assert.DoesNotContain("Сообщение", record.ToString());
        Assert.True(record.ToString().Length < 4_000, $"the record is {record.ToString().Length} characters");
        var messages = await ReadStoredMessagesAsync(connection, serviceId, roomCode, record);
        Assert.Equal(Enumerable.Range(26, 20).Select(i => (long)i), messages.Select(m => m.GetProperty("Seq").GetInt64()));
        Assert.StartsWith("44 Сообщение", messages[^1].GetProperty("Text").GetString());

        // Every page key in Redis is one the record lists (replaced versions are deleted once the record is written).
        var listed = record.GetProperty("MessagePages").GetArrayLength() + record.GetProperty("ClientPostPages").GetArrayLength();
        await Eventually.Poll(async () => (await PageKeysAsync(connection, serviceId, roomCode)).Count, n => n == listed, TimeSpan.FromSeconds(10),
            $"only the {listed} listed pages stored");

        // A trimmed message's clientMessageId is still remembered.
        var retry = await (await host.Http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "0 again", clientMessageId = "c-0", agentIds = Array.Empty<string>() }))
            .Expect(HttpStatusCode.OK);
        Assert.Equal(1, retry.GetProperty("seq").GetInt64());
    }

    [RedisFact]
    public async Task A_room_stored_in_the_old_format_is_read_as_it_is_and_moved_into_pages_by_its_next_write()
    {
        var serviceId = Ids.New("rooms-legacy");
        var host = await HostProcess.StartApiAsync(Settings(serviceId, TimeSpan.FromMilliseconds(50)));
        var roomCode = await RoomApiTests.NewRoom(host.Http, ["Ada"], "alice");
        host.Kill();
        await host.DisposeAsync();

        // The record as the earlier version wrote it: every message in it, clientMessageIds of kept messages beside them.
        await using var connection = await redis.ConnectAsync();
        var key = (await RecordKeyAsync(connection, serviceId, roomCode))!.Value;
        var at = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O");
        var legacy = $$$"""
            {"Exists":true,"ReplyPolicy":"all","Agents":[{"AgentId":"ada","Name":"Ada","Persona":"kind","RespondingTo":null,"RespondingSince":null}],
             "Players":["alice"],"Messages":[
               {"Seq":7,"SenderId":"alice","SenderKind":0,"Text":"старое сообщение","InReplyTo":null,"Outcome":null,"Error":null,"At":"{{{at}}}","ClientMessageId":"old-1"},
               {"Seq":8,"SenderId":"ada","SenderKind":1,"Text":"old reply","InReplyTo":7,"Outcome":0,"Error":null,"At":"{{{at}}}","ClientMessageId":null}],
             "LastSeq":8,"ClientMessages":{"alice\nold-1":{"Seq":7,"Triggered":["ada"],"Skipped":[]}},"Version":20}
            """;
        await connection.GetDatabase().HashSetAsync(key, "data", legacy);

        await using var restarted = await host.RestartedAsync();
        var http = restarted.Http;
        var page = await (await http.GetAsync($"/api/rooms/{roomCode}/messages")).Expect(HttpStatusCode.OK);
        Assert.Equal([7L, 8L], page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("seq").GetInt64()));
        var repeat = await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "старое сообщение", clientMessageId = "old-1" }))
            .Expect(HttpStatusCode.OK);
        Assert.Equal(["ada"], repeat.GetProperty("triggeredAgents").EnumerateArray().Select(a => a.GetString()));

        var posted = await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "new", clientMessageId = "new-1", agentIds = Array.Empty<string>() }))
            .Expect(HttpStatusCode.Created);
        Assert.Equal(9, posted.GetProperty("seq").GetInt64());
        var record = (await ReadStoredRoomAsync(connection, serviceId, roomCode))!.Value;
        Assert.True(!record.TryGetProperty("Messages", out var inline) || inline.ValueKind == JsonValueKind.Null, "the record still holds the messages");
        Assert.Equal([7L, 8L, 9L], (await ReadStoredMessagesAsync(connection, serviceId, roomCode, record)).Select(m => m.GetProperty("Seq").GetInt64()));
        await (await http.PostJson($"/api/rooms/{roomCode}/messages", new { senderId = "alice", text = "старое сообщение", clientMessageId = "old-1" }))
            .Expect(HttpStatusCode.OK);

        // A client from before the move cannot be given what it missed message by message: it gets a snapshot.
        var events = await http.ReadEventsAsync($"/api/rooms/{roomCode}/events", 19, _ => true, TimeSpan.FromSeconds(10));
        Assert.Equal("room", events[0].Type);
    }

    /// <summary>The stored messages the record lists, in order (each page holds the count the record gives it).</summary>
    private static async Task<List<JsonElement>> ReadStoredMessagesAsync(IConnectionMultiplexer connection, string serviceId, string roomCode, JsonElement record)
    {
        var keys = await PageKeysAsync(connection, serviceId, roomCode);
        var messages = new List<JsonElement>();
        foreach (var page in record.GetProperty("MessagePages").EnumerateArray())
        {
            var name = $"/messages-0-{page.GetProperty("Number").GetInt64()}-{page.GetProperty("Version").GetInt64()}";
            var key = keys.Single(k => k.EndsWith(name, StringComparison.Ordinal));
            var data = await connection.GetDatabase().HashGetAsync(key, "data");
            // A page may start before the first kept message (trimmed entries of a page that did not change otherwise).
            var first = page.GetProperty("First").GetInt64();
            messages.AddRange(JsonDocument.Parse(data.ToString()).RootElement.GetProperty("Entries").EnumerateArray()
                .Take(page.GetProperty("Count").GetInt32()).Select((e, i) => (Index: first + i, Entry: e.Clone()))
                .Where(x => x.Index >= record.GetProperty("MessageStart").GetInt64()).Select(x => x.Entry));
        }

        return messages;
    }

    private static async Task<List<string>> PageKeysAsync(IConnectionMultiplexer connection, string serviceId, string roomCode)
    {
        var keys = new List<string>();
        await foreach (var key in connection.GetServers()[0].KeysAsync(pattern: $"{serviceId}/state/*{roomCode}*"))
        {
            if (key.ToString().Contains("/messages-", StringComparison.Ordinal) || key.ToString().Contains("/client-posts-", StringComparison.Ordinal))
            {
                keys.Add(key.ToString());
            }
        }

        return keys;
    }

    private static async Task<RedisKey?> RecordKeyAsync(IConnectionMultiplexer connection, string serviceId, string roomCode)
    {
        await foreach (var key in connection.GetServers()[0].KeysAsync(pattern: $"{serviceId}/state/*{roomCode}*"))
        {
            if (key.ToString().EndsWith("/room", StringComparison.Ordinal))
            {
                return key;
            }
        }

        return null;
    }

    /// <summary>A stored number; null when the store left it out or wrote null.</summary>
    private static long? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;

    private static double Percentile(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
    }

    private static async Task<JsonElement?> ReadStoredRoomAsync(IConnectionMultiplexer connection, string serviceId, string roomCode)
    {
        var server = connection.GetServers()[0];
        await foreach (var key in server.KeysAsync(pattern: $"{serviceId}/state/*{roomCode}*"))
        {
            if (!key.ToString().EndsWith("/room", StringComparison.Ordinal))
            {
                continue;
            }

            var data = await connection.GetDatabase().HashGetAsync(key, "data");
            return data.IsNullOrEmpty ? null : JsonDocument.Parse(data.ToString()).RootElement.Clone();
        }

        return null;
    }
}
