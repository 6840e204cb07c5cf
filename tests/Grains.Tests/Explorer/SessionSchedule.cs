namespace Lectures.Grains.Tests.Explorer;

/// <summary>An operation on a user's session: what a user does, or a <see cref="Fault"/>.</summary>
public abstract record SessionOp
{
    /// <summary>A message <c>q{Id}</c> (plus a responder marker), sent as a wait=false client sends it, then waited for.</summary>
    public sealed record Send(int Id, string Marker) : SessionOp
    {
        public override string ToString() => $"send q{Id}{Marker}";
    }

    public sealed record Cancel : SessionOp;

    public sealed record Clear : SessionOp;

    public sealed record Read : SessionOp;

    public sealed record Injected(Fault Fault) : SessionOp
    {
        public override string ToString() => Fault.ToString();
    }
}

/// <summary>
/// Instead of its pause, a round may race the idle deletion: once every request has ended, the session's next
/// clear (its deletion) is held when it comes, <see cref="Ops"/> run while it waits, and after <see cref="HoldMs"/> it
/// is done or fails.
/// </summary>
public sealed record DeletionRace(int HoldMs, bool ThenFail, List<Step<SessionOp>> Ops)
{
    public override string ToString() => $"race the idle deletion (held {HoldMs}ms, then {(ThenFail ? "failed" : "done")}): {string.Join("; ", Ops.Select(s => $"#{s.Index} +{s.OffsetMs}ms {s.Op}"))}";
}

public sealed record SessionRound(List<Step<SessionOp>> Ops, int PauseMs, DeletionRace? Race);

/// <summary>
/// A session's schedule, planned from a seed: the busy policy (Drop, or Queue with Sessions:MaxQueue 3), then rounds of
/// concurrent operations (messages, cancels, clears, reads) and faults (writes and clears held, failed or passed; slow
/// or failing reminder writes; the session or its worker deactivated; its reminders ticking), some of them racing the
/// session's idle deletion.
/// </summary>
public sealed record SessionPlan(int Seed, bool Queue, List<SessionRound> Rounds)
{
    public const string Slot = "reply";

    public static SessionPlan Make(int seed)
    {
        var c = new Choices(seed);
        var queue = c.Chance(0.5);
        var sends = 0;
        var index = 0;
        var rounds = new List<SessionRound>();
        for (var round = c.Between(4, 7); round > 0; round--)
        {
            var ops = Ops(c, c.Between(1, 5), ref sends, ref index, faults: true);
            var pause = c.Between(0, 1500);
            var race = c.Chance(0.25) ? new DeletionRace(c.Between(100, 1500), c.Chance(0.3), Ops(c, c.Between(1, 3), ref sends, ref index, faults: false)) : null;
            rounds.Add(new SessionRound(ops, pause, race));
        }

        return new SessionPlan(seed, queue, rounds);
    }

    private static List<Step<SessionOp>> Ops(Choices c, int count, ref int sends, ref int index, bool faults)
    {
        var ops = new List<Step<SessionOp>>();
        for (var k = 0; k < count; k++)
        {
            var kind = c.Weighted(("send", 5), ("cancel", 2), ("clear", 1), ("read", 1), ("fault", faults ? 4 : 0));
            SessionOp op = kind switch
            {
                "cancel" => new SessionOp.Cancel(),
                "clear" => new SessionOp.Clear(),
                "read" => new SessionOp.Read(),
                "fault" => new SessionOp.Injected(PickFault(c)),
                _ => new SessionOp.Send(sends++, c.Pick(["", "", "", " [slow]", " [throws]"])),
            };
            ops.Add(new Step<SessionOp>(index++, c.Between(0, 400), op));
        }

        return ops;
    }

    private static Fault PickFault(Choices c) => Fault.Pick(c, () => Slot, () => c.Pick(["recover", "idle"]), tickWeight: 2);

    public IEnumerable<string> Describe()
    {
        yield return $"session seed {Seed}: busy policy {(Queue ? "Queue (MaxQueue 3)" : "Drop")}";
        foreach (var round in Rounds)
        {
            yield return $"  round: {string.Join("; ", round.Ops.Select(s => $"#{s.Index} +{s.OffsetMs}ms {s.Op}"))}; then pause {round.PauseMs}ms";
            if (round.Race is { } race)
            {
                yield return $"  then, instead of the pause, {race}";
            }
        }
    }
}
