using System.Collections.Concurrent;
using System.Text.Json;

namespace Lectures.Cluster.Tests.Load;

/// <summary>One kind of client traffic: prepares its entities, runs one client's loop, then checks what it recorded.</summary>
public interface IWorkload
{
    string Name { get; }
    Task PrepareAsync(Driver driver);
    Task RunClientAsync(Driver driver, int client, CancellationToken stop);
    /// <summary>Checks the cluster's state against every acknowledgement this workload recorded.</summary>
    Task VerifyAsync(Driver driver, Findings findings);
}

/// <summary>What the verification found, per feature: acknowledged mutations, lost ones and duplicates.</summary>
public sealed class Findings
{
    private readonly ConcurrentQueue<string> _problems = new();

    public ConcurrentDictionary<string, long> Acknowledged { get; } = new();
    public ConcurrentDictionary<string, long> Lost { get; } = new();
    public ConcurrentDictionary<string, long> Duplicated { get; } = new();
    /// <summary>Other figures a workload reports (stalled jobs, recovery times, ...).</summary>
    public ConcurrentDictionary<string, string> Figures { get; } = new();
    public IReadOnlyCollection<string> Problems => _problems;

    public void Acked(string feature, long count) => Acknowledged.AddOrUpdate(feature, count, (_, n) => n + count);

    public void LostOne(string feature, string detail)
    {
        Lost.AddOrUpdate(feature, 1, (_, n) => n + 1);
        Problem($"LOST {feature}: {detail}");
    }

    public void DuplicatedOne(string feature, string detail)
    {
        Duplicated.AddOrUpdate(feature, 1, (_, n) => n + 1);
        Problem($"DUPLICATE {feature}: {detail}");
    }

    public void Problem(string detail) => _problems.Enqueue(detail);
}

public static class Requests
{
    public static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Sends until the answer is final (acknowledged or refused), as a client does with a mutation that carries its own
    /// id: a failed or lost answer is retried with the same id. Null when the load stopped first (outcome unknown).
    /// </summary>
    public static async Task<Reply?> UntilSettledAsync(Func<Task<Reply>> send, CancellationToken stop)
    {
        while (true)
        {
            var reply = await send();
            if (!reply.ShouldRetry)
            {
                return reply;
            }

            if (stop.IsCancellationRequested)
            {
                return null;
            }

            await Task.Delay(RetryPause);
        }
    }

    /// <summary>
    /// Until when verification reads are retried through unavailability: one budget for the whole verification, so a
    /// cluster that does not serve fails it in bounded time instead of every read waiting on its own.
    /// </summary>
    public static DateTime VerifyRetriesUntil { get; set; } = DateTime.MaxValue;

    /// <summary>A read for verification: retried through short unavailability while the verification budget lasts.</summary>
    public static async Task<Reply> ReadAsync(Driver driver, string operation, string path, params string[] refusals)
    {
        while (true)
        {
            var reply = await driver.GetAsync(operation, path, refusals);
            if (!reply.ShouldRetry || DateTime.UtcNow > VerifyRetriesUntil)
            {
                return reply;
            }

            await Task.Delay(RetryPause);
        }
    }

    public static string? Str(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static double? Num(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
