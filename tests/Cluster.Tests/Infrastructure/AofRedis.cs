using System.Diagnostics;
using Lectures.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace Lectures.Cluster.Tests.Infrastructure;

/// <summary>
/// The cluster's redis-server, as an operator runs it: append-only persistence with fsync on every write, in its own
/// temporary directory on a fixed loopback port. A clean stop (SIGTERM) keeps the append-only file, and a start on the
/// same directory loads it again: a Redis restart that loses nothing.
/// </summary>
public sealed class AofRedis : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("redis-faults-").FullName;
    private Process? _process;

    public int Port { get; } = FreePort.Next();
    public string ConnectionString => $"127.0.0.1:{Port}";
    public bool IsRunning => _process is { HasExited: false };

    public static string? Binary =>
        new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
        ?? Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(p => Path.Combine(p, "redis-server")).FirstOrDefault(File.Exists);

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo(Binary ?? throw new InvalidOperationException("redis-server is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // FAULT_SUITE_REDIS_ARGS (e.g. "--appendonly no") overrides settings, to show that the suite catches the losses
        // a wrong Redis configuration causes; redis-server takes the last value of a repeated option.
        var extra = Environment.GetEnvironmentVariable("FAULT_SUITE_REDIS_ARGS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        foreach (var arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dir, "--save", "",
                     "--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction" }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start)!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < until)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},connectTimeout=500");
                // LOADING (replaying the append-only file) answers PING with an error: wait until it serves.
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisException)
            {
                await Task.Delay(50);
            }
        }

        throw new TimeoutException($"redis-server did not answer on port {Port}");
    }

    /// <summary>A clean shutdown (SIGTERM): Redis finishes its append-only file and exits.</summary>
    public async Task StopCleanlyAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        using (var term = Process.Start("kill", ["-TERM", process.Id.ToString()]))
        {
            await term.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
    }

    public long AppendOnlyBytes =>
        Directory.EnumerateFiles(_dir, "*.aof", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
