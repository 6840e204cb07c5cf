using System.Globalization;
using System.Text;

namespace Lectures.Cluster.Tests.Load;

/// <summary>The figures the suite prints: per phase, per fault, per feature.</summary>
public sealed class Report
{
    private readonly StringBuilder _text = new();
    private readonly List<string> _failures = [];

    public IReadOnlyList<string> Failures => _failures;

    public void Line(string line = "") => _text.AppendLine(line);

    public void Fail(string failure)
    {
        _failures.Add(failure);
        Line($"FAIL: {failure}");
    }

    public void Check(bool condition, string failure)
    {
        if (!condition)
        {
            Fail(failure);
        }
    }

    public static string S(double seconds) => seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    public void Phases(Ledger ledger)
    {
        Line($"{"phase",-34} {"requests",8} {"acked",7} {"refused",7} {"503",6} {"500",4} {"other",5} {"hang",4} {"unreach",7} {"err rate",8} {"p50 ms",7} {"max ms",7}");
        foreach (var phase in ledger.Phases)
        {
            var all = ledger.In(phase).ToList();
            if (all.Count == 0)
            {
                Line($"{phase.Name,-34} {0,8}");
                continue;
            }

            int Count(Outcome o) => all.Count(a => a.Outcome == o);
            var failures = all.Count(a => a.IsFailure);
            var latencies = all.Select(a => a.Latency * 1000).Order().ToList();
            Line(string.Create(CultureInfo.InvariantCulture,
                $"{phase.Name,-34} {all.Count,8} {Count(Outcome.Ack),7} {Count(Outcome.Refused),7} {Count(Outcome.Unavailable),6} {Count(Outcome.ServerError),4} {Count(Outcome.Unexpected),5} {Count(Outcome.Hang),4} {Count(Outcome.Unreachable),7} {100.0 * failures / all.Count,7:0.00}% {latencies[latencies.Count / 2],7:0} {latencies[^1],7:0}"));
        }
    }

    /// <summary>Every failed request, grouped by phase, operation and answer.</summary>
    public void FailureBreakdown(Ledger ledger)
    {
        Line("failed requests by phase, operation and answer:");
        foreach (var group in ledger.Attempts.Where(a => a.IsFailure)
                     .GroupBy(a => (Phase: a.Phase.Name, a.Operation, a.Status, a.Code))
                     .OrderBy(g => g.Key.Phase, StringComparer.Ordinal).ThenByDescending(g => g.Count()))
        {
            Line($"  {group.Key.Phase,-32} {group.Key.Operation,-22} {group.Key.Status,3} {group.Key.Code,-20} x{group.Count()}");
        }
    }

    public override string ToString() => _text.ToString();
}
