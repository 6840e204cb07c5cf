using Lectures.Grains.Common;

namespace Lectures.Grains.Jobs;

/// <summary>
/// The rules of a job (API.md, Jobs) as pure functions over its state: each returns the next state (the same instance
/// when nothing changes) or throws a <see cref="DomainException"/> refusal. No I/O and no clock, so every rule is
/// tested without a cluster; <see cref="JobGrain"/> only commits what they return.
/// </summary>
public static class JobRules
{
    public static JobState Create(JobState s, string kind, string? inputJson, DateTimeOffset now)
    {
        if (s.Exists)
        {
            return s.Kind == kind && s.InputJson == inputJson
                ? s
                : throw DomainException.Conflict(JobErrors.Exists, "The job exists with another kind or input.");
        }

        return s with { Exists = true, Kind = kind, InputJson = inputJson, Status = JobStatus.Queued, CreatedAt = now, Version = s.Version + 1 };
    }

    public static JobState Read(JobState s) => EnsureExists(s);

    public static JobState Claim(JobState s, string workerId, IfMatch? ifMatch, DateTimeOffset now)
    {
        EnsureNotTerminal(EnsureExists(s));
        if (s.Status == JobStatus.Processing)
        {
            // A worker retrying its own claim gets the job again; anybody else lost the race.
            return s.WorkerId == workerId ? s : throw DomainException.Conflict(JobErrors.Claimed, "Job is claimed by another worker.");
        }

        IfMatch.Ensure(ifMatch, s.Version);
        return s with { Status = JobStatus.Processing, WorkerId = workerId, StartedAt = now, LastHeartbeat = now, Version = s.Version + 1 };
    }

    /// <summary>A progress report. A value lower than the stored one is not applied (same version) but is a sign of life.</summary>
    public static JobState Report(JobState s, string workerId, double progress, string? message, IfMatch? ifMatch, DateTimeOffset now)
    {
        EnsureReportable(s, workerId);
        if (progress is < 0 or > 100 || double.IsNaN(progress))
        {
            throw DomainException.Invalid("progress", "progress must be between 0 and 100.");
        }

        IfMatch.Ensure(ifMatch, s.Version);
        return progress < s.Progress
            ? s with { LastHeartbeat = now }
            : s with { Progress = progress, Message = message ?? s.Message, LastHeartbeat = now, Version = s.Version + 1 };
    }

    public static JobState Heartbeat(JobState s, string workerId, DateTimeOffset now) =>
        EnsureReportable(s, workerId) with { LastHeartbeat = now };

    public static JobState Complete(JobState s, string workerId, string? resultJson, IfMatch? ifMatch, DateTimeOffset now) =>
        Finish(EnsureReportable(s, workerId), ifMatch, now) with { Status = JobStatus.Completed, Progress = 100, ResultJson = resultJson };

    public static JobState Fail(JobState s, string workerId, string error, IfMatch? ifMatch, DateTimeOffset now) =>
        Finish(EnsureReportable(s, workerId), ifMatch, now) with { Status = JobStatus.Failed, Error = error };

    public static JobState Cancel(JobState s, IfMatch? ifMatch, DateTimeOffset now) =>
        Finish(EnsureNotTerminal(EnsureExists(s)), ifMatch, now) with { Status = JobStatus.Cancelled };

    /// <summary>Fails a processing job as stalled when <paramref name="now"/> is past its deadline; otherwise the same state.</summary>
    public static JobState Stall(JobState s, DateTimeOffset now, DateTimeOffset deadline) =>
        s.Status == JobStatus.Processing && now >= deadline
            ? Finish(s, null, now) with { Status = JobStatus.Failed, Error = JobErrors.Stalled }
            : s;

    /// <summary>
    /// The earliest time a processing job may be failed as stalled: its last sign of life plus the timeout, plus
    /// <paramref name="storedLag"/> when that sign of life was read from the store (heartbeats are written lazily);
    /// and never earlier than a full timeout after <paramref name="activatedAt"/>, so after an outage or a late
    /// reactivation a live worker gets the chance to report before its job is failed.
    /// </summary>
    public static DateTimeOffset StallDeadline(JobState s, TimeSpan timeout, TimeSpan storedLag, DateTimeOffset activatedAt)
    {
        var fromLife = (s.LastHeartbeat ?? s.StartedAt ?? s.CreatedAt) + timeout + storedLag;
        var fromActivation = activatedAt + timeout;
        return fromLife > fromActivation ? fromLife : fromActivation;
    }

    public static JobView View(string jobId, JobState s) => new(
        jobId, s.Kind, s.Status, s.Progress, s.Message, s.WorkerId, s.InputJson, s.ResultJson, s.Error,
        s.CreatedAt, s.StartedAt, s.LastHeartbeat, s.CompletedAt, s.Version);

    private static JobState Finish(JobState s, IfMatch? ifMatch, DateTimeOffset now)
    {
        IfMatch.Ensure(ifMatch, s.Version);
        return s with { CompletedAt = now, Version = s.Version + 1 };
    }

    private static JobState EnsureExists(JobState s) =>
        s.Exists ? s : throw DomainException.NotFound(JobErrors.NotFound, "The job does not exist.");

    private static JobState EnsureNotTerminal(JobState s) =>
        !s.IsTerminal ? s : throw DomainException.Conflict(JobErrors.Terminal, $"Job is {Name(s.Status)} and can no longer change.",
            new Dictionary<string, string> { ["currentStatus"] = Name(s.Status) });

    private static JobState EnsureReportable(JobState s, string workerId)
    {
        EnsureNotTerminal(EnsureExists(s));
        if (s.Status == JobStatus.Queued)
        {
            throw DomainException.Conflict(JobErrors.NotStarted, "Job has not been started by a worker.");
        }

        return s.WorkerId == workerId ? s : throw DomainException.Conflict(JobErrors.NotOwner, "Job is owned by another worker.");
    }

    private static string Name(JobStatus status) => status.ToString().ToLowerInvariant();
}
