using Lectures.Grains.Common;
using Lectures.Grains.Rooms;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// DESIGN.md's invariant 2 and its neighbours, judged on a settled room run: on the room as stored and on what each
/// caller was answered. Each check names what it holds and returns its violations.
/// </summary>
public static class RoomInvariants
{
    public static IEnumerable<string> All(RoomOutcome o) =>
        EveryTriggeredPairEndsExactlyOnce(o)
            .Concat(NoAgentRunsTwoGenerationsAtOnce(o))
            .Concat(ARepeatedClientMessageIdIsStoredOnce(o))
            .Concat(NothingAcknowledgedIsLost(o))
            .Concat(NothingAnsweredAsFailedIsStored(o))
            .Concat(RefusalsAndAcceptancesRestOnWrittenState(o))
            .Concat(AReplyGeneratedInTimeIsStored(o))
            .Concat(FailuresAreRefusalsOrStorageUnavailable(o));

    public static IEnumerable<string> EveryTriggeredPairEndsExactlyOnce(RoomOutcome o)
    {
        if (!o.Settled || o.Stored.Agents.Any(a => a.Status != AgentStatus.Idle))
        {
            yield return $"pairs without an outcome at the deadline: {string.Join(", ", o.Stored.Agents.Where(a => a.RespondingTo is not null).Select(a => $"({a.AgentId}, {a.RespondingTo})"))}";
        }

        var triggered = Created(o).SelectMany(c => c.Result.TriggeredAgents.Select(a => (Agent: a, c.Result.Seq))).ToHashSet();
        var ended = o.Messages.Where(m => m.SenderKind == SenderKind.Agent).GroupBy(m => (Agent: m.SenderId, Seq: m.InReplyTo ?? -1)).ToDictionary(g => g.Key, g => g.Count());
        foreach (var pair in triggered.Where(p => ended.GetValueOrDefault(p) != 1))
        {
            yield return $"triggered pair ({pair.Agent}, {pair.Seq}) has {ended.GetValueOrDefault(pair)} outcomes, not 1";
        }

        foreach (var pair in ended.Keys.Where(p => !triggered.Contains(p)))
        {
            yield return $"an outcome for ({pair.Agent}, {pair.Seq}), a pair no acknowledged post triggered";
        }
    }

    public static IEnumerable<string> NoAgentRunsTwoGenerationsAtOnce(RoomOutcome o) =>
        o.MostConcurrentCalls.Where(c => c.Value > 1).Select(c => $"agent {c.Key} had {c.Value} generations in flight at once");

    public static IEnumerable<string> ARepeatedClientMessageIdIsStoredOnce(RoomOutcome o)
    {
        foreach (var (post, calls) in PostCalls(o))
        {
            var answers = calls.Where(c => c.Acked).Select(c => (PostResult)c.Result!).ToList();
            var stored = o.Messages.Where(m => m.SenderKind == SenderKind.Player && m.Text == post.Text).ToList();
            if (answers.Count(a => a.Created) > 1)
            {
                yield return $"m{post.Id} was created {answers.Count(a => a.Created)} times (seqs {string.Join(",", answers.Where(a => a.Created).Select(a => a.Seq))})";
            }

            if (answers.Select(a => (a.Seq, string.Join(",", a.TriggeredAgents), string.Join(",", a.SkippedAgents))).Distinct().Count() > 1)
            {
                yield return $"m{post.Id}'s answers differ: {string.Join(" | ", answers)}";
            }

            if (stored.Count > 1)
            {
                yield return $"m{post.Id} is stored {stored.Count} times (seqs {string.Join(",", stored.Select(m => m.Seq))})";
            }
        }
    }

    public static IEnumerable<string> NothingAcknowledgedIsLost(RoomOutcome o)
    {
        foreach (var created in Created(o))
        {
            var post = PostOf(created.Call.Op);
            if (!o.Messages.Any(m => m.Seq == created.Result.Seq && m.SenderId == post.Sender && m.Text == post.Text))
            {
                yield return $"m{post.Id} was answered created as seq {created.Result.Seq} but is not stored";
            }
        }

        var players = MembersAt(o, DateTime.MaxValue);
        if (!players.SetEquals(o.Stored.Players))
        {
            yield return $"stored players [{string.Join(",", o.Stored.Players)}], acknowledged joins and leaves make [{string.Join(",", players.Order())}]";
        }

        var agents = AgentsAt(o, DateTime.MaxValue);
        if (!agents.SetEquals(o.Stored.Agents.Select(a => a.AgentId)))
        {
            yield return $"stored agents [{string.Join(",", o.Stored.Agents.Select(a => a.AgentId))}], the last acknowledged put made [{string.Join(",", agents.Order())}]";
        }
    }

    public static IEnumerable<string> NothingAnsweredAsFailedIsStored(RoomOutcome o) =>
        PostCalls(o).Where(p => p.Calls.All(c => !c.Acked) && o.Messages.Any(m => m.SenderKind == SenderKind.Player && m.Text == p.Post.Text))
            .Select(p => $"m{p.Post.Id} is stored although every call of it failed ({string.Join("; ", p.Calls.Select(c => c.Error!.GetType().Name))})");

    /// <summary>A refusal (not a player, no such agent) holds on the room as written during the call, and so does an acceptance.</summary>
    public static IEnumerable<string> RefusalsAndAcceptancesRestOnWrittenState(RoomOutcome o)
    {
        foreach (var call in o.Calls.Where(c => c.Op is RoomOp.Post or RoomOp.Retry))
        {
            var post = PostOf(call.Op);
            var member = MembersAt(o, call.Start).Contains(post.Sender);
            var moved = Membership(o).Where(m => m.Acked && m.Overlaps(call.Start, call.End) && Player(m.Op) == post.Sender).ToList();
            var agentsBefore = AgentsAt(o, call.Start);
            var puts = o.Calls.Where(c => c.Acked && c.Op is RoomOp.PutAgents && c.Overlaps(call.Start, call.End)).ToList();
            switch (call.Error, call.Result)
            {
                case (DomainException { Code: RoomErrors.NotAPlayer }, _) when member && moved.Count == 0:
                    yield return $"{call}: refused as not a player, but {post.Sender} was a written player throughout";
                    break;
                case (DomainException { Kind: RefusalKind.Invalid }, _) when post.Targets!.All(agentsBefore.Contains) && puts.Count == 0:
                    yield return $"{call}: refused for an unknown agent, but every target was a written agent throughout";
                    break;
                case (null, PostResult { Created: true } result):
                    if (!member && moved.Count == 0)
                    {
                        yield return $"{call}: created although {post.Sender} was not a written player";
                    }

                    var possible = agentsBefore.Concat(puts.SelectMany(p => ((RoomOp.PutAgents)p.Op).Agents.Select(a => a.Id))).ToHashSet();
                    foreach (var agent in result.TriggeredAgents.Where(a => !possible.Contains(a)))
                    {
                        yield return $"{call}: triggered {agent}, which was not a written agent";
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// A pair ends as interrupted only when something interrupted it: its agent removed, its worker deactivated, or the
    /// room deactivated while handing the pair over. Otherwise the reply, generated in time, was lost on its way back.
    /// </summary>
    public static IEnumerable<string> AReplyGeneratedInTimeIsStored(RoomOutcome o)
    {
        foreach (var message in o.Messages.Where(m => m.Error == RoomErrors.Interrupted))
        {
            var at = message.At.UtcDateTime;
            var creation = Created(o).FirstOrDefault(c => c.Result.Seq == message.InReplyTo);
            if (creation.Call is null)
            {
                continue; // judged by EveryTriggeredPairEndsExactlyOnce
            }

            var (from, posted) = (creation.Call.Start, creation.Call.End);
            var explained = o.Calls.Any(c => c.Start <= at && c.End >= from && c.Op switch
            {
                RoomOp.PutAgents put => c.Acked && put.Agents.All(a => a.Id != message.SenderId),
                RoomOp.Injected { Fault: Fault.Deactivate { Slot: var slot } } when slot == message.SenderId => true,
                RoomOp.Injected { Fault: Fault.Deactivate { Slot: null } } => c.Start <= posted.AddSeconds(1),
                _ => false,
            });
            if (!explained)
            {
                yield return $"pair ({message.SenderId}, {message.InReplyTo}) ended as interrupted at {at:HH:mm:ss.fff} with nothing to interrupt it";
            }
        }
    }

    /// <summary>
    /// Every call is answered, refused with a domain refusal, or fails as the API's 503s: storage unavailable, or a
    /// message Orleans rejected unrun (its activation kept going away: failed writes deactivate it). Nothing else.
    /// </summary>
    public static IEnumerable<string> FailuresAreRefusalsOrStorageUnavailable(RoomOutcome o) =>
        o.Calls.Where(c => c.Error is not null and not DomainException and not StorageUnavailableException and not OrleansMessageRejectionException)
            .Select(c => $"{c}: failed with {c.Error}");

    private static IEnumerable<(RoomOp.Post Post, List<Call> Calls)> PostCalls(RoomOutcome o) =>
        o.Calls.Where(c => c.Op is RoomOp.Post or RoomOp.Retry).GroupBy(c => PostOf(c.Op)).Select(g => (g.Key, g.ToList()));

    private static IEnumerable<(Call Call, PostResult Result)> Created(RoomOutcome o) =>
        o.Calls.Where(c => c.Result is PostResult { Created: true }).Select(c => (c, (PostResult)c.Result!));

    private static RoomOp.Post PostOf(object op) => op is RoomOp.Retry r ? r.Of : (RoomOp.Post)op;

    private static IEnumerable<Call> Membership(RoomOutcome o) => o.Calls.Where(c => c.Op is RoomOp.Join or RoomOp.Leave);

    private static string Player(object op) => op is RoomOp.Join j ? j.Player : ((RoomOp.Leave)op).Player;

    /// <summary>The players after every acknowledged join and leave that ended before <paramref name="at"/> (a player's are never concurrent).</summary>
    private static HashSet<string> MembersAt(RoomOutcome o, DateTime at)
    {
        var members = o.Plan.Players.ToHashSet();
        foreach (var call in Membership(o).Where(c => c.Acked && c.End < at).OrderBy(c => c.End))
        {
            _ = call.Op is RoomOp.Join j ? members.Add(j.Player) : members.Remove(Player(call.Op));
        }

        return members;
    }

    /// <summary>The agents after the last acknowledged put that ended before <paramref name="at"/> (puts are never concurrent).</summary>
    private static HashSet<string> AgentsAt(RoomOutcome o, DateTime at) =>
        (o.Calls.Where(c => c.Acked && c.Op is RoomOp.PutAgents && c.End < at).OrderBy(c => c.End).Select(c => ((RoomOp.PutAgents)c.Op).Agents).LastOrDefault()
            ?? o.Plan.Agents).Select(a => a.Id).ToHashSet();
}
