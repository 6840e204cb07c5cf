using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.Hosting;

/// <summary>
/// How both hosts stop. <see cref="HostOptions.ShutdownTimeout"/> is set below a typical orchestrator grace period
/// (30 s), so a silo asked to stop (SIGTERM) deactivates its grains and leaves the cluster gracefully in that time, and
/// the whole stop is bounded: Orleans retries its membership update for minutes when Redis is down, and a process that
/// an orchestrator must kill is a crash. Past the bound the process ends with exit code 2 and says why.
/// </summary>
public static class BoundedShutdown
{
    /// <summary>The time the host gives its services to stop gracefully (SSE streams end at once, then Orleans stops).</summary>
    public static readonly TimeSpan GracefulTimeout = TimeSpan.FromSeconds(15);

    /// <summary>The most a stop may take in all; what is still running then is abandoned.</summary>
    public static readonly TimeSpan HardLimit = TimeSpan.FromSeconds(25);

    public static IServiceCollection AddBoundedShutdown(this IServiceCollection services) =>
        services.Configure<HostOptions>(o => o.ShutdownTimeout = GracefulTimeout);

    /// <summary>Runs the host until it is asked to stop, then stops it within <see cref="HardLimit"/>.</summary>
    public static async Task RunBoundedAsync(this IHost host)
    {
        await host.StartAsync();
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (lifetime.ApplicationStopping.Register(() => stopping.TrySetResult()))
        {
            await stopping.Task;
        }

        var stop = host.StopAsync();
        if (await Task.WhenAny(stop, Task.Delay(HardLimit)) == stop)
        {
            await stop;
            (host as IDisposable)?.Dispose();
            return;
        }

        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BoundedShutdown));
        log.LogCritical("The host did not stop within {Limit}; exiting without waiting further (is Redis reachable?). " +
            "Grain state that was not written is not lost: nothing unwritten was acknowledged.", HardLimit);
        Environment.ExitCode = 2;
        // Lifetime handlers wait for the host's disposal before the process may end; let them go.
        (lifetime as IDisposable)?.Dispose();
        (host.Services.GetService<IHostLifetime>() as IDisposable)?.Dispose();
    }
}
