using System.Collections.Concurrent;
using System.Text.Json;

namespace LoadGen.Scenarios;

/// <summary>
/// Players post into up to 200 rooms (<c>--keys</c>) of 3 agents and 4 players each, every post with a
/// <c>clientMessageId</c>, one in ten a retry of an earlier one. Agents reply in the background. Invariant, read back
/// once every agent is idle: every triggered (agent, seq) pair has exactly one agent message (reply or failed), no
/// agent message answers a pair that was not triggered, every player message stored is one the run created (a retry
/// stored nothing), and every retry answered the original seq.
/// </summary>
public sealed class RoomsChatScenario(string runId) : IScenario
{
    private const int Players = 4;
    private static readonly string[] AgentIds = ["ada", "grace", "alan"];
    private static readonly TimeSpan SettleDeadline = TimeSpan.FromSeconds(120);

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<(string Agent, long Seq), byte>> _triggered = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<long, byte>> _posted = new();
    private readonly ConcurrentDictionary<string, long> _seqByClientId = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly Post?[] _recent = new Post?[64];
    private int _recentSlot;
    private long _sequence;
    private long _retries;
    private string[] _rooms = [];

    public string Name => "rooms-chat";

    public async Task PrepareAsync(HttpClient http, Options options)
    {
        _rooms = Enumerable.Range(0, Math.Max(1, Math.Min(options.Keys, 200))).Select(i => $"lg-{runId}-room-{i}").ToArray();
        var definition = JsonSerializer.Serialize(new
        {
            agents = AgentIds.Select(a => new { agentId = a, name = a, persona = $"{a}, a load-test participant" }),
            replyPolicy = "all",
        });
        await Http.ForEachAsync(_rooms.Length, async i =>
        {
            using var content = new StringContent(definition, System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PutAsync($"/api/rooms/{_rooms[i]}", content);
            for (var p = 0; p < Players && response.IsSuccessStatusCode; p++)
            {
                using var join = await http.PutAsync($"/api/rooms/{_rooms[i]}/players/player-{p}", null);
                if (!join.IsSuccessStatusCode)
                {
                    return (int)join.StatusCode;
                }
            }

            return (int)response.StatusCode;
        }, 200);
    }

    public async Task<int> ExecuteAsync(HttpClient http, int client)
    {
        var earlier = Random.Shared.Next(10) == 0 ? Volatile.Read(ref _recent[Random.Shared.Next(_recent.Length)]) : null;
        var (room, player, clientId) = earlier
            ?? new Post(_rooms[Random.Shared.Next(_rooms.Length)], $"player-{Random.Shared.Next(Players)}", $"{runId}-{Interlocked.Increment(ref _sequence)}");
        var body = JsonSerializer.Serialize(new { senderId = player, text = $"message {clientId} from {player}", clientMessageId = clientId });
        var (status, answer) = await http.PostReadAsync($"/api/rooms/{room}/messages", body);
        if (status is not (200 or 201))
        {
            return status;
        }

        var seq = answer.GetProperty("seq").GetInt64();
        if (earlier is not null || status == 200)
        {
            Interlocked.Increment(ref _retries);
            if (!_seqByClientId.TryGetValue(clientId, out var original) || original != seq)
            {
                _violations.Enqueue($"retry of {clientId} answered seq {seq}, the first post answered {original}");
            }

            return status;
        }

        _seqByClientId[clientId] = seq;
        _posted.GetOrAdd(room, _ => new()).TryAdd(seq, 0);
        var triggered = _triggered.GetOrAdd(room, _ => new());
        foreach (var agent in answer.GetProperty("triggeredAgents").EnumerateArray())
        {
            triggered.TryAdd((agent.GetString()!, seq), 0);
        }

        Volatile.Write(ref _recent[Interlocked.Increment(ref _recentSlot) & (_recent.Length - 1)], new Post(room, player, clientId));
        return status;
    }

    public async Task<Verdict> VerifyAsync(HttpClient http)
    {
        if (_violations.TryPeek(out var violation))
        {
            return Verdict.Fail(violation);
        }

        var until = DateTime.UtcNow + SettleDeadline;
        int pairs = 0, replies = 0, failed = 0, trimmedPairs = 0;
        foreach (var room in _rooms)
        {
            while (true)
            {
                var state = await http.GetJsonAsync($"/api/rooms/{room}");
                if (state.GetProperty("agents").EnumerateArray().All(a => a.GetProperty("status").GetString() == "idle"))
                {
                    break;
                }

                if (DateTime.UtcNow > until)
                {
                    return Verdict.Fail($"{room}: agents still responding {SettleDeadline} after the run");
                }

                await Task.Delay(200);
            }

            var page = await http.GetJsonAsync($"/api/rooms/{room}/messages?limit=1000");
            var trimmedBefore = page.GetProperty("trimmedBefore").GetInt64();
            var messages = page.GetProperty("messages").EnumerateArray().ToList();
            var triggered = _triggered.GetValueOrDefault(room)?.Keys.ToHashSet() ?? [];
            var posted = _posted.GetValueOrDefault(room)?.Keys.Where(s => s >= trimmedBefore).Order().ToList() ?? [];

            var stored = messages.Where(m => m.GetProperty("senderKind").GetString() == "player").Select(m => m.GetProperty("seq").GetInt64()).ToList();
            if (!stored.SequenceEqual(posted))
            {
                return Verdict.Fail($"{room}: {stored.Count} player messages stored, {posted.Count} created by the run (a retry stored twice, or one is lost)");
            }

            var answered = new HashSet<(string, long)>();
            foreach (var m in messages.Where(m => m.GetProperty("senderKind").GetString() == "agent"))
            {
                var pair = (m.GetProperty("senderId").GetString()!, m.GetProperty("inReplyTo").GetInt64());
                if (!answered.Add(pair))
                {
                    return Verdict.Fail($"{room}: agent {pair.Item1} answered message {pair.Item2} twice");
                }

                if (!triggered.Contains(pair))
                {
                    return Verdict.Fail($"{room}: agent {pair.Item1} answered message {pair.Item2}, which did not trigger it");
                }

                if (m.GetProperty("outcome").GetString() == "reply")
                {
                    replies++;
                }
                else
                {
                    failed++;
                }
            }

            foreach (var pair in triggered)
            {
                if (pair.Seq < trimmedBefore)
                {
                    trimmedPairs++;
                }
                else if (!answered.Contains(pair))
                {
                    return Verdict.Fail($"{room}: agent {pair.Agent} never answered message {pair.Seq}");
                }
            }

            pairs += triggered.Count;
        }

        return Verdict.Pass($"{pairs} triggered pairs over {_rooms.Length} rooms: {replies} replies, {failed} failed, none twice, none untriggered" +
            $"{(trimmedPairs > 0 ? $" ({trimmedPairs} trimmed away before the check)" : "")}; {Interlocked.Read(ref _retries)} clientMessageId retries answered the original");
    }

    private sealed record Post(string Room, string Player, string ClientId);
}
