using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Cluster.Tests.Infrastructure;

/// <summary>
/// Three silos as separate OS processes on loopback, one cluster id, one Redis: the API silo (src/Api) and two headless
/// silos (src/Silo), each on fixed ports so that a restarted process comes back exactly as it was.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly Dictionary<string, string?> _settings;
    private readonly int _apiPort = FreePort.Next();
    private readonly Dictionary<string, string?>[] _siloSettings;
    private readonly HttpClient _probe;

    private ProcessCluster(AofRedis redis, IReadOnlyDictionary<string, string?> settings)
    {
        Redis = redis;
        _settings = new Dictionary<string, string?>(settings) { ["ConnectionStrings:Redis"] = redis.ConnectionString };
        _siloSettings = [.. Enumerable.Range(0, 2).Select(_ => new Dictionary<string, string?>(_settings)
        {
            ["Orleans:SiloPort"] = FreePort.Next().ToString(),
            ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
        })];
        _settings["Orleans:SiloPort"] = FreePort.Next().ToString();
        _settings["Orleans:GatewayPort"] = FreePort.Next().ToString();
        BaseAddress = new Uri($"http://127.0.0.1:{_apiPort}");
        _probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
    }

    public AofRedis Redis { get; }
    public Uri BaseAddress { get; }
    public HostProcess? Api { get; private set; }
    public HostProcess?[] Silos { get; } = new HostProcess?[2];

    public static async Task<ProcessCluster> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var redis = new AofRedis();
        await redis.StartAsync();
        var cluster = new ProcessCluster(redis, settings);
        await cluster.StartSilosAsync();
        return cluster;
    }

    /// <summary>Starts the API silo and both headless silos and waits until the cluster counts three active silos.</summary>
    public async Task<TimeSpan> StartSilosAsync()
    {
        var clock = Stopwatch.StartNew();
        foreach (var old in new[] { Api }.Concat(Silos))
        {
            if (old is not null)
            {
                await old.DisposeAsync();
            }
        }

        Api = await HostProcess.StartApiAsync(_settings, _apiPort);
        for (var i = 0; i < Silos.Length; i++)
        {
            Silos[i] = HostProcess.StartSilo(_siloSettings[i]);
        }

        await WaitForActiveSilosAsync(3, TimeSpan.FromSeconds(90));
        return clock.Elapsed;
    }

    /// <summary>SIGKILL: the silo dies without deactivating anything or leaving the cluster.</summary>
    public void KillSilo(int index) => Silos[index]!.Kill();

    /// <summary>Starts a (killed or stopped) headless silo again on its ports; the time until the cluster counts it.</summary>
    public async Task<TimeSpan> RestartSiloAsync(int index, int expectedActive = 3)
    {
        var clock = Stopwatch.StartNew();
        if (Silos[index] is { } old)
        {
            await old.DisposeAsync();
        }

        Silos[index] = HostProcess.StartSilo(_siloSettings[index]);
        await WaitForActiveSilosAsync(expectedActive, TimeSpan.FromSeconds(90));
        return clock.Elapsed;
    }

    /// <summary>The number of active silos as the API silo's readiness reports it; -1 when it cannot tell.</summary>
    public async Task<int> ActiveSilosAsync()
    {
        try
        {
            using var response = await _probe.GetAsync("/health/ready");
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            return body.GetProperty("checks").GetProperty("silo").GetProperty("data").GetProperty("activeSilos").GetInt32();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException
                                      or InvalidOperationException or NotSupportedException)
        {
            return -1;
        }
    }

    public async Task WaitForActiveSilosAsync(int count, TimeSpan deadline) =>
        await Eventually.Poll(ActiveSilosAsync, n => n == count, deadline, $"the cluster counts {count} active silos\n{Logs()}");

    /// <summary>The recent output of every process, for failure messages.</summary>
    public string Logs() =>
        string.Join("\n", new[] { Api }.Concat(Silos).Where(h => h is not null)
            .Select((h, i) => $"--- {(i == 0 ? "api" : $"silo{i}")} (exited: {h!.HasExited}) ---\n{Tail(h.Output, 60)}"));

    /// <summary>Writes each process's recent output to <paramref name="folder"/> (api.log, silo1.log, silo2.log).</summary>
    public async Task SaveLogsAsync(string folder)
    {
        foreach (var (host, name) in new[] { (Api, "api"), (Silos[0], "silo1"), (Silos[1], "silo2") })
        {
            if (host is not null)
            {
                await File.WriteAllTextAsync(Path.Combine(folder, $"fault-suite-{name}.log"), host.Output);
            }
        }
    }

    private static string Tail(string text, int lines) => string.Join('\n', text.Split('\n').TakeLast(lines));

    public async ValueTask DisposeAsync()
    {
        foreach (var host in new[] { Api }.Concat(Silos))
        {
            if (host is not null)
            {
                host.Kill();
                await host.DisposeAsync();
            }
        }

        _probe.Dispose();
        await Redis.DisposeAsync();
    }
}
