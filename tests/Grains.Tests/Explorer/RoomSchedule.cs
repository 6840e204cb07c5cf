using Lectures.Grains.Common;
using Lectures.Grains.Rooms;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>An operation on a room: what players and operators do, or a <see cref="Fault"/>.</summary>
public abstract record RoomOp
{
    /// <summary>A post of text <c>m{Id}</c> (plus a responder marker); <paramref name="Targets"/> null triggers every agent.</summary>
    public sealed record Post(int Id, string Sender, string? ClientMessageId, string[]? Targets, string Marker) : RoomOp
    {
        public string Text => $"m{Id}{Marker}";

        public override string ToString() =>
            $"post m{Id} by {Sender}{(ClientMessageId is null ? "" : $" as {ClientMessageId}")}{(Targets is null ? "" : $" to [{string.Join(",", Targets)}]")}{Marker}";
    }

    /// <summary>The same post again (same sender, clientMessageId, text and targets), as a client retries.</summary>
    public sealed record Retry(Post Of) : RoomOp
    {
        public override string ToString() => $"retry of m{Of.Id}";
    }

    public sealed record Join(string Player) : RoomOp;

    public sealed record Leave(string Player) : RoomOp;

    /// <summary>Replaces the agents (an agent kept by id keeps its pair; a removed one's pair ends as interrupted).</summary>
    public sealed record PutAgents(AgentPlan[] Agents) : RoomOp
    {
        public override string ToString() => $"put agents [{string.Join(",", Agents.Select(a => a.ToString()))}]";
    }

    public sealed record Read : RoomOp;

    public sealed record Injected(Fault Fault) : RoomOp
    {
        public override string ToString() => Fault.ToString();
    }
}

public sealed record AgentPlan(string Id, string Behaviour)
{
    public override string ToString() => $"{Id}{Behaviour}";
}

/// <summary>One operation of a round: it starts <paramref name="OffsetMs"/> after the round does.</summary>
public sealed record Step<T>(int Index, int OffsetMs, T Op);

/// <summary>
/// A room's schedule, planned from a seed: its agents and players, then rounds of concurrent operations (posts, retries
/// with the same clientMessageId, joins and leaves, agent changes, reads) and faults (writes held, failed or passed;
/// slow or failing reminder writes; the room or an agent's worker deactivated; the loss check ticking), each round
/// followed by a pause in which generations go on.
/// </summary>
public sealed record RoomPlan(int Seed, AgentPlan[] Agents, string[] Players, List<(List<Step<RoomOp>> Ops, int PauseMs)> Rounds)
{
    public static readonly string[] AgentPool = ["a0", "a1", "a2", "a3"];
    public const string Stranger = "stranger";

    private static readonly string[] Behaviours = ["", "", "", " [slow]", " [slow]", " [throws]"];

    public static RoomPlan Make(int seed)
    {
        var c = new Choices(seed);
        var agents = AgentPool.Take(c.Between(1, 3)).Select(id => new AgentPlan(id, c.Pick(Behaviours))).ToArray();
        var players = Enumerable.Range(0, c.Between(2, 3)).Select(i => $"p{i}").ToArray();
        var everyone = players.Append(Stranger).ToArray();
        var posts = new List<RoomOp.Post>();
        var rounds = new List<(List<Step<RoomOp>>, int)>();
        var index = 0;
        for (var round = c.Between(4, 7); round > 0; round--)
        {
            var ops = new List<Step<RoomOp>>();
            var moved = new HashSet<string>();
            var putThisRound = false;
            for (var k = c.Between(2, 6); k > 0; k--)
            {
                var kind = c.Weighted(("post", 6), ("retry", 3), ("member", 2), ("agents", 1), ("read", 1), ("fault", 4));
                RoomOp op = kind switch
                {
                    "retry" when posts.Any(p => p.ClientMessageId is not null) => new RoomOp.Retry(c.Pick(posts.Where(p => p.ClientMessageId is not null).ToList())),
                    "member" when c.Pick(everyone) is var who && moved.Add(who) => c.Chance(0.5) ? new RoomOp.Join(who) : new RoomOp.Leave(who),
                    "agents" when !putThisRound && (putThisRound = true) => new RoomOp.PutAgents([.. c.Some(AgentPool, 0, 3).Select(id => new AgentPlan(id, c.Pick(Behaviours)))]),
                    "read" => new RoomOp.Read(),
                    "fault" => new RoomOp.Injected(PickFault(c)),
                    _ => NewPost(c, posts, players),
                };
                ops.Add(new Step<RoomOp>(index++, c.Between(0, 400), op));
            }

            rounds.Add((ops, c.Between(0, 1500)));
        }

        return new RoomPlan(seed, agents, players, rounds);
    }

    private static RoomOp.Post NewPost(Choices c, List<RoomOp.Post> posts, string[] players)
    {
        var post = new RoomOp.Post(posts.Count, c.Chance(0.1) ? Stranger : c.Pick(players), c.Chance(0.7) ? $"c{posts.Count}" : null,
            c.Chance(0.2) ? c.Some(AgentPool, 1, 2) : null, c.Pick(["", "", "", " [slow]"]));
        posts.Add(post);
        return post;
    }

    private static Fault PickFault(Choices c) => Fault.Pick(c, () => c.Pick(AgentPool), () => "lost-replies", tickWeight: 1);

    public IEnumerable<string> Describe()
    {
        yield return $"room seed {Seed}: agents [{string.Join(",", Agents.Select(a => a.ToString()))}], players [{string.Join(",", Players)}]";
        foreach (var (ops, pause) in Rounds)
        {
            yield return $"  round: {string.Join("; ", ops.Select(s => $"#{s.Index} +{s.OffsetMs}ms {s.Op}"))}; then pause {pause}ms";
        }
    }
}
