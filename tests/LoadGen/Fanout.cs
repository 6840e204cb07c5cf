using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace LoadGen;

/// <summary>
/// Live-update fan-out: --clients SSE clients watch one job while a worker reports progress --rate times a second for
/// --duration. Prints the event delay (progress sent to event received, every client and event), and per event the
/// grain calls (Orleans' app-request counter on /metrics) and the server's CPU time (with --pid, from /proc).
/// </summary>
public static class Fanout
{
    public static async Task<int> RunAsync(Uri target, int clients, int rate, TimeSpan duration, int? pid)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients + 8, UseProxy = false })
        { BaseAddress = target, Timeout = Timeout.InfiniteTimeSpan };
        var jobId = "fanout-" + Guid.NewGuid().ToString("N")[..10];
        (await http.PostAsJsonAsync("/api/jobs", new { kind = "fanout", jobId })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync($"/api/jobs/{jobId}/start", new { workerId = "w" })).EnsureSuccessStatusCode();

        var sent = new ConcurrentDictionary<int, long>();
        var delays = new ConcurrentBag<double>();
        var received = 0L;
        using var stop = new CancellationTokenSource();
        var connected = 0;
        var readers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            try
            {
                using var response = await http.GetAsync($"/api/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead, stop.Token);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
                Interlocked.Increment(ref connected);
                while (await reader.ReadLineAsync(stop.Token) is { } line)
                {
                    if (line.StartsWith("data: ", StringComparison.Ordinal)
                        && JsonDocument.Parse(line[6..]).RootElement.GetProperty("progress").GetDouble() is var p
                        && sent.TryGetValue((int)Math.Round(p * 1000), out var at))
                    {
                        delays.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                        Interlocked.Increment(ref received);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ToList();

        while (Volatile.Read(ref connected) < clients)
        {
            await Task.Delay(100);
        }

        var callsBefore = await GrainCallsAsync(http);
        var cpuBefore = CpuSeconds(pid);
        var events = (int)(rate * duration.TotalSeconds);
        var clock = Stopwatch.StartNew();
        for (var i = 1; i <= events; i++)
        {
            // Progress values are the event keys: 0.001 steps keep them increasing and distinct.
            var progress = i / 1000.0;
            sent[(int)Math.Round(progress * 1000)] = Stopwatch.GetTimestamp();
            (await http.PostAsJsonAsync($"/api/jobs/{jobId}/progress", new { workerId = "w", progress })).EnsureSuccessStatusCode();
            var due = TimeSpan.FromSeconds((double)i / rate) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        var calls = await GrainCallsAsync(http) - callsBefore;
        var cpu = CpuSeconds(pid) - cpuBefore;
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        var sorted = delays.Order().ToArray();
        double Percentile(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fanout clients={clients} events={events} delivered={received} (expected {(long)events * clients}) " +
            $"delay p50={Percentile(0.50):0.0}ms p99={Percentile(0.99):0.0}ms max={Percentile(1):0.0}ms " +
            $"grainCalls/event={calls / events:0.0} cpu/event={(cpu is null ? "n/a" : $"{cpu * 1000 / events:0.00}ms")}"));
        return 0;
    }

    /// <summary>Orleans' count of application grain requests, summed over the /metrics series.</summary>
    private static async Task<double> GrainCallsAsync(HttpClient http)
    {
        var text = await http.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith("orleans_app_requests_latency", StringComparison.Ordinal) && l.Contains("_count", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private static double? CpuSeconds(int? pid)
    {
        if (pid is null)
        {
            return null;
        }

        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // utime and stime are fields 14 and 15 of /proc/pid/stat (11 and 12 after the command name).
        return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}
