using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;

namespace Lectures.Api.Tests.Infrastructure;

/// <summary>
/// A real product host (src/Api or src/Silo, as built) running as its own process on loopback, configured through
/// environment variables exactly as an operator would. Tests can stop it gracefully or kill it (SIGKILL).
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private HostProcess(string project, IReadOnlyDictionary<string, string?> settings, int? httpPort)
    {
        Project = project;
        Settings = settings;
        HttpPort = httpPort;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Binary("src", project));
        if (httpPort is { } port)
        {
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add($"http://127.0.0.1:{port}");
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__")] = value;
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (httpPort is { } p)
        {
            Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{p}"), Timeout = TimeSpan.FromSeconds(30) };
        }
    }

    public string Project { get; }
    public IReadOnlyDictionary<string, string?> Settings { get; }
    public int? HttpPort { get; }
    public HttpClient Http { get; } = null!;
    public bool HasExited => _process.HasExited;
    public string Output => string.Join('\n', _output);

    /// <summary>Starts the API silo and waits until /health/ready answers 200.</summary>
    /// <summary>Adds API keys to <paramref name="settings"/> as <c>Auth:Keys:{n}</c> (key, role, subject).</summary>
    public static Dictionary<string, string?> WithKeys(Dictionary<string, string?> settings, params (string Key, string Role, string? Subject)[] keys)
    {
        for (var n = 0; n < keys.Length; n++)
        {
            settings[$"Auth:Keys:{n}:Key"] = keys[n].Key;
            settings[$"Auth:Keys:{n}:Role"] = keys[n].Role;
            settings[$"Auth:Keys:{n}:Subject"] = keys[n].Subject;
        }

        return settings;
    }

    public static async Task<HostProcess> StartApiAsync(IReadOnlyDictionary<string, string?> settings, int? httpPort = null)
    {
        var host = new HostProcess("Api", WithPorts(settings), httpPort ?? FreePort.Next());
        await host.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return host;
    }

    /// <summary>Starts a headless silo; it is ready when the cluster counts it (see the API's readiness).</summary>
    public static HostProcess StartSilo(IReadOnlyDictionary<string, string?> settings) => new("Silo", WithPorts(settings), null);

    /// <summary>The same host again (same ports and settings), as after a process restart.</summary>
    public Task<HostProcess> RestartedAsync() => StartApiAsync(Settings, HttpPort);

    public async Task WaitReadyAsync(TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                // Drain the redirected output first: the last lines (the reason it stopped) may still be in flight.
                _process.WaitForExit();
                throw new InvalidOperationException($"{Project} exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await Http.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{Project} not ready within {deadline}:\n{Output}");
    }

    /// <summary>Starts a host without waiting for it to be ready (for hosts expected to refuse to start).</summary>
    public static HostProcess Launch(string project, IReadOnlyDictionary<string, string?> settings) =>
        new(project, WithPorts(settings), project == "Api" ? FreePort.Next() : null);

    /// <summary>Waits for the process to exit by itself; its exit code, or null when it still runs at the deadline.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            _process.WaitForExit();
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Sends SIGTERM and measures how long the process takes to exit (null: still running at the deadline).</summary>
    public async Task<TimeSpan?> TerminateAsync(TimeSpan deadline)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await term.WaitForExitAsync();
        }

        return await WaitForExitAsync(deadline) is null ? null : started.Elapsed;
    }

    /// <summary>SIGKILL: no graceful shutdown, no deactivation, no flush: a crashed silo.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then waits for a graceful shutdown (the silo leaves the cluster).</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await term.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Http?.Dispose();
        _process.Dispose();
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        // Enough to keep the first failure of a fault-suite phase through the health checks' noise.
        while (_output.Count > 5000)
        {
            _output.TryDequeue(out _);
        }
    }

    private static Dictionary<string, string?> WithPorts(IReadOnlyDictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>(settings);
        all.TryAdd("Orleans:SiloPort", FreePort.Next().ToString());
        all.TryAdd("Orleans:GatewayPort", FreePort.Next().ToString());
        return all;
    }

    /// <summary>The built dll of a project of this repository (<c>src/Api</c>, <c>tests/LoadGen</c>), same configuration as the tests.</summary>
    public static string Binary(string folder, string project)
    {
        // Tests run from tests/Api.Tests/bin/{Configuration}/net10.0; the hosts were built by the same build.
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testDir.Name;
        var configuration = testDir.Parent!.Name;
        var root = testDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Orleans.sln")))
        {
            root = root.Parent;
        }

        var binary = Path.Combine(root?.FullName ?? throw new InvalidOperationException("Orleans.sln not found above the test binaries"),
            folder, project, "bin", configuration, framework, $"{project}.dll");
        return File.Exists(binary) ? binary : throw new FileNotFoundException($"Build the solution first: {binary} is missing.");
    }
}

public static class FreePort
{
    private static readonly HashSet<int> Handed = [];

    /// <summary>A loopback port nobody listens on, never the same one twice in a test run.</summary>
    public static int Next()
    {
        lock (Handed)
        {
            while (true)
            {
                var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
                listener.Start();
                var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
