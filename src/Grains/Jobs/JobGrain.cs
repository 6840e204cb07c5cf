using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Lectures.Grains.Jobs;

/// <summary>
/// Every rule of a job is a check-then-act that runs without an await between the check and the change, so two
/// workers claiming, a progress report racing a completion, or a late heartbeat after a cancel are decided one at a
/// time on the grain's single thread. Writes go through <see cref="GroupCommit{T}"/>: a hot job's many reports share
/// Redis round trips, and each caller is answered only after a write that contains its change.
/// </summary>
// Reentrant, safe by inspection: every method checks and changes state before its first await (StartAsync checks
// again after registering its reminder) and only awaits the group commit afterwards, so an interleaved call always
// decides on a state that satisfies every rule, never a half-made one; it answers only once what it shows is written.
[Reentrant]
public sealed class JobGrain(
    [PersistentState("job")] IPersistentState<JobState> state,
    IOptions<JobOptions> options,
    TimeProvider clock,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    private const string StallReminder = "stall";

    private readonly JobOptions _options = options.Value;
    private EventLog<JobView> _events = null!;
    private GroupCommit<JobState>? _commit;
    private bool _stallReminderRegistered;
    // The job as last written: what event streams are answered from, so they never show a change that is not durable.
    private JobView? _durable;
    private JobState S => state.State;

    // True once this activation has seen a sign of life itself; until then the stored heartbeat may lag by up to
    // the lazy window, and stall detection allows for that so it never fails a job early.
    private bool _heartbeatExact;
    private DateTimeOffset? _persistedHeartbeat;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _commit = new GroupCommit<JobState>(state, this, logger);
        _events = this.CreateEventLog<JobView>(LiveStreams.Jobs, logger);
        _durable = View();
        _persistedHeartbeat = S.LastHeartbeat;
        // The silo that held this job may have died; a reactivated processing job is checked at once.
        await FailIfStalledAsync();
    }

    public async Task<CreateJobResult> CreateAsync(string kind, string? inputJson)
    {
        _commit!.EnsureUsable();
        if (S.Exists)
        {
            if (S.Kind == kind && S.InputJson == inputJson)
            {
                DomainMetrics.DuplicatesPrevented.Add(1);
                return new CreateJobResult(false, await ReadDurableAsync());
            }

            throw DomainException.Conflict(JobErrors.Exists, $"Job '{this.GetPrimaryKeyString()}' exists with another kind or input.");
        }

        S.Exists = true;
        S.Kind = kind;
        S.InputJson = inputJson;
        S.Status = JobStatus.Queued;
        S.CreatedAt = clock.GetUtcNow();
        return new CreateJobResult(true, await CommitAsync("status"));
    }

    public Task<JobView> GetAsync()
    {
        _commit!.EnsureUsable();
        EnsureExists();
        return ReadDurableAsync();
    }

    public async Task<JobView> StartAsync(string workerId, IfMatch? ifMatch = null)
    {
        _commit!.EnsureUsable();
        if (CheckClaim(workerId, ifMatch) is { } alreadyMine)
        {
            return await ReadDurableAsync(alreadyMine);
        }

        if (!_stallReminderRegistered)
        {
            // The reminder is registered before the state changes: if registering fails nothing was claimed, and if
            // the write fails afterwards the reminder finds a job that is not processing and removes itself.
            await this.RegisterOrUpdateReminder(StallReminder, _options.LazyHeartbeatWindow, _options.LazyHeartbeatWindow);
            _stallReminderRegistered = true;
            // Another call may have run while this one awaited: decide again on the state as it is now.
            if (CheckClaim(workerId, ifMatch) is { } mine)
            {
                return await ReadDurableAsync(mine);
            }
        }

        var now = clock.GetUtcNow();
        S.Status = JobStatus.Processing;
        S.WorkerId = workerId;
        S.StartedAt = now;
        S.LastHeartbeat = now;
        _heartbeatExact = true;
        _persistedHeartbeat = now;
        return await CommitAsync("status");
    }

    /// <summary>Null when the job can be claimed; the job when this worker holds it already; throws otherwise.</summary>
    private JobView? CheckClaim(string workerId, IfMatch? ifMatch)
    {
        EnsureExists();
        EnsureNotTerminal();
        if (S.Status == JobStatus.Processing)
        {
            // A worker retrying its own claim gets the job again; anybody else lost the race.
            return S.WorkerId == workerId
                ? View()
                : throw DomainException.Conflict(JobErrors.Claimed, "Job is claimed by another worker.");
        }

        IfMatch.Ensure(ifMatch, S.Version);
        return null;
    }

    public async Task<ProgressResult> ReportProgressAsync(string workerId, double progress, string? message, IfMatch? ifMatch = null)
    {
        EnsureReportable(workerId);
        if (progress is < 0 or > 100 || double.IsNaN(progress))
        {
            throw DomainException.Invalid("progress", "progress must be between 0 and 100.");
        }

        if (progress < S.Progress)
        {
            DomainMetrics.JobProgressIgnored.Add(1);
            return new ProgressResult(false, await ReadDurableAsync());
        }

        IfMatch.Ensure(ifMatch, S.Version);
        S.Progress = progress;
        S.Message = message ?? S.Message;
        S.LastHeartbeat = clock.GetUtcNow();
        _heartbeatExact = true;
        _persistedHeartbeat = S.LastHeartbeat;
        return new ProgressResult(true, await CommitAsync("progress"));
    }

    /// <summary>
    /// Heartbeats are the hottest path and are persisted lazily: only when the stored heartbeat is older than
    /// <see cref="JobOptions.LazyHeartbeatWindow"/> (timeout / 3). That is safe because the stored value is only read
    /// after this activation is gone (silo crash, deactivation), and stall detection then adds the same window to
    /// the deadline: a job is never failed early, and at most one window late. A live activation uses the exact value.
    /// </summary>
    public async Task<JobView> HeartbeatAsync(string workerId)
    {
        EnsureReportable(workerId);
        var now = clock.GetUtcNow();
        S.LastHeartbeat = now;
        _heartbeatExact = true;
        var view = View();
        if (_persistedHeartbeat is null || now - _persistedHeartbeat.Value >= _options.LazyHeartbeatWindow)
        {
            // Set before the write so the heartbeats arriving meanwhile do not queue writes of their own.
            _persistedHeartbeat = now;
            await _commit!.CommitAsync();
        }
        else
        {
            // Not written (lazy), but the rest of what it shows must be: wait for any write in flight.
            await _commit!.FlushAsync();
        }

        return view;
    }

    public async Task<JobView> CompleteAsync(string workerId, string? resultJson, IfMatch? ifMatch = null)
    {
        EnsureReportable(workerId);
        IfMatch.Ensure(ifMatch, S.Version);
        S.Progress = 100;
        S.ResultJson = resultJson;
        return await FinishAsync(JobStatus.Completed);
    }

    public async Task<JobView> FailAsync(string workerId, string error, IfMatch? ifMatch = null)
    {
        EnsureReportable(workerId);
        IfMatch.Ensure(ifMatch, S.Version);
        S.Error = error;
        return await FinishAsync(JobStatus.Failed);
    }

    public async Task<JobView> CancelAsync(IfMatch? ifMatch = null)
    {
        _commit!.EnsureUsable();
        EnsureExists();
        EnsureNotTerminal();
        IfMatch.Ensure(ifMatch, S.Version);
        return await FinishAsync(JobStatus.Cancelled);
    }

    public Task<EventBatch<JobView>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default)
    {
        EnsureExists();
        var durable = _durable!;
        if (durable.Version == 0)
        {
            // Being created: nothing durable to stream yet.
            throw DomainException.NotFound(JobErrors.NotFound, $"Job '{this.GetPrimaryKeyString()}' does not exist.");
        }

        return Task.FromResult(_events.After(afterId, () => new ChangeEvent<JobView>(durable.Version, "status", durable)));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != StallReminder)
        {
            return;
        }

        if (!S.Exists || S.Status != JobStatus.Processing)
        {
            await StopStallReminderAsync();
            return;
        }

        await FailIfStalledAsync();
    }

    private async Task FailIfStalledAsync()
    {
        if (!S.Exists || S.Status != JobStatus.Processing)
        {
            return;
        }

        var lastSignOfLife = S.LastHeartbeat ?? S.StartedAt ?? S.CreatedAt;
        var deadline = lastSignOfLife + _options.HeartbeatTimeout + (_heartbeatExact ? TimeSpan.Zero : _options.LazyHeartbeatWindow);
        if (clock.GetUtcNow() < deadline)
        {
            return;
        }

        logger.LogInformation("Job {JobId} had no heartbeat since {LastHeartbeat}; failing it as stalled", this.GetPrimaryKeyString(), lastSignOfLife);
        S.Error = JobErrors.Stalled;
        await FinishAsync(JobStatus.Failed);
        DomainMetrics.JobsStalled.Add(1);
    }

    private async Task<JobView> FinishAsync(JobStatus terminal)
    {
        S.Status = terminal;
        S.CompletedAt = clock.GetUtcNow();
        var view = await CommitAsync("status");
        await StopStallReminderAsync();
        return view;
    }

    private async Task StopStallReminderAsync()
    {
        try
        {
            // Cleared first: a claim that interleaves while this awaits registers the reminder again itself.
            _stallReminderRegistered = false;
            var reminder = await this.GetReminder(StallReminder);
            if (reminder is not null && S.Status != JobStatus.Processing)
            {
                await this.UnregisterReminder(reminder);
            }

            // A claim may have run during the awaits and relied on the reminder just removed: put it back.
            if (S.Status == JobStatus.Processing && !S.IsTerminal)
            {
                await this.RegisterOrUpdateReminder(StallReminder, _options.LazyHeartbeatWindow, _options.LazyHeartbeatWindow);
                _stallReminderRegistered = true;
            }
        }
        catch (Exception ex)
        {
            // Harmless: the next tick finds a job that is not processing and tries again.
            logger.LogWarning(ex, "Could not unregister the stall reminder of job {JobId}", this.GetPrimaryKeyString());
        }
    }

    /// <summary>
    /// Versions the change made by the caller and makes it durable, then publishes it. Returns the job as of this
    /// change (taken before the write, so it never shows a later change that is not yet written). Nothing is
    /// published or acknowledged that was not written.
    /// </summary>
    private async Task<JobView> CommitAsync(string eventType)
    {
        S.Version++;
        var view = View();
        await _commit!.CommitAsync();
        if (view.Version > _durable!.Version)
        {
            _durable = view;
        }

        _events.Append(view.Version, eventType, view);
        return view;
    }

    /// <summary>The job as it is now, answered once everything it shows is durable (a write may be in flight).</summary>
    private async Task<JobView> ReadDurableAsync(JobView? view = null)
    {
        view ??= View();
        await _commit!.FlushAsync();
        return view;
    }

    private void EnsureExists()
    {
        if (!S.Exists)
        {
            throw DomainException.NotFound(JobErrors.NotFound, $"Job '{this.GetPrimaryKeyString()}' does not exist.");
        }
    }

    private void EnsureNotTerminal()
    {
        if (S.IsTerminal)
        {
            throw DomainException.Conflict(JobErrors.Terminal, $"Job is {S.Status.ToString().ToLowerInvariant()} and can no longer change.",
                new Dictionary<string, string> { ["currentStatus"] = S.Status.ToString().ToLowerInvariant() });
        }
    }

    private void EnsureReportable(string workerId)
    {
        _commit!.EnsureUsable();
        EnsureExists();
        EnsureNotTerminal();
        if (S.Status == JobStatus.Queued)
        {
            throw DomainException.Conflict(JobErrors.NotStarted, "Job has not been started by a worker.");
        }

        if (S.WorkerId != workerId)
        {
            throw DomainException.Conflict(JobErrors.NotOwner, "Job is owned by another worker.");
        }
    }

    private JobView View() => new(
        this.GetPrimaryKeyString(), S.Kind, S.Status, S.Progress, S.Message, S.WorkerId, S.InputJson, S.ResultJson, S.Error,
        S.CreatedAt, S.StartedAt, S.LastHeartbeat, S.CompletedAt, S.Version);
}
