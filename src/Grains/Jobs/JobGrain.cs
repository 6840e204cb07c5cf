using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Lectures.Grains.Jobs;

/// <summary>
/// The Orleans shell around <see cref="JobRules"/>: it commits what the rules return through a
/// <see cref="GroupCommit{T}"/> (a hot job's reports share Redis writes; refusals wait for writes in flight), keeps the
/// stall reminder (<see cref="JobStallCheck"/>) and publishes durable changes to event streams.
/// </summary>
// Reentrant, safe by inspection: a rule is applied and its change joins a write batch in one synchronous step (no
// await between reading the state and replacing it), callers only await writes, and nothing is answered before it is
// written, so an interleaved call always sees a state the rules produced.
[Reentrant]
public sealed class JobGrain(
    [PersistentState("job")] IPersistentState<JobState> state,
    IOptions<JobOptions> options,
    TimeProvider clock,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    private EventLog<JobView> _events = null!;
    private GroupCommit<JobState> _commit = null!;
    private JobStallCheck _stall = null!;
    private string? _id;
    // The answer to a read of the last written state, made once per write instead of once per read.
    private (JobState Of, Task<JobView> View) _durableView;

    private JobState S => _commit.State;
    private DateTimeOffset Now => clock.GetUtcNow();
    // Read once: every view (and the events that keep them) would otherwise hold its own copy of the key.
    private string Id => _id ??= this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _commit = new GroupCommit<JobState>(state, this, logger);
        // A job's snapshot is the whole job: nothing is replayed to a client that was not watching.
        _events = this.CreateEventLog<JobView>(LiveStreams.Jobs, logger, keepUnwatched: false);
        _stall = new JobStallCheck(this, _commit, options.Value, Now, logger);
        if (S.Status == JobStatus.Processing)
        {
            // A previous activation may have lost its reminder: every activation of a processing job makes sure it exists.
            await _stall.EnsureAsync();
        }
    }

    public async Task<CreateJobResult> CreateAsync(string kind, string? inputJson)
    {
        var decision = await DecideAsync(s => JobRules.Create(s, kind, inputJson, Now));
        if (!Changed(decision))
        {
            DomainMetrics.DuplicatesPrevented.Add(1);
        }

        return new CreateJobResult(Changed(decision), await AnswerAsync(decision, "status"));
    }

    public Task<JobView> GetAsync()
    {
        // Never waits for a write in flight: its change is not acknowledged yet, so the last written job is the answer.
        _commit.EnsureUsable();
        return DurableView();
    }

    public async Task<JobView> StartAsync(string workerId, IfMatch? ifMatch = null)
    {
        JobState Claim(JobState s) => JobRules.Claim(s, workerId, ifMatch, Now);
        using var claiming = _stall.BeginClaim();
        // Refused, or already this worker's, before the reminder is touched.
        var check = await _commit.DecideAsync(Claim, needsWrite: null);
        if (!Changed(check))
        {
            return await AnswerAsync(check with { Written = _commit.FlushAsync() }, "status");
        }

        // Registered before the job is claimed: a claim whose write fails leaves at worst a reminder on a queued job
        // (it removes itself), never a processing job without one.
        await _stall.EnsureAsync();
        return await AnswerAsync(await DecideAsync(Claim), "status");
    }

    public async Task<ProgressResult> ReportProgressAsync(string workerId, double progress, string? message, IfMatch? ifMatch = null)
    {
        // The hottest route: one suspension (the write), no separate answer step.
        var decision = await DecideAsync(s => JobRules.Report(s, workerId, progress, message, ifMatch, Now));
        if (!Changed(decision))
        {
            DomainMetrics.JobProgressIgnored.Add(1);
        }

        await decision.Written;
        return new ProgressResult(Changed(decision), Publish(decision, "progress"));
    }

    public async Task<JobView> HeartbeatAsync(string workerId) =>
        await AnswerAsync(await DecideAsync(s => JobRules.Heartbeat(s, workerId, Now)), "status");

    public async Task<JobView> CompleteAsync(string workerId, string? resultJson, IfMatch? ifMatch = null) =>
        await AnswerAsync(await DecideAsync(s => JobRules.Complete(s, workerId, resultJson, ifMatch, Now)), "status");

    public async Task<JobView> FailAsync(string workerId, string error, IfMatch? ifMatch = null) =>
        await AnswerAsync(await DecideAsync(s => JobRules.Fail(s, workerId, error, ifMatch, Now)), "status");

    public async Task<JobView> CancelAsync(IfMatch? ifMatch = null) =>
        await AnswerAsync(await DecideAsync(s => JobRules.Cancel(s, ifMatch, Now)), "status");

    public Task<EventBatch<JobView>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default)
    {
        // Interleaves with writes: answers from the stored state only.
        var durable = _commit.Durable;
        if (durable.Version == 0)
        {
            throw DomainException.NotFound(JobErrors.NotFound, $"Job '{Id}' does not exist.");
        }

        return Task.FromResult(_events.After(afterId, () => new ChangeEvent<JobView>(durable.Version, "status", DurableView().Result)));
    }

    /// <summary>The job as last written (404 before its creation is written), as a completed task.</summary>
    private Task<JobView> DurableView()
    {
        var durable = _commit.Durable;
        if (!ReferenceEquals(_durableView.Of, durable))
        {
            _durableView = (durable, Task.FromResult(JobRules.View(Id, JobRules.Read(durable))));
        }

        return _durableView.View;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Decided on what is stored: a finish in flight may still fail and leave the job processing in the store.
        if (reminderName != JobStallCheck.ReminderName || S.Status != JobStatus.Processing || _commit.Durable.Status != JobStatus.Processing)
        {
            await _stall.TidyAsync();
            return;
        }

        var deadline = _stall.Deadline(S);
        var decision = await DecideAsync(s => JobRules.Stall(s, Now, deadline));
        if (Changed(decision))
        {
            logger.LogInformation("Job {JobId} had no sign of life since {LastHeartbeat}; failing it as stalled", Id, decision.Before.LastHeartbeat);
            await AnswerAsync(decision, "status");
            DomainMetrics.JobsStalled.Add(1);
        }
    }

    private ValueTask<Decision<JobState>> DecideAsync(Func<JobState, JobState> rule) => _commit.DecideAsync(rule, _stall.NeedsWrite);

    /// <summary>The job as of the decision, once written; publishes a change and removes a finished job's reminder.</summary>
    private async Task<JobView> AnswerAsync(Decision<JobState> decision, string eventType)
    {
        await decision.Written;
        var view = Publish(decision, eventType);
        if (view.IsTerminal && Changed(decision))
        {
            await _stall.TidyAsync();
        }

        return view;
    }

    /// <summary>The job as of a written decision; a change is appended to the event log.</summary>
    private JobView Publish(Decision<JobState> decision, string eventType)
    {
        var view = JobRules.View(Id, decision.Next);
        if (Changed(decision))
        {
            _events.Append(view.Version, eventType, view);
        }

        return view;
    }

    /// <summary>A change clients see (a new version); signs of life do not count.</summary>
    private static bool Changed(Decision<JobState> decision) => decision.Next.Version != decision.Before.Version;
}
