using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Common;

/// <summary>
/// Group commit for one grain's persistent state. A caller changes the state (synchronously, inside its turn) and
/// then awaits <see cref="CommitAsync"/>, which completes only after a write that contains its change. Callers that
/// change the state while a write is in flight share the next write, so a hot grain does one Redis round trip per
/// batch instead of one per request, and every caller is still acknowledged only after its change is durable.
/// Only one write is ever in flight (the state's ETag would conflict otherwise). Runs on the grain's scheduler.
/// </summary>
public sealed class GroupCommit<T>(IPersistentState<T> state, Grain grain, ILogger logger)
{
    private TaskCompletionSource? _next;
    private TaskCompletionSource? _inFlight;
    private bool _writing;
    private Exception? _broken;

    /// <summary>
    /// Throws <see cref="StorageUnavailableException"/> once a write has failed: the in-memory state may hold changes
    /// that are not stored, so nothing may be answered from it while the activation is being replaced.
    /// </summary>
    public void EnsureUsable()
    {
        if (_broken is not null)
        {
            throw new StorageUnavailableException("The grain store could not be written; the change was not acknowledged.");
        }
    }

    /// <summary>Completes when every change made before this call is durable: for answers read from the state.</summary>
    public Task FlushAsync()
    {
        EnsureUsable();
        return (_next ?? (_writing ? _inFlight : null))?.Task ?? Task.CompletedTask;
    }

    public Task CommitAsync()
    {
        if (_broken is not null)
        {
            // A write failed: the in-memory state holds changes that may not be stored. Refuse until reloaded.
            return Task.FromException(new StorageUnavailableException("The grain store could not be written; the change was not acknowledged."));
        }

        var batch = _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writing)
        {
            _ = WriteBatchesAsync();
        }

        return batch.Task;
    }

    private async Task WriteBatchesAsync()
    {
        _writing = true;
        try
        {
            while (_next is { } batch)
            {
                // Changes made from here on belong to the next batch.
                _next = null;
                _inFlight = batch;
                try
                {
                    await state.SaveAsync(grain, logger);
                    batch.SetResult();
                }
                catch (Exception ex)
                {
                    _broken = ex;
                    batch.SetException(ex);
                    if (_next is { } rest)
                    {
                        _next = null;
                        rest.SetException(ex);
                    }
                }
            }
        }
        finally
        {
            _writing = false;
            _inFlight = null;
        }
    }
}
