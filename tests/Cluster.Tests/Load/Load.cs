namespace Lectures.Cluster.Tests.Load;

/// <summary>Closed-loop clients, spread round-robin over the workloads, running until stopped.</summary>
public sealed class Load
{
    /// <summary>A pause between one client's requests, so 32+ clients leave the 2-core machine's silos some room.</summary>
    public static readonly TimeSpan ThinkTime = TimeSpan.FromMilliseconds(40);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _clients;

    private Load(Driver driver, IReadOnlyList<IWorkload> workloads, int clients)
    {
        _clients = [.. Enumerable.Range(0, clients).Select(i => Task.Run(() => workloads[i % workloads.Count].RunClientAsync(driver, i, _stop.Token)))];
    }

    public int Clients => _clients.Length;

    public static Load Start(Driver driver, IReadOnlyList<IWorkload> workloads, int clients) => new(driver, workloads, clients);

    /// <summary>Stops every client after its current request (and the retries of an unsettled one are abandoned).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
    }
}
