using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Lectures.Grains.Tests.Infrastructure;

/// <summary>
/// The grain tests' reminder table: an in-memory table shared by the silos of one test cluster (keyed by its cluster
/// id), plus a <see cref="ReminderGate"/> per grain that a test uses to delay or fail that grain's reminder writes, as a
/// slow or partitioned reminder table would.
/// </summary>
public sealed class GatedReminderTable(IOptions<ClusterOptions> cluster) : IReminderTable
{
    private static readonly ConcurrentDictionary<string, ConcurrentDictionary<(GrainId, string), ReminderEntry>> Tables = new();

    private ConcurrentDictionary<(GrainId Grain, string Name), ReminderEntry> Rows => Tables.GetOrAdd(cluster.Value.ClusterId, _ => new());

    public Task Init() => Task.CompletedTask;

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        Task.FromResult(new ReminderTableData(Rows.Where(r => r.Key.Grain == grainId).Select(r => r.Value).ToList()));

    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        Task.FromResult(new ReminderTableData(Rows.Values.Where(r => InRange(r.GrainId.GetUniformHashCode(), begin, end)).ToList()));

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        Task.FromResult(Rows.TryGetValue((grainId, reminderName), out var row) ? row : null);

    public async Task<string?> UpsertRow(ReminderEntry entry)
    {
        if (ReminderGate.Find(entry.GrainId) is { } gate)
        {
            await gate.EnterAsync();
        }

        var etag = Guid.NewGuid().ToString("N");
        Rows[(entry.GrainId, entry.ReminderName)] = new ReminderEntry
        {
            GrainId = entry.GrainId, ReminderName = entry.ReminderName, StartAt = entry.StartAt, Period = entry.Period, ETag = etag,
        };
        return etag;
    }

    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        if (ReminderGate.Find(grainId) is { } gate)
        {
            await gate.EnterAsync();
        }

        return Rows.TryGetValue((grainId, reminderName), out var row) && row.ETag == eTag && Rows.TryRemove((grainId, reminderName), out _);
    }

    public Task TestOnlyClearTable()
    {
        Rows.Clear();
        return Task.CompletedTask;
    }

    // Orleans' ring ranges: (begin, end], wrapping around when begin >= end.
    private static bool InRange(uint hash, uint begin, uint end) => begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
}

/// <summary>Test control of one grain's reminder writes (registrations and removals).</summary>
public sealed class ReminderGate
{
    private static readonly ConcurrentDictionary<GrainId, ReminderGate> Gates = new();

    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TimeSpan _delay;
    private int _failures;

    public static ReminderGate Of(IAddressable grain) => Gates.GetOrAdd(grain.GetGrainId(), _ => new ReminderGate());

    internal static ReminderGate? Find(GrainId grainId) => Gates.GetValueOrDefault(grainId);

    /// <summary>Completes when the first reminder write of the grain reaches the table.</summary>
    public Task Arrived => _arrived.Task;

    /// <summary>Every reminder write of the grain takes <paramref name="delay"/> longer.</summary>
    public void DelayWrites(TimeSpan delay) => _delay = delay;

    /// <summary>The grain's next <paramref name="count"/> reminder writes throw.</summary>
    public void FailNext(int count) => Interlocked.Exchange(ref _failures, count);

    internal async Task EnterAsync()
    {
        _arrived.TrySetResult();
        if (_delay > TimeSpan.Zero)
        {
            await Task.Delay(_delay);
        }

        if (Interlocked.Decrement(ref _failures) >= 0)
        {
            throw new InvalidOperationException("The reminder write was failed by the test.");
        }
    }
}

