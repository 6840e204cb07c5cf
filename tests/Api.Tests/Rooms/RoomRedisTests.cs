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
        var agentMessages = state.Value.GetProperty("Messages").EnumerateArray().Where(m => Number(m, "SenderKind") == 1).ToList();
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
