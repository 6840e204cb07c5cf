using System.Globalization;
using System.Text.Json;

namespace LoadGen;

/// <summary>
/// Reads the JSON lines of a benchmark run (one per load run, each with a --label) and prints, per scenario, the
/// median of each label and the ratios the targets are stated in: product-redis / baseline-redis and
/// product-embedded / baseline-memory. Medians over rounds run in alternation, so drift hits every label alike.
/// </summary>
internal static class Report
{
    private static readonly (string Product, string Baseline)[] Pairs =
        [("product-redis", "baseline-redis"), ("product-embedded", "baseline-memory")];

    public static int Print(string path)
    {
        var runs = File.ReadLines(path)
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .Select(e => (Label: e.GetProperty("label").GetString()!, Scenario: $"{e.GetProperty("scenario").GetString()} keys={e.GetProperty("keys").GetInt32()}",
                Rps: e.GetProperty("rps").GetDouble(), P99: e.GetProperty("p99Ms").GetDouble(), Ok: e.GetProperty("invariantOk").GetBoolean()))
            .ToList();

        Console.WriteLine($"{"scenario",-28} {"label",-18} {"runs",4} {"median rps",11} {"median p99 ms",14} invariants");
        var medians = new Dictionary<(string Scenario, string Label), (double Rps, double P99)>();
        foreach (var group in runs.GroupBy(r => (r.Scenario, r.Label)).OrderBy(g => g.Key.Scenario).ThenBy(g => g.Key.Label))
        {
            var median = (Median(group.Select(r => r.Rps)), Median(group.Select(r => r.P99)));
            medians[group.Key] = median;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{group.Key.Scenario,-28} {group.Key.Label,-18} {group.Count(),4} {median.Item1,11:N0} {median.Item2,14:F2} {(group.All(r => r.Ok) ? "ok" : "VIOLATED")}"));
        }

        Console.WriteLine();
        Console.WriteLine($"{"scenario",-28} {"ratio",-36} {"throughput",10} {"p99",8}");
        foreach (var scenario in medians.Keys.Select(k => k.Scenario).Distinct().Order())
        {
            foreach (var (product, baseline) in Pairs)
            {
                if (medians.TryGetValue((scenario, product), out var p) && medians.TryGetValue((scenario, baseline), out var b))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{scenario,-28} {product + " / " + baseline,-36} {p.Rps / b.Rps,9:F2}x {p.P99 / b.P99,7:F2}x"));
                }
            }
        }

        return runs.All(r => r.Ok) ? 0 : 1;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
