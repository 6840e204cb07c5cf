using System.Collections.Concurrent;
using System.Text.Json;

namespace Lectures.Cluster.Tests.Load;

/// <summary>
/// Room players: each client creates its own rooms of two agents in turn, joins them and posts messages, each with a
/// <c>clientMessageId</c>; a post that failed or whose answer was lost is retried with the same id. Recorded: every
/// acknowledged room, join and message (its seq and the agents it triggered).
/// </summary>
public sealed class RoomsWorkload(string run, TimeSpan responseTimeout) : IWorkload
{
    private const int MessagesPerRoom = 60;
    private static readonly string[] Agents = ["ada", "alan"];
    private readonly ConcurrentDictionary<string, RoomRecord> _rooms = new();

    public string Name => "room messages";

    public Task PrepareAsync(Driver driver) => Task.CompletedTask;

    public async Task RunClientAsync(Driver driver, int client, CancellationToken stop)
    {
        var player = $"p{client}";
        RoomRecord? room = null;
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            if (n % MessagesPerRoom == 0)
            {
                // A fresh room every MessagesPerRoom posts keeps each room's history within one read (limit 1,000).
                room = await OpenRoomAsync(driver, $"{run}-room-{client}-{n / MessagesPerRoom}", player, stop);
                if (room is null)
                {
                    return;
                }
            }

            var clientMessageId = $"{run}-{client}-{n}";
            room!.Tried[clientMessageId] = 0;
            var body = new { senderId = player, text = $"message {clientMessageId}", clientMessageId };
            var reply = await Requests.UntilSettledAsync(
                () => driver.PostAsync("rooms.post", $"/api/rooms/{room.RoomCode}/messages", body), stop);
            if (reply is { IsAck: true })
            {
                var seq = reply.Body.GetProperty("seq").GetInt64();
                var triggered = reply.Body.GetProperty("triggeredAgents").EnumerateArray().Select(a => a.GetString()!).ToList();
                room.Posts.Add(new PostRecord(clientMessageId, seq, triggered, reply.Status));
            }

            await Task.Delay(Load.ThinkTime);
        }
    }

    private async Task<RoomRecord?> OpenRoomAsync(Driver driver, string roomCode, string player, CancellationToken stop)
    {
        var definition = new { agents = Agents.Select(a => new { agentId = a, name = a, persona = $"{a}, a fault-suite participant" }), replyPolicy = "all" };
        var put = await Requests.UntilSettledAsync(() => driver.SendAsync("rooms.put", HttpMethod.Put, $"/api/rooms/{roomCode}", definition, null), stop);
        if (put is not { IsAck: true })
        {
            return null;
        }

        var join = await Requests.UntilSettledAsync(
            () => driver.SendAsync("rooms.join", HttpMethod.Put, $"/api/rooms/{roomCode}/players/{player}", null, null), stop);
        if (join is not { IsAck: true })
        {
            return null;
        }

        return _rooms[roomCode] = new RoomRecord(roomCode, player);
    }

    public async Task VerifyAsync(Driver driver, Findings findings)
    {
        // Agents whose generation died with a silo must be idle again within Agents:ResponseTimeout + 15 s.
        var deadline = responseTimeout + TimeSpan.FromSeconds(15);
        var settle = System.Diagnostics.Stopwatch.StartNew();
        var busy = _rooms.Keys.ToHashSet();
        while (busy.Count > 0 && settle.Elapsed < deadline + TimeSpan.FromSeconds(15))
        {
            foreach (var roomCode in busy.ToList())
            {
                var room = await Requests.ReadAsync(driver, "verify.room", $"/api/rooms/{roomCode}");
                if (room.IsAck && room.Body.GetProperty("agents").EnumerateArray().All(a => a.Str("status") == "idle"))
                {
                    busy.Remove(roomCode);
                }
            }

            if (busy.Count > 0)
            {
                await Task.Delay(250);
            }
        }

        findings.Figures["rooms: every agent idle after"] = $"{settle.Elapsed.TotalSeconds:0.0} s (limit {deadline.TotalSeconds:0} s)";
        if (settle.Elapsed > deadline || busy.Count > 0)
        {
            findings.Problem($"rooms: {busy.Count} rooms still had a responding agent {settle.Elapsed.TotalSeconds:0.0} s into verification " +
                $"(limit Agents:ResponseTimeout + 15 s = {deadline.TotalSeconds:0} s): {string.Join(", ", busy.Take(5))}");
        }

        int pairs = 0, replies = 0, failures = 0;
        var errors = new ConcurrentDictionary<string, int>();
        foreach (var record in _rooms.Values)
        {
            findings.Acked(Name, 2 + record.Posts.Count);
            var room = await Requests.ReadAsync(driver, "verify.room", $"/api/rooms/{record.RoomCode}");
            if (!room.IsAck)
            {
                findings.LostOne(Name, $"room {record.RoomCode} was acknowledged but GET answers {room.Status} {room.Code}");
                continue;
            }

            if (!room.Body.GetProperty("players").EnumerateArray().Any(p => p.GetString() == record.Player))
            {
                findings.LostOne(Name, $"player {record.Player} joined {record.RoomCode} (acknowledged) but is not in it");
            }

            var page = await Requests.ReadAsync(driver, "verify.room_messages", $"/api/rooms/{record.RoomCode}/messages?after=0&limit=1000");
            if (!page.IsAck)
            {
                findings.Problem($"rooms: messages of {record.RoomCode} unreadable: {page.Status} {page.Code}");
                continue;
            }

            var messages = page.Body.GetProperty("messages").EnumerateArray().ToList();
            var players = messages.Where(m => m.Str("senderKind") == "player").ToList();
            var bySeq = players.ToDictionary(m => m.GetProperty("seq").GetInt64());
            foreach (var post in record.Posts)
            {
                if (!bySeq.TryGetValue(post.Seq, out var stored) || stored.Str("text") != $"message {post.ClientMessageId}")
                {
                    findings.LostOne(Name, $"message {post.ClientMessageId} of {record.RoomCode} acknowledged as seq {post.Seq} but not stored there");
                }
            }

            foreach (var twice in players.GroupBy(m => m.Str("text")).Where(g => g.Count() > 1))
            {
                findings.DuplicatedOne(Name, $"{record.RoomCode} stores '{twice.Key}' {twice.Count()} times (seqs {string.Join(", ", twice.Select(m => m.GetProperty("seq").GetInt64()))})");
            }

            foreach (var stray in players.Where(m => !record.Tried.ContainsKey(m.Str("text")!["message ".Length..])))
            {
                findings.Problem($"rooms: {record.RoomCode} stores a message nobody posted: {stray}");
            }

            // Every triggered (agent, seq) pair ends in exactly one agent message, reply or failure.
            var outcomes = messages.Where(m => m.Str("senderKind") == "agent")
                .GroupBy(m => (Agent: m.Str("senderId")!, Seq: (long)(m.Num("inReplyTo") ?? -1)))
                .ToDictionary(g => g.Key, g => g.ToList());
            foreach (var (pair, answers) in outcomes.Where(o => o.Value.Count > 1))
            {
                findings.DuplicatedOne(Name, $"{record.RoomCode}: agent {pair.Agent} has {answers.Count} outcomes for seq {pair.Seq}");
            }

            foreach (var post in record.Posts)
            {
                foreach (var agent in post.Triggered)
                {
                    pairs++;
                    if (!outcomes.TryGetValue((agent, post.Seq), out var answers))
                    {
                        findings.LostOne(Name, $"{record.RoomCode}: agent {agent} was triggered by seq {post.Seq} and has no outcome");
                        continue;
                    }

                    if (answers[0].Str("outcome") == "reply")
                    {
                        replies++;
                    }
                    else
                    {
                        failures++;
                        errors.AddOrUpdate(answers[0].Str("error") ?? "?", 1, (_, n) => n + 1);
                    }
                }
            }
        }

        findings.Figures["rooms"] = _rooms.Count.ToString();
        findings.Figures["rooms: triggered (agent, seq) pairs"] = $"{pairs}: {replies} replies, {failures} failed ({string.Join(", ", errors.Select(e => $"{e.Key} {e.Value}"))})";
        findings.Figures["rooms: posts answered 200 (a retry of a stored post)"] = _rooms.Values.Sum(r => r.Posts.Count(p => p.Status == 200)).ToString();
    }

    private sealed record PostRecord(string ClientMessageId, long Seq, IReadOnlyList<string> Triggered, int Status);

    private sealed class RoomRecord(string roomCode, string player)
    {
        public string RoomCode { get; } = roomCode;
        public string Player { get; } = player;
        public ConcurrentDictionary<string, byte> Tried { get; } = new();
        public ConcurrentBag<PostRecord> Posts { get; } = [];
    }
}
