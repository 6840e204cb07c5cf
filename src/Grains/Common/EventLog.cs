namespace Lectures.Grains.Common;

/// <summary>
/// The recent changes of one grain, kept in memory for its live event streams (SSE relays long-poll it).
/// It is a hint, not a record: after a reactivation or when a client is further behind than the
/// buffer reaches, the client gets a snapshot of the current state instead, so a lost event is never a lost update.
/// Only touched from the grain's own scheduler, so it needs no lock.
/// </summary>
public sealed class EventLog<T>(int capacity = 128)
{
    private readonly LinkedList<ChangeEvent<T>> _events = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Append(long id, string type, T data)
    {
        // Keep id order even if the writers' continuations resume out of order.
        var after = _events.Last;
        while (after is not null && after.Value.Id > id)
        {
            after = after.Previous;
        }

        var change = new ChangeEvent<T>(id, type, data);
        if (after is null)
        {
            _events.AddFirst(change);
        }
        else
        {
            _events.AddAfter(after, change);
        }

        while (_events.Count > capacity)
        {
            _events.RemoveFirst();
        }

        var changed = _changed;
        _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    /// <summary>
    /// The events after <paramref name="afterId"/>; a snapshot event when the log cannot prove it holds every one of them;
    /// waits up to <paramref name="maxWait"/> when the client is current.
    /// </summary>
    public async Task<EventBatch<T>> WaitAfterAsync(long afterId, long currentId, Func<ChangeEvent<T>> snapshot, TimeSpan maxWait,
        CancellationToken cancellationToken = default)
    {
        if (currentId <= afterId && maxWait > TimeSpan.Zero)
        {
            // A caller that goes away (its cancellation reaches the grain) frees this call at once.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(maxWait);
            try
            {
                await _changed.Task.WaitAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Waited the whole maxWait: answer that nothing changed.
            }
        }

        return After(afterId, snapshot);
    }

    private EventBatch<T> After(long afterId, Func<ChangeEvent<T>> snapshot)
    {
        var current = snapshot();
        if (current.Id <= afterId)
        {
            return new EventBatch<T>([]);
        }

        var first = _events.First?.Value;
        // The log holds the gap only when its oldest event is the very next one the client has not seen (or older).
        if (first is null || first.Id > afterId + 1)
        {
            return new EventBatch<T>([current]);
        }

        return new EventBatch<T>(_events.Where(e => e.Id > afterId).ToList());
    }
}
