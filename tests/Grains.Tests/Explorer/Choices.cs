namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// A seed's choices: one <see cref="Random"/>, consumed only while a schedule is planned (before anything runs), so a
/// seed replays the same operations and fault choices whatever the answers and the thread interleaving were.
/// </summary>
public sealed class Choices(int seed)
{
    private readonly Random _random = new(seed);

    public int Seed => seed;

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, both included.</summary>
    public int Between(int min, int max) => _random.Next(min, max + 1);

    public bool Chance(double probability) => _random.NextDouble() < probability;

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    /// <summary>One of <paramref name="items"/>, each as likely as its weight.</summary>
    public T Weighted<T>(params (T Item, int Weight)[] items)
    {
        var roll = _random.Next(items.Sum(i => i.Weight));
        foreach (var (item, weight) in items)
        {
            if ((roll -= weight) < 0)
            {
                return item;
            }
        }

        throw new InvalidOperationException("no weights");
    }

    /// <summary>Up to <paramref name="most"/> distinct items, in their order.</summary>
    public T[] Some<T>(IReadOnlyList<T> items, int least, int most) =>
        [.. items.OrderBy(_ => _random.Next()).Take(Between(least, Math.Min(most, items.Count))).OrderBy(items.ToList().IndexOf)];
}

/// <summary>One call the explorer made, as its caller saw it: when, and what it answered or threw.</summary>
public sealed record Call(int Step, object Op, DateTime Start, DateTime End, object? Result, Exception? Error)
{
    public bool Acked => Error is null;

    /// <summary>Whether this call was in progress at some moment of [<paramref name="from"/>, <paramref name="to"/>].</summary>
    public bool Overlaps(DateTime from, DateTime to) => Start <= to && End >= from;

    public override string ToString() =>
        $"#{Step} {Op} [{Start:HH:mm:ss.fff}-{End:HH:mm:ss.fff}] -> {(Error is null ? Result?.ToString() ?? "ok" : $"{Error.GetType().Name}: {Error.Message}")}";
}

/// <summary>What the callers of one run saw, in the order their calls ended, and the run's log (printed with a failure).</summary>
public sealed class Journal
{
    private readonly List<Call> _calls = [];
    private readonly List<string> _log = [];

    public IReadOnlyList<Call> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_log)
            {
                return [.. _log];
            }
        }
    }

    public void Note(string line)
    {
        lock (_log)
        {
            _log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
        }
    }

    /// <summary>Makes the call and records it; a failure is recorded, never thrown (the invariants judge it).</summary>
    public async Task<Call> RecordAsync(int step, object op, Func<Task<object?>> call)
    {
        var start = DateTime.UtcNow;
        object? result = null;
        Exception? error = null;
        try
        {
            result = await call();
        }
        catch (Exception ex)
        {
            error = ex;
        }

        var recorded = new Call(step, op, start, DateTime.UtcNow, result, error);
        lock (_calls)
        {
            _calls.Add(recorded);
        }

        return recorded;
    }
}
