using System.Diagnostics;
using StackExchange.Redis;

namespace Lectures.Api.Tests.Infrastructure;

/// <summary>
/// A real redis-server on a free loopback port, owned by the test run: started by the fixture, stopped after.
/// It can be stopped and started again on the same port to simulate an outage.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private bool _durable;

    /// <summary>A server that keeps its data across <see cref="Stop"/> and <see cref="StartAsync"/> (append-only file, fsync always).</summary>
    public static RedisServer Durable() => new() { _durable = true };

    private Process? _process;
    private readonly string _dir = Directory.CreateTempSubdirectory("redis-test-").FullName;

    public int Port { get; } = FreePort.Next();
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static string? Binary =>
        new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
        ?? Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(p => Path.Combine(p, "redis-server")).FirstOrDefault(File.Exists);

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public async Task InitializeAsync()
    {
        if (Binary is null)
        {
            // RedisFact skips these tests outside CI; under CI a missing server is a failure, never a silent skip.
            if (IsCi)
            {
                throw new InvalidOperationException("redis-server is not installed; .ci/run must install it (apt-get install -y redis-server).");
            }

            return;
        }

        await StartAsync();
    }

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo(Binary!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--dir", _dir,
                     "--appendonly", _durable ? "yes" : "no", "--appendfsync", "always" })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start)!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < until)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},connectTimeout=500");
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"redis-server did not answer on port {Port}");
    }

    /// <summary>Stops the server (an outage). A durable server keeps its data (append-only file) for <see cref="StartAsync"/>.</summary>
    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    public async Task<IConnectionMultiplexer> ConnectAsync() => await ConnectionMultiplexer.ConnectAsync(ConnectionString);

    public Task DisposeAsync()
    {
        Stop();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }
}

/// <summary>A test that needs a real redis-server: skipped with a clear reason only when it is absent and this is not CI.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.Binary is null && !RedisServer.IsCi)
        {
            Skip = "redis-server is not installed (apt-get install -y redis-server); under CI=true this is a failure instead.";
        }
    }
}
