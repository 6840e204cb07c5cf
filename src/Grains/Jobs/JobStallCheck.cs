using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Jobs;

/// <summary>
/// The stall check of one job activation: a durable reminder that exists while the job is processing in memory or
/// in the store (or is being claimed), and the signs of life it judges by. Heartbeats (and reports that are not
/// applied) are signs of life persisted lazily, only when the stored one is <see cref="JobOptions.LazyHeartbeatWindow"/>
/// old: the stored value is only read by a later activation, which then adds that window, so a job is never failed
/// early and at most one window late.
/// </summary>
public sealed class JobStallCheck
{
    public const string ReminderName = "stall";

    private readonly Grain _grain;
    private readonly GroupCommit<JobState> _commit;
    // Created on first use: most activations of a job (queued, or finished before this activation) never touch it.
    private ReminderSync? _reminder;
    private readonly JobOptions _options;
    private readonly DateTimeOffset _activatedAt;
    private readonly ILogger _logger;
    private int _claiming;
    // True once this activation has seen a sign of life itself; until then the stored one may lag by the lazy window.
    private bool _signOfLifeSeen;
    private DateTimeOffset? _storedSignOfLife;

    public JobStallCheck(Grain grain, GroupCommit<JobState> commit, JobOptions options, DateTimeOffset activatedAt, ILogger logger)
    {
        _grain = grain;
        _commit = commit;
        _options = options;
        _activatedAt = activatedAt;
        _logger = logger;
        _storedSignOfLife = commit.Durable.LastHeartbeat;
    }

    private ReminderSync Reminder => _reminder ??= new ReminderSync(_grain, ReminderName, _options.LazyHeartbeatWindow, Wanted);

    // A finish whose write then fails leaves a stored processing job that still needs its reminder.
    private bool Wanted() => _claiming > 0 || _commit.State.Status == JobStatus.Processing || _commit.Durable.Status == JobStatus.Processing;

    /// <summary>When the job may be failed as stalled (see <see cref="JobRules.StallDeadline"/>).</summary>
    public DateTimeOffset Deadline(JobState s) =>
        JobRules.StallDeadline(s, _options.HeartbeatTimeout, _signOfLifeSeen ? TimeSpan.Zero : _options.LazyHeartbeatWindow, _activatedAt);

    /// <summary>Every versioned change is written; a sign of life only when the stored one is a lazy window old.</summary>
    public bool NeedsWrite(JobState before, JobState next)
    {
        var signOfLife = next.LastHeartbeat != before.LastHeartbeat;
        _signOfLifeSeen |= signOfLife;
        if (next.Version == before.Version && (!signOfLife || next.LastHeartbeat - _storedSignOfLife < _options.LazyHeartbeatWindow))
        {
            return false;
        }

        _storedSignOfLife = signOfLife ? next.LastHeartbeat : _storedSignOfLife;
        return true;
    }

    /// <summary>Keeps the reminder wanted until the claim has changed the state (dispose right after that).</summary>
    public Claim BeginClaim()
    {
        _claiming++;
        return new Claim(this);
    }

    /// <summary>Makes sure the reminder exists or is gone as the job needs; a failure to register is a 503.</summary>
    public async Task EnsureAsync()
    {
        try
        {
            await Reminder.SyncAsync();
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Could not register the stall reminder");
            throw new StorageUnavailableException("The stall check could not be registered; nothing was changed.");
        }
    }

    /// <summary>Removes the reminder of a job that no longer needs it; a failure is retried by the next tick.</summary>
    public async Task TidyAsync()
    {
        try
        {
            await Reminder.SyncAsync();
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Could not unregister the stall reminder; its next tick tries again");
        }
    }

    public readonly struct Claim(JobStallCheck check) : IDisposable
    {
        public void Dispose() => check._claiming--;
    }
}
