using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace Lectures.Api.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class SessionRedisTests(RedisServer redis)
{
    private Dictionary<string, string?> Settings(string serviceId, Dictionary<string, string?> more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Orleans:ServiceId"] = serviceId,
            ["Orleans:ClusterId"] = serviceId,
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    [RedisFact]
    public async Task An_idle_session_is_deleted_from_the_store_and_a_processing_one_is_kept()
    {
        var serviceId = Ids.New("sessions-idle");
        await using var host = await HostProcess.StartApiAsync(Settings(serviceId, new()
        {
            ["Sessions:IdleExpiry"] = "00:00:03",
            ["Sessions:BuiltinLatency"] = "00:00:40",
            ["Sessions:ResponseTimeout"] = "00:01:00",
        }));
        await using var connection = await redis.ConnectAsync();
        var idle = Ids.New("idle");
        var busy = Ids.New("busy");
        await (await host.Http.PostJson($"/api/users/{idle}/messages?wait=false", new { text = "hello" })).Expect(HttpStatusCode.Accepted);
        await (await host.Http.PostJson($"/api/users/{idle}/cancel", new { })).Expect(HttpStatusCode.OK);
        await (await host.Http.PostJson($"/api/users/{busy}/messages?wait=false", new { text = "a long one" })).Expect(HttpStatusCode.Accepted);
        Assert.NotNull(await ReadStoredSessionAsync(connection, serviceId, idle));

        var clock = Stopwatch.StartNew();
        // Nobody reads either session meanwhile: the idle one goes by itself.
        await Eventually.Poll(() => ReadStoredSessionAsync(connection, serviceId, idle), s => s is null, TimeSpan.FromSeconds(20), "idle session deleted from Redis");
        Console.WriteLine($"idle session deleted {clock.Elapsed} after it went idle (IdleExpiry 3 s)");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2), $"deleted too early: {clock.Elapsed}");
        // Its history pages go with it: nothing of the deleted session is left to come back.
        await Eventually.Poll(() => StoredKeysAsync(connection, serviceId, idle), keys => keys.Count == 0, TimeSpan.FromSeconds(10), "no record or page of the idle session left");
        // Idle for longer than the expiry too, but processing: kept.
        var kept = await ReadStoredSessionAsync(connection, serviceId, busy);
        Assert.NotNull(kept);
        Assert.False(string.IsNullOrEmpty(kept!.Value.GetProperty("ActiveRequestId").GetString()));

        // An expired session starts again empty.
        await (await host.Http.GetAsync($"/api/users/{idle}/session")).ExpectProblem(HttpStatusCode.NotFound, "session.not_found");
    }

    [RedisFact]
    public async Task A_request_in_flight_when_its_silo_is_killed_ends_as_failed_and_the_session_accepts_a_new_message()
    {
        var serviceId = Ids.New("sessions-crash");
        var responseTimeout = TimeSpan.FromSeconds(20);
        var host = await HostProcess.StartApiAsync(Settings(serviceId, new()
        {
            ["Sessions:BuiltinLatency"] = "00:05:00",
            ["Sessions:ResponseTimeout"] = responseTimeout.ToString(),
        }));
        var user = Ids.New("crash");
        var sent = await (await host.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = "never answered" })).Expect(HttpStatusCode.Accepted);
        var requestId = sent.GetProperty("requestId").GetString();
        host.Kill();
        var killedAt = Stopwatch.StartNew();
        await host.DisposeAsync();

        await using var restarted = await host.RestartedAsync();
        await using var connection = await redis.ConnectAsync();
        // Nobody calls the API for this user: the recovery reminder finds the lost request.
        var state = await Eventually.Poll(() => ReadStoredSessionAsync(connection, serviceId, user),
            s => s is { } j && (!j.TryGetProperty("ActiveRequestId", out var active) || active.ValueKind == JsonValueKind.Null),
            responseTimeout + TimeSpan.FromSeconds(15) + TimeSpan.FromSeconds(15), "lost request ended in Redis");
        Console.WriteLine($"lost request failed {killedAt.Elapsed} after the kill (bound ResponseTimeout + 15 s = {responseTimeout + TimeSpan.FromSeconds(15)})");
        Assert.True(killedAt.Elapsed < responseTimeout + TimeSpan.FromSeconds(15), $"took {killedAt.Elapsed}");
        Assert.True(state!.Value.GetProperty("Exists").GetBoolean());

        var session = await (await restarted.Http.GetAsync($"/api/users/{user}/session")).Expect(HttpStatusCode.OK);
        Assert.Equal(requestId, session.GetProperty("history")[0].GetProperty("requestId").GetString());
        Assert.Equal("failed", session.GetProperty("history")[0].GetProperty("status").GetString());
        await (await restarted.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = "again" })).Expect(HttpStatusCode.Accepted);
    }

    private static async Task<List<string>> StoredKeysAsync(IConnectionMultiplexer connection, string serviceId, string userId)
    {
        var keys = new List<string>();
        await foreach (var key in connection.GetServers()[0].KeysAsync(pattern: $"{serviceId}/state/*{userId}*"))
        {
            keys.Add(key.ToString());
        }

        return keys;
    }

    private static async Task<JsonElement?> ReadStoredSessionAsync(IConnectionMultiplexer connection, string serviceId, string userId)
    {
        var server = connection.GetServers()[0];
        // The session's record (state name "session"); its history is in page records beside it.
        await foreach (var key in server.KeysAsync(pattern: $"{serviceId}/state/*{userId}*/session"))
        {
            var data = await connection.GetDatabase().HashGetAsync(key, "data");
            return data.IsNullOrEmpty ? null : JsonDocument.Parse(data.ToString()).RootElement.Clone();
        }

        return null;
    }
}
