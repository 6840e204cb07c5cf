using Lectures.Grains.Common;
using Lectures.Grains.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Storage;

namespace Lectures.Grains.Sessions;

/// <summary>
/// The Orleans shell around <see cref="SessionRules"/>: it commits what the rules return (<see cref="SessionStore"/>),
/// hands the request in flight to the user's <see cref="GenerationWorkerGrain"/>, takes its result through
/// <see cref="CompleteGenerationAsync"/> (idempotent per request), keeps its durable checks in the background
/// (<see cref="BackgroundReminder"/>) and publishes durable changes through its <see cref="EventLog{T}"/>.
/// Not reentrant: a change is one turn that applies a rule, writes and only then answers, so the busy check and the
/// mark are one step and every refusal rests on written state. The reads marked on <see cref="IUserSessionGrain"/>
/// interleave and answer from the state as last written.
/// </summary>
// Sessions are many and small: spread them over the silos rather than on the silo whose gateway a client used.
[RandomPlacement]
public sealed class UserSessionGrain(
    [PersistentState("session", SessionOptions.Storage)] IPersistentState<SessionRecord> record,
    IOptions<SessionOptions> options,
    IOptions<RateLimitOptions> limits,
    GlobalRateLimiter global,
    TimeProvider clock,
    ILogger<UserSessionGrain> logger) : Grain, IUserSessionGrain, IRemindable
{
    private readonly SessionOptions _options = options.Value;
    private readonly OutcomeWaiters _waiters = new(clock);
    private readonly SessionAdmission _admission = new(options.Value, limits.Value, global, clock);
    // Changes are not interleaved, so between turns this is what is written (plus the bucket of refused messages).
    private SessionState _state = SessionState.Empty;
    // What the interleaving reads answer from: the state as last written.
    private SessionState _durable = SessionState.Empty;
    private SessionStore _store = null!;
    private SessionGeneration _generation = null!;
    private EventLog<SessionEvent> _events = null!;
    private BackgroundReminder _recovery = null!;
    private BackgroundReminder _idle = null!;
    // While a message is being accepted: its recovery check is registered alongside the write, not after it.
    private bool _accepting;
    private bool _broken;

    private DateTimeOffset Now => clock.GetUtcNow();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _store = new SessionStore(record, ServiceProvider.GetRequiredKeyedService<IGrainStorage>(SessionOptions.Storage), this, logger);
        _generation = new SessionGeneration(GrainFactory, this.GetGrainId(), _options);
        _events = this.CreateEventLog<SessionEvent>(LiveStreams.Sessions, logger);
        _state = _durable = await _store.LoadAsync();
        _recovery = new(this, "recover", _options.RecoveryPeriod, () => _accepting || _state.ActiveRequestId is not null || !_state.Queue.IsEmpty, logger);
        _idle = new(this, "idle", _options.IdleCheckPeriod, () => _state.Exists, logger);
        if (SessionRules.IsLost(_state, Now, _options))
        {
            // Also hands the next queued request (if any) to the worker.
            await FinishAsync(_state.ActiveRequestId!, RequestStatus.Failed, null);
        }
        else
        {
            // A worker still generating the request in flight goes on and reports here; one that lost it reports it interrupted.
            _generation.Start(_state, _events.Watched, resumeOnly: true);
        }

        _recovery.Sync();
        _idle.Sync();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Wait-mode callers ask the next activation; generation goes on in the worker, which reports there.
        _waiters.ReleaseAll();
        return Task.CompletedTask;
    }

    public async Task<SendResult> SendAsync(string text)
    {
        EnsureUsable();
        (_state, var refusal, var busy) = await _admission.AdmitAsync(_state);
        if (busy is not null)
        {
            throw busy;
        }

        if (refusal is not null)
        {
            return refusal;
        }

        var requestId = Guid.NewGuid().ToString("N");
        var (next, position) = SessionRules.Accept(_state, requestId, text, Now, Now.ToUnixTimeMilliseconds() * 1000, _options);
        var status = position == 0 ? RequestStatus.Processing : RequestStatus.Queued;
        _accepting = true;
        _recovery.Sync();
        try
        {
            await CommitAsync(next, ("status", requestId, status, null));
        }
        finally
        {
            _accepting = false;
        }

        DomainMetrics.SessionRequests.Add(1);
        _generation.Start(_state, _events.Watched);
        _idle.Sync();
        return new SendResult(SendOutcome.Accepted, requestId, status, position, TimeSpan.Zero);
    }

    // A broken activation keeps no caller waiting: Orleans replaces it only once no call of it is running.
    public Task<RequestOutcome?> WaitAsync(string requestId, TimeSpan maxWait, CancellationToken cancellationToken = default) =>
        SessionRules.Outcome(_durable, requestId) is { } known ? Task.FromResult<RequestOutcome?>(known)
        : _broken ? Task.FromResult<RequestOutcome?>(null)
        : _waiters.WaitAsync(requestId, maxWait, cancellationToken);

    public async Task<CancelResult> CancelAsync()
    {
        EnsureUsable();
        if (_state.ActiveRequestId is not { } active)
        {
            return new CancelResult(false, null);
        }

        DomainMetrics.SessionCancellations.Add(1, new KeyValuePair<string, object?>("by", "cancel"));
        await FinishAsync(active, RequestStatus.Cancelled, null);
        return new CancelResult(true, active);
    }

    public async Task<ClearResult> ClearAsync()
    {
        EnsureUsable();
        if (!_state.Exists)
        {
            return new ClearResult(false, true);
        }

        var (active, queued) = (_state.ActiveRequestId, _state.Queue);
        await CommitAsync(SessionRules.Clear(_state, Now), ("status", active, active is null ? null : RequestStatus.Cancelled, null));
        if (active is not null)
        {
            DomainMetrics.SessionCancellations.Add(1, new KeyValuePair<string, object?>("by", "clear"));
            _generation.Cancel(active);
        }

        _waiters.Complete(_durable, queued.Prepend(active));
        return new ClearResult(active is not null, true);
    }

    public Task<SessionView> GetAsync()
    {
        EnsureUsable();
        return _durable.Exists
            ? Task.FromResult(SessionRules.View(_durable, this.GetPrimaryKeyString()))
            : throw DomainException.NotFound(SessionErrors.NotFound, $"User '{this.GetPrimaryKeyString()}' has no session.");
    }

    public Task<EventBatch<SessionEvent>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default)
    {
        var s = _durable;
        var snapshot = SessionRules.Snapshot(s, Now);
        // The log holds every event of this incarnation: a client of a deleted one (lower ids) gets them all. Beyond the
        // log (a reactivation, a client far behind), the replies it missed come from the history.
        return Task.FromResult(_events.After(afterId, snapshot, () => SessionRules.Replay(s, afterId < 0 ? afterId : Math.Max(afterId, s.Incarnation), snapshot), s.Incarnation));
    }

    public async Task<bool> CompleteGenerationAsync(string slot, string requestId, GenerationResult result)
    {
        EnsureUsable();
        return await FinishAsync(requestId, SessionRules.StatusOf(result.Outcome), result.Text);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_broken)
        {
            return;
        }

        if (SessionRules.IsLost(_state, Now, _options) && _state.ActiveRequestId is { } lost)
        {
            logger.LogInformation("Session {UserId}: request {RequestId} outlived its deadline and report; failing it", this.GetPrimaryKeyString(), lost);
            await FinishAsync(lost, RequestStatus.Failed, null);
        }
        else if (SessionRules.IsExpired(_state, Now, _options))
        {
            await _store.DeleteAsync();
            logger.LogInformation("Session {UserId} was idle for {IdleExpiry}; deleted", this.GetPrimaryKeyString(), _options.IdleExpiry);
            // Calls queued behind this turn go to a new activation, which finds no session and starts a new one.
            _state = _durable = SessionState.Empty with { EventSeq = _state.EventSeq };
            DeactivateOnIdle();
        }

        _recovery.Sync();
        _idle.Sync();
    }

    /// <summary>Ends the request in flight and starts the next queued one. False when it had ended already.</summary>
    private async Task<bool> FinishAsync(string requestId, RequestStatus status, string? reply)
    {
        var next = SessionRules.Finish(_state, requestId, status, reply, Now, _options);
        if (ReferenceEquals(next, _state))
        {
            DomainMetrics.DuplicatesPrevented.Add(1);
            return false;
        }

        (status == RequestStatus.Timeout ? DomainMetrics.SessionTimeouts : status == RequestStatus.Failed ? DomainMetrics.SessionFailures : null)?.Add(1);
        var stored = status == RequestStatus.Completed ? requestId : null;
        await CommitAsync(next, ("reply", stored, status, stored is null ? null : SessionRules.Outcome(next, requestId)?.Reply),
            ("status", requestId, status, null), ("status", next.ActiveRequestId, RequestStatus.Processing, null));
        _generation.Cancel(requestId);
        _waiters.Complete(_durable, requestId);
        _generation.Start(_state, _events.Watched);
        return true;
    }

    /// <summary>Writes <paramref name="next"/>, then publishes its events: nothing shows what is not written.</summary>
    private async Task CommitAsync(SessionState next, params (string Type, string? RequestId, RequestStatus? Status, string? Reply)[] changes)
    {
        EnsureUsable();
        // A change without a request id is only published when it is the whole change (a clear with nothing in flight).
        var events = changes.Where(c => c.RequestId is not null || changes.Length == 1).ToList();
        var firstId = next.EventSeq + 1;
        next = next with { EventSeq = next.EventSeq + events.Count };
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i] is ("reply", { } replied, _, _))
            {
                next = SessionRules.MarkReplyEvent(next, replied, firstId + i);
            }
        }

        try
        {
            await _store.WriteAsync(next);
        }
        catch
        {
            // Memory may now differ from the store: refuse everything until the session is reloaded, which the next
            // activation does (a failed page write deactivates as a failed record write does). Wait-mode callers ask
            // the next activation: a waiting call would keep this one, and its refusals (the reply's report too), alive
            // for the rest of its wait.
            _broken = true;
            _waiters.ReleaseAll();
            DeactivateOnIdle();
            throw;
        }

        _state = _durable = next;
        foreach (var (type, requestId, status, reply) in events)
        {
            _events.Append(firstId++, type, SessionRules.Event(next, requestId, status, reply, Now));
        }
    }

    private void EnsureUsable()
    {
        if (_broken)
        {
            throw new StorageUnavailableException("The grain store could not be written; the change was not acknowledged.");
        }
    }
}
