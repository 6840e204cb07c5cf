using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lectures.Cluster.Tests.Load;

/// <summary>How one HTTP request ended, from the client's point of view.</summary>
public enum Outcome
{
    /// <summary>2xx: the change is acknowledged (durable by contract).</summary>
    Ack,
    /// <summary>A 4xx refusal the operation may legitimately answer (e.g. 409 job.terminal for a stalled job).</summary>
    Refused,
    /// <summary>503 <c>unavailable</c> or <c>storage_unavailable</c>: a clean failure, safe to retry.</summary>
    Unavailable,
    /// <summary>500 or any 5xx other than a clean 503 problem: always a defect.</summary>
    ServerError,
    /// <summary>A status or code the contract does not give this operation: always a defect.</summary>
    Unexpected,
    /// <summary>No answer within the hang limit: always a defect.</summary>
    Hang,
    /// <summary>No connection to the API silo (refused or reset): expected only while the API silo is stopped.</summary>
    Unreachable,
}

public sealed record Attempt(Phase Phase, string Operation, string Path, double StartedAt, double EndedAt, Outcome Outcome, int Status, string? Code)
{
    public bool IsFailure => Outcome is not (Outcome.Ack or Outcome.Refused);
    public double Latency => EndedAt - StartedAt;
}

/// <summary>A phase of the suite; every request counts towards the phase in which it started.</summary>
public sealed class Phase(string name, double startedAt, bool allowUnreachable)
{
    public string Name { get; } = name;
    public double StartedAt { get; } = startedAt;
    public bool AllowUnreachable { get; } = allowUnreachable;
    public double? EndedAt { get; set; }
    /// <summary>Named moments inside the phase (fault injected, Redis back, ...), in seconds of the suite clock.</summary>
    public Dictionary<string, double> Marks { get; } = [];
}

/// <summary>Every request the clients sent, with its phase, timing and outcome.</summary>
public sealed class Ledger
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<Attempt> _attempts = new();
    private readonly List<Phase> _phases = [];
    private volatile Phase _current;

    public Ledger() => _current = Begin("0 setup");

    public double Now => _clock.Elapsed.TotalSeconds;
    public Phase Current => _current;
    public IReadOnlyList<Phase> Phases => _phases;
    public IReadOnlyCollection<Attempt> Attempts => _attempts;

    public Phase Begin(string name, bool allowUnreachable = false)
    {
        var now = Now;
        if (_phases.Count > 0)
        {
            _phases[^1].EndedAt = now;
        }

        var phase = new Phase(name, now, allowUnreachable);
        _phases.Add(phase);
        _current = phase;
        return phase;
    }

    public double Mark(string what)
    {
        var now = Now;
        _current.Marks[what] = now;
        return now;
    }

    public void Record(Attempt attempt) => _attempts.Enqueue(attempt);

    public IEnumerable<Attempt> In(Phase phase) => _attempts.Where(a => a.Phase == phase);

    /// <summary>
    /// Seconds from <paramref name="since"/> until the end of the last failed request that started after it: how long
    /// clients saw the fault. Zero when nothing failed.
    /// </summary>
    public double FailureWindowAfter(double since, double? until = null) =>
        _attempts.Where(a => a.IsFailure && a.StartedAt >= since && (until is null || a.StartedAt < until))
            .Select(a => a.EndedAt - since).DefaultIfEmpty(0).Max();

    /// <summary>True when, over the last <paramref name="window"/> seconds, requests were acknowledged and none failed.</summary>
    public bool Healthy(double window)
    {
        var from = Now - window;
        var recent = _attempts.Where(a => a.EndedAt >= from).ToList();
        return recent.Any(a => a.Outcome == Outcome.Ack) && !recent.Any(a => a.IsFailure);
    }
}
