using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit.Abstractions;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>
/// The seeded schedule explorer (issue 20, point 3): each seed plans concurrent operations and faults for a room or a
/// session of its own, runs them, settles, and checks DESIGN.md's invariants 2 and 3 on what was stored and on what the
/// callers were answered. CI runs <see cref="CiSeeds"/>; a long run is
/// <c>EXPLORER_SEEDS=1-5000 dotnet test tests/Grains.Tests --filter FullyQualifiedName~ScheduleExplorer</c>
/// (<c>EXPLORER_PARALLEL</c> seeds at once, default 6). A failure names its seed: <c>EXPLORER_SEEDS=&lt;seed&gt;</c>
/// replays its operations and fault choices (the interleaving may differ).
/// </summary>
[Collection(ExplorerCollection.Name)]
public sealed class ScheduleExplorerTests(ExplorerFixture fixture, ITestOutputHelper output)
{
    public const string CiSeeds = "1-12";

    [Fact]
    public Task Seeded_room_schedules_end_every_triggered_pair_once_and_lose_nothing_acknowledged() => ExploreAsync("room", async seed =>
    {
        var plan = RoomPlan.Make(seed);
        var run = new RoomRun(fixture.Drop.Client, plan);
        var outcome = await run.RunAsync();
        return (RoomInvariants.All(outcome).ToList(), Report(plan.Describe(), run.Journal, outcome.Calls));
    });

    [Fact]
    public Task Seeded_session_schedules_keep_one_request_in_flight_and_nothing_after_a_clear() => ExploreAsync("session", async seed =>
    {
        var plan = SessionPlan.Make(seed);
        var run = new SessionRun((plan.Queue ? fixture.Queue : fixture.Drop).Client, plan);
        var outcome = await run.RunAsync();
        return (SessionInvariants.All(outcome).ToList(), Report(plan.Describe(), run.Journal, outcome.Calls));
    });

    private async Task ExploreAsync(string what, Func<int, Task<(List<string> Violations, string Log)>> explore)
    {
        var seeds = Seeds(Environment.GetEnvironmentVariable("EXPLORER_SEEDS") ?? CiSeeds);
        var parallel = int.TryParse(Environment.GetEnvironmentVariable("EXPLORER_PARALLEL"), out var p) && p > 0 ? p : 6;
        var failures = new ConcurrentDictionary<int, (List<string> Violations, string Log)>();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(seeds, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (seed, _) =>
        {
            try
            {
                var (violations, log) = await explore(seed).WaitAsync(TimeSpan.FromMinutes(3));
                if (violations.Count > 0)
                {
                    failures[seed] = (violations, log);
                }
            }
            catch (Exception ex)
            {
                failures[seed] = ([$"the run failed: {ex}"], "");
            }
        });

        output.WriteLine($"{what} explorer: {seeds.Count} seeds ({seeds[0]}..{seeds[^1]}, {parallel} at once) in {clock.Elapsed.TotalSeconds:F0} s, {failures.Count} failed" +
            (failures.IsEmpty ? "" : $": seeds {string.Join(", ", failures.Keys.Order())}"));
        if (failures.IsEmpty)
        {
            return;
        }

        var summary = string.Join("\n", failures.OrderBy(f => f.Key).Select(f => $"seed {f.Key}:\n  - {string.Join("\n  - ", f.Value.Violations.Take(5))}"));
        var logs = string.Join("\n\n", failures.OrderBy(f => f.Key).Take(3).Select(f => $"seed {f.Key}'s schedule, calls and log:\n{f.Value.Log}"));
        Assert.Fail($"{failures.Count} of {seeds.Count} {what} seeds broke an invariant. Replay one with EXPLORER_SEEDS=<seed>.\n{summary}\n\n{logs}");
    }

    private static string Report(IEnumerable<string> plan, Journal journal, IReadOnlyList<Call> calls) =>
        string.Join("\n", plan.Concat(calls.OrderBy(c => c.Start).Select(c => $"  {c}")).Concat(journal.Log.Select(l => $"  {l}")));

    /// <summary>"1-200", "7,42" or "1-10,99": the seeds to run, in order.</summary>
    public static List<int> Seeds(string spec) =>
        [.. spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).SelectMany(part =>
            part.Split('-') is [var from, var to] ? Enumerable.Range(int.Parse(from), int.Parse(to) - int.Parse(from) + 1) : [int.Parse(part)])];
}
