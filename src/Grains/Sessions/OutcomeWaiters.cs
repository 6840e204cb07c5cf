namespace Lectures.Grains.Sessions;

/// <summary>The wait-mode callers of one session, by request id; created by the first one (an idle session holds none).</summary>
public sealed class OutcomeWaiters(TimeProvider clock)
{
    private Dictionary<string, TaskCompletionSource<RequestOutcome?>>? _waiters;

    /// <summary>The outcome once <see cref="Complete"/> gives it; null after <paramref name="maxWait"/> or when <see cref="ReleaseAll"/> is called.</summary>
    public async Task<RequestOutcome?> WaitAsync(string requestId, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        _waiters ??= [];
        if (!_waiters.TryGetValue(requestId, out var waiter))
        {
            _waiters[requestId] = waiter = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            return await waiter.Task.WaitAsync(maxWait, clock, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>Wakes the callers of <paramref name="requestIds"/> with their outcomes in <paramref name="written"/> (a request no longer there was cleared).</summary>
    public void Complete(SessionState written, params IEnumerable<string?> requestIds)
    {
        foreach (var requestId in requestIds)
        {
            if (requestId is not null && _waiters is not null && _waiters.Remove(requestId, out var waiter))
            {
                waiter.TrySetResult(SessionRules.Outcome(written, requestId) ?? new RequestOutcome(requestId, RequestStatus.Cancelled, null));
            }
        }
    }

    /// <summary>Answers every caller with null: they ask again (the activation is going away).</summary>
    public void ReleaseAll()
    {
        foreach (var waiter in _waiters?.Values.ToList() ?? [])
        {
            waiter.TrySetResult(null);
        }

        _waiters = null;
    }
}
