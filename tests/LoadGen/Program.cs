using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LoadGen;
using LoadGen.Scenarios;

// Closed-loop load generator: --clients concurrent clients on keep-alive connections, each sending its next request
// as soon as the previous one is answered, for --duration after a --warmup. Prints a table and one JSON line;
// exits non-zero when the scenario's invariant is violated (2: could not run).
if (args is ["--report", var resultsFile])
{
    return Report.Print(resultsFile);
}

if (args is ["--alloc-report", var tracePath, .. var topArg])
{
    return AllocationReport.Print(tracePath, topArg is [var n] ? int.Parse(n, CultureInfo.InvariantCulture) : 25);
}

if (args is ["--fanout", var fanoutTarget, var fanoutClients, var fanoutRate, var fanoutSeconds, .. var fanoutPid])
{
    return await Fanout.RunAsync(new Uri(fanoutTarget), int.Parse(fanoutClients, CultureInfo.InvariantCulture),
        int.Parse(fanoutRate, CultureInfo.InvariantCulture), TimeSpan.FromSeconds(int.Parse(fanoutSeconds, CultureInfo.InvariantCulture)),
        fanoutPid is [var pid] ? int.Parse(pid, CultureInfo.InvariantCulture) : null);
}

Options options;
IScenario scenario;
try
{
    options = Options.Parse(args);
    scenario = ScenarioCatalog.Create(options.Scenario, Guid.NewGuid().ToString("N")[..10]);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = options.Clients,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    UseProxy = false,
})
{ BaseAddress = options.Target, Timeout = TimeSpan.FromSeconds(30) };

try
{
    Console.Error.WriteLine($"preparing {scenario.Name} on {options.Target} ({options.Keys} keys)...");
    await scenario.PrepareAsync(http, options);
}
catch (Exception e)
{
    Console.Error.WriteLine($"could not prepare: {e.Message}");
    return 2;
}

var recorder = new Recorder(options.Clients);
var warmupEnds = Stopwatch.GetTimestamp() + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
var runEnds = warmupEnds + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);

using var progress = new Timer(_ =>
{
    var now = Stopwatch.GetTimestamp();
    var phase = now < warmupEnds ? "warmup" : "run";
    Console.Error.Write($"\r{phase,-6} {recorder.Count,10:N0} requests  {recorder.RecentRate(),8:N0} req/s  errors {recorder.Errors,6:N0}   ");
}, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(client => Task.Run(async () =>
{
    while (true)
    {
        var start = Stopwatch.GetTimestamp();
        if (start >= runEnds)
        {
            return;
        }

        int status;
        try
        {
            status = await scenario.ExecuteAsync(http, client);
        }
        catch (Exception)
        {
            status = 0; // transport failure
        }

        var end = Stopwatch.GetTimestamp();
        recorder.Record(client, status, end - start, measured: start >= warmupEnds && end <= runEnds);
    }
})));
progress.Change(Timeout.Infinite, Timeout.Infinite);
Console.Error.WriteLine();

Verdict verdict;
try
{
    verdict = await scenario.VerifyAsync(http);
}
catch (Exception e)
{
    verdict = Verdict.Fail($"verification failed: {e.Message}");
}

try
{
    await scenario.CleanUpAsync(http);
}
catch (Exception e)
{
    Console.Error.WriteLine($"clean-up failed (the verdict stands): {e.Message}");
}

var summary = recorder.Summarize(scenario.Name, options, verdict);
Console.WriteLine($"""

    scenario   {summary.Scenario}   target {options.Target}   clients {summary.Clients}   duration {options.Duration.TotalSeconds:F0}s
    requests   {summary.Requests,10:N0}     rps {summary.Rps,10:N0}
    latency ms p50 {summary.P50Ms:F2}   p90 {summary.P90Ms:F2}   p99 {summary.P99Ms:F2}   max {summary.MaxMs:F2}
    statuses   {string.Join("  ", summary.Statuses.Select(s => $"{s.Key}: {s.Value:N0}"))}
    invariant  {(verdict.Ok ? "OK" : "VIOLATED")}: {verdict.Detail}
    """);
Console.WriteLine(JsonSerializer.Serialize(summary, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
return verdict.Ok ? 0 : 1;

/// <summary>Per-client latency lists (no contention while running), merged once at the end.</summary>
internal sealed class Recorder(int clients)
{
    private readonly List<long>[] _latencies = Enumerable.Range(0, clients).Select(_ => new List<long>(1 << 16)).ToArray();
    private readonly Dictionary<int, long>[] _statuses = Enumerable.Range(0, clients).Select(_ => new Dictionary<int, long>()).ToArray();
    private long _count;
    private long _errors;
    private long _lastCount;
    private long _lastAt = Stopwatch.GetTimestamp();

    public long Count => Interlocked.Read(ref _count);
    public long Errors => Interlocked.Read(ref _errors);

    public void Record(int client, int status, long ticks, bool measured)
    {
        Interlocked.Increment(ref _count);
        if (status is 0 or >= 500)
        {
            Interlocked.Increment(ref _errors);
        }

        if (!measured)
        {
            return;
        }

        _latencies[client].Add(ticks);
        _statuses[client][status] = _statuses[client].GetValueOrDefault(status) + 1;
    }

    public double RecentRate()
    {
        var now = Stopwatch.GetTimestamp();
        var count = Count;
        var rate = (count - _lastCount) / ((now - _lastAt) / (double)Stopwatch.Frequency);
        (_lastCount, _lastAt) = (count, now);
        return rate;
    }

    public Summary Summarize(string scenario, Options options, Verdict verdict)
    {
        var all = _latencies.SelectMany(l => l).Order().ToArray();
        double Ms(double quantile) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(quantile * all.Length))] * 1000.0 / Stopwatch.Frequency;
        var statuses = _statuses.SelectMany(s => s).GroupBy(s => s.Key).OrderBy(g => g.Key)
            .ToDictionary(g => g.Key == 0 ? "transport_error" : g.Key.ToString(CultureInfo.InvariantCulture), g => g.Sum(s => s.Value));
        return new Summary(options.Label, scenario, options.Clients, options.Keys, all.Length, Math.Round(all.Length / options.Duration.TotalSeconds, 1),
            Math.Round(Ms(0.50), 3), Math.Round(Ms(0.90), 3), Math.Round(Ms(0.99), 3), Math.Round(all.Length == 0 ? 0 : all[^1] * 1000.0 / Stopwatch.Frequency, 3),
            statuses, verdict.Ok, verdict.Detail);
    }
}

internal sealed record Summary(string Label, string Scenario, int Clients, int Keys, long Requests, double Rps, double P50Ms, double P90Ms, double P99Ms, double MaxMs,
    Dictionary<string, long> Statuses, bool InvariantOk, string Invariant);
