using System.Collections.Concurrent;
using Lectures.Grains.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.Tests.Infrastructure;

/// <summary>
/// The grain tests' store: the product's own <see cref="ProcessMemoryGrainStorage"/> with the product's storage
/// serializer (System.Text.Json), shared by every silo of the test cluster, plus a <see cref="WriteGate"/> per grain
/// that a test uses to hold, fail or record that grain's writes. A write is serialized when it enters the store, as
/// the Redis store does before its round trip, so a held write carries exactly what the grain handed over.
/// </summary>
public sealed class GatedGrainStorage(IGrainStorageSerializer serializer, IActivatorProvider activators, IOptions<Orleans.Configuration.ClusterOptions> cluster) : IGrainStorage
{
    // One store per in-process cluster, shared by its silos: a grain reactivated on the other silo reads what was
    // written. Per cluster, because a store holds its cluster's serializer, which goes away with that cluster.
    private static readonly ConcurrentDictionary<string, ProcessMemoryGrainStorage> Stores = new();

    private readonly ProcessMemoryGrainStorage _store = Stores.GetOrAdd(cluster.Value.ClusterId, _ => new ProcessMemoryGrainStorage(serializer, activators));

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        _store.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var payload = serializer.Serialize(grainState.State);
        var gate = WriteGate.Find(grainId);
        var recorded = gate is null ? -1 : await gate.EnterAsync(stateName, payload.ToString());

        var written = new GrainState<T>(serializer.Deserialize<T>(payload), grainState.ETag);
        await _store.WriteStateAsync(stateName, grainId, written);
        grainState.ETag = written.ETag;
        grainState.RecordExists = true;
        gate?.MarkStored(recorded);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var gate = WriteGate.Find(grainId);
        var recorded = gate is null ? -1 : await gate.EnterAsync(stateName, WriteGate.Cleared, clear: true);
        await _store.ClearStateAsync(stateName, grainId, grainState);
        gate?.MarkStored(recorded);
    }
}

/// <summary>The failure a test injects into a write.</summary>
public sealed class StoreFailedByTestException() : Exception("The write was failed by the test.");

/// <summary>
/// Test control of one grain's writes (the cluster is in-process, so a static registry reaches every silo's store).
/// Steps queued with <see cref="PassNext"/>, <see cref="HoldNext"/> and <see cref="FailNext"/> apply to the grain's
/// next writes in order; writes without a step pass. Every write is recorded with whether it was stored.
/// </summary>
public sealed class WriteGate
{
    private static readonly ConcurrentDictionary<GrainId, WriteGate> Gates = new();

    /// <summary>The payload recorded for a clear (a deletion of the state).</summary>
    public const string Cleared = "<cleared>";

    private readonly ConcurrentQueue<(string? StateName, HeldWrite? Step)> _steps = new();
    private readonly ConcurrentQueue<HeldWrite> _clears = new();
    private readonly List<Write> _writes = [];

    /// <summary>The gate of <paramref name="grain"/>; from now on its writes are recorded.</summary>
    public static WriteGate Of(IAddressable grain) => Of(grain.GetGrainId());

    public static WriteGate Of(GrainId grain) => Gates.GetOrAdd(grain, _ => new WriteGate());

    internal static WriteGate? Find(GrainId grainId) => Gates.GetValueOrDefault(grainId);

    /// <summary>Drops the gate of <paramref name="grain"/> and what it recorded (a long run of the explorer makes thousands).</summary>
    public static void Forget(IAddressable grain) => Gates.TryRemove(grain.GetGrainId(), out _);

    /// <summary>Every write that reached the store since the gate was opened, in order, with its JSON payload.</summary>
    public IReadOnlyList<Write> Writes
    {
        get
        {
            lock (_writes)
            {
                return [.. _writes];
            }
        }
    }

    /// <summary>The JSON last stored for the grain's state (what a reload would read), or null.</summary>
    public string? Stored => Writes.LastOrDefault(w => w.IsStored)?.Json;

    /// <summary>The JSON last stored for the grain's state named <paramref name="stateName"/>, or null.</summary>
    public string? StoredOf(string stateName) => Writes.LastOrDefault(w => w.IsStored && w.StateName == stateName)?.Json;

    /// <summary>The next write (after the steps already queued) passes. With a state name, only a write of that state counts.</summary>
    public void PassNext(string? stateName = null) => _steps.Enqueue((stateName, null));

    /// <summary>The next write (after the steps already queued) waits until the test releases or fails it.</summary>
    public HeldWrite HoldNext(string? stateName = null)
    {
        var held = new HeldWrite();
        _steps.Enqueue((stateName, held));
        return held;
    }

    /// <summary>The next write (after the steps already queued) throws.</summary>
    public void FailNext(string? stateName = null)
    {
        var failing = new HeldWrite();
        failing.Fail();
        _steps.Enqueue((stateName, failing));
    }

    /// <summary>The grain's next clear (a deletion, recorded in <see cref="Writes"/> as <see cref="Cleared"/>) waits until the test releases or fails it.</summary>
    public HeldWrite HoldNextClear()
    {
        var held = new HeldWrite();
        _clears.Enqueue(held);
        return held;
    }

    /// <summary>Records the write (or clear) and applies the next step; returns the write's index in <see cref="Writes"/>.</summary>
    internal async Task<int> EnterAsync(string stateName, string json, bool clear = false)
    {
        var index = Record(stateName, json);
        HeldWrite? step = null;
        if (clear)
        {
            _clears.TryDequeue(out step);
        }
        // A grain's writes are not concurrent (one in flight at a time), so peek-then-take does not race.
        else if (_steps.TryPeek(out var next) && (next.StateName is null || next.StateName == stateName)
            && _steps.TryDequeue(out var taken))
        {
            step = taken.Step;
        }

        if (step is not null)
        {
            step.Arrive(json);
            try
            {
                await step.Outcome;
            }
            catch (StoreFailedByTestException)
            {
                lock (_writes)
                {
                    _writes[index] = _writes[index] with { Failed = true };
                }

                throw;
            }
        }

        return index;
    }

    internal void MarkStored(int index)
    {
        lock (_writes)
        {
            _writes[index] = _writes[index] with { IsStored = true, StoredAt = DateTime.UtcNow };
        }
    }

    private int Record(string stateName, string json)
    {
        lock (_writes)
        {
            _writes.Add(new Write(stateName, json, IsStored: false, Failed: false));
            return _writes.Count - 1;
        }
    }

    /// <summary>A write (or clear) as it reached the store; <see cref="StoredAt"/>: when the store took it (null unless stored).</summary>
    public sealed record Write(string StateName, string Json, bool IsStored, bool Failed, DateTime? StoredAt = null);
}

/// <summary>A write the test holds in flight: <see cref="Reached"/> completes when the write arrives with its payload.</summary>
public sealed class HeldWrite
{
    private readonly TaskCompletionSource<string> _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<string> Reached => _reached.Task;

    internal Task Outcome => _outcome.Task;

    /// <summary>Lets the write through to the store.</summary>
    public void Release() => _outcome.TrySetResult();

    /// <summary>Makes the write throw, as a store that is down would.</summary>
    public void Fail() => _outcome.TrySetException(new StoreFailedByTestException());

    internal void Arrive(string json) => _reached.TrySetResult(json);
}
