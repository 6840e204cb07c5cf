using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Common;

/// <summary>
/// Group commit for one grain's persistent state, held as an immutable value. A caller replaces <see cref="State"/>
/// (synchronously, inside its turn) and then awaits <see cref="CommitAsync"/>, which completes only after a write that
/// contains its change. Callers that change the state while a write is in flight share the next write, so a hot grain
/// does one Redis round trip per batch instead of one per request. A write carries the value <see cref="State"/> had
/// when its batch closed: a change made while it is in flight belongs to the next batch and is never stored by this
/// one, so a caller answered 503 (its batch failed) never finds its change stored. Only one write is ever in flight
/// (the state's ETag would conflict otherwise). Runs on the grain's scheduler.
/// </summary>
public sealed class GroupCommit<T>(IPersistentState<T> state, Grain grain, ILogger logger) where T : class
{
    private TaskCompletionSource? _next;
    private TaskCompletionSource? _inFlight;
    private Exception? _broken;

    /// <summary>The state with every change made so far, written or not. Replace it; never mutate it.</summary>
    public T State { get; set; } = state.State;

    /// <summary>The state as last written (or read) from the store: what timers and reminders decide on.</summary>
    public T Durable { get; private set; } = state.State;

    /// <summary>Completes when the writes in flight or queued are done; null when there are none.</summary>
    // A completed batch is not in flight: its waiters run inline while the writer still holds it (see CommitAsync).
    public Task? Pending => (_next ?? _inFlight)?.Task is { IsCompleted: false } pending ? pending : null;

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
        return Pending ?? Task.CompletedTask;
    }

    /// <summary>
    /// Applies <paramref name="rule"/> to <see cref="State"/> and, in the same synchronous step, joins the write that will
    /// store the change (when <paramref name="needsWrite"/> says so; else the answer waits for the writes in flight, as
    /// what it shows must be written). A refusal (<see cref="DomainException"/>) is only given on stored state: when the
    /// rule refuses the state with writes in flight but not the stored state, it waits for those writes (they may still
    /// fail) and decides again, so a 409 or 412 never rests on a change that is then lost; the rule must be pure.
    /// With <paramref name="needsWrite"/> null the rule is only checked, nothing changes.
    /// </summary>
    public ValueTask<Decision<T>> DecideAsync(Func<T, T> rule, Func<T, T, bool>? needsWrite)
    {
        // Synchronous unless a refusal has to wait for writes in flight: no task is allocated on the common path.
        EnsureUsable();
        var pending = Pending;
        var before = State;
        T next;
        try
        {
            next = rule(before);
        }
        catch (DomainException) when (pending is not null)
        {
            // Refused on the stored state too: that refusal stands (and names the stored version). Otherwise the
            // refusal rests on writes in flight, which may fail: wait for them and decide again.
            _ = rule(Durable);
            return new ValueTask<Decision<T>>(DecideAfterAsync(pending, rule, needsWrite));
        }

        if (needsWrite is null)
        {
            return new ValueTask<Decision<T>>(new Decision<T>(before, next, Task.CompletedTask));
        }

        State = next;
        return new ValueTask<Decision<T>>(new Decision<T>(before, next, needsWrite(before, next) ? CommitAsync() : FlushAsync()));
    }

    private async Task<Decision<T>> DecideAfterAsync(Task pending, Func<T, T> rule, Func<T, T, bool>? needsWrite)
    {
        await pending;
        return await DecideAsync(rule, needsWrite);
    }

    public Task CommitAsync()
    {
        if (_broken is not null)
        {
            return Task.FromException(new StorageUnavailableException("The grain store could not be written; the change was not acknowledged."));
        }

        // Continuations run inline when the batch is written: the callers waiting for it are on this grain's scheduler
        // (they continue in the writer's turn, one hop less per request); a change they make joins the next batch.
        var batch = _next ??= new TaskCompletionSource();
        if (_inFlight is null)
        {
            _ = WriteBatchesAsync();
        }

        return batch.Task;
    }

    private async Task WriteBatchesAsync()
    {
        try
        {
            while (_next is { } batch)
            {
                // The batch closes here: the value written is the state as of now, and later changes join the next batch.
                _next = null;
                _inFlight = batch;
                var snapshot = State;
                state.State = snapshot;
                try
                {
                    await state.SaveAsync(grain, logger);
                    Durable = snapshot;
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
            _inFlight = null;
        }
    }
}

/// <summary>What a rule decided: the state it saw, the state it made, and the write (or flush) to await before answering.</summary>
public sealed record Decision<T>(T Before, T Next, Task Written);
