using System.Collections.Concurrent;
using System.Globalization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Lectures.Grains.Hosting;

/// <summary>
/// Embedded mode's grain store: the process's own memory, not durable. Unlike Orleans' memory storage, which routes
/// every write through a few storage grains (a hop and a queue per write), this writes straight into a concurrent
/// dictionary. It keeps the real store's semantics: state is stored serialized with the same serializer as Redis mode
/// (a stored state never aliases a grain's live object, and serialization problems show up without Redis), and every
/// write is checked against the ETag it read, so a conflicting write throws as it would against Redis.
/// </summary>
public sealed class ProcessMemoryGrainStorage(IGrainStorageSerializer serializer, IActivatorProvider activators) : IGrainStorage
{
    private readonly ConcurrentDictionary<(string StateName, GrainId GrainId), Entry> _entries = new();
    // ETags are a counter, never reused in this process: as safe as a GUID here, and a 32-byte string instead of 88.
    private long _lastETag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_entries.TryGetValue((stateName, grainId), out var entry))
        {
            grainState.State = serializer.Deserialize<T>(entry.Data);
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = activators.GetActivator<T>().Create();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        var next = new Entry(Interlocked.Increment(ref _lastETag).ToString(CultureInfo.InvariantCulture), serializer.Serialize(grainState.State));
        var stored = grainState.ETag is null
            ? _entries.TryAdd(key, next)
            : _entries.TryGetValue(key, out var current) && current.ETag == grainState.ETag && _entries.TryUpdate(key, next, current);
        if (!stored)
        {
            throw new InconsistentStateException($"ETag conflict writing {stateName} of {grainId}", _entries.GetValueOrDefault(key)?.ETag, grainState.ETag);
        }

        grainState.ETag = next.ETag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        if (grainState.ETag is not null && !(_entries.TryGetValue(key, out var current) && current.ETag == grainState.ETag
                && _entries.TryRemove(new KeyValuePair<(string, GrainId), Entry>(key, current))))
        {
            throw new InconsistentStateException($"ETag conflict clearing {stateName} of {grainId}", _entries.GetValueOrDefault(key)?.ETag, grainState.ETag);
        }

        grainState.State = activators.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private sealed record Entry(string ETag, BinaryData Data);
}
