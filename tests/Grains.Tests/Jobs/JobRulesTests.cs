using Lectures.Grains.Common;
using Lectures.Grains.Jobs;

namespace Lectures.Grains.Tests.Jobs;

/// <summary>The job rules as pure functions: no cluster, no clock, no store.</summary>
public sealed class JobRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private static JobState Queued() => JobRules.Create(new JobState(), "video", null, T0);

    private static JobState Processing(string worker = "w1") => JobRules.Claim(Queued(), worker, null, T0);

    private static string Refusal(Func<JobState> rule) => Assert.Throws<DomainException>(() => rule()).Code;

    [Fact]
    public void Creating_the_same_job_again_changes_nothing_and_other_content_is_refused()
    {
        var job = Queued();
        Assert.Same(job, JobRules.Create(job, "video", null, T0.AddSeconds(1)));
        Assert.Equal(JobErrors.Exists, Refusal(() => JobRules.Create(job, "video", "{}", T0)));
        Assert.Equal((JobStatus.Queued, 1L), (job.Status, job.Version));
    }

    [Fact]
    public void A_claim_takes_a_queued_job_once_and_a_retry_by_the_same_worker_changes_nothing()
    {
        var claimed = Processing("w1");
        Assert.Equal((JobStatus.Processing, "w1", 2L, T0), (claimed.Status, claimed.WorkerId, claimed.Version, claimed.LastHeartbeat!.Value));
        Assert.Same(claimed, JobRules.Claim(claimed, "w1", null, T0.AddSeconds(1)));
        Assert.Equal(JobErrors.Claimed, Refusal(() => JobRules.Claim(claimed, "w2", null, T0)));
        Assert.Equal(JobErrors.NotStarted, Refusal(() => JobRules.Heartbeat(Queued(), "w1", T0)));
    }

    [Fact]
    public void A_lower_progress_is_not_applied_but_is_a_sign_of_life()
    {
        var at50 = JobRules.Report(Processing(), "w1", 50, "half", null, T0.AddSeconds(1));
        var lower = JobRules.Report(at50, "w1", 10, "back", null, T0.AddSeconds(2));

        Assert.Equal((50.0, "half", at50.Version), (lower.Progress, lower.Message, lower.Version));
        Assert.Equal(T0.AddSeconds(2), lower.LastHeartbeat);
    }

    [Fact]
    public void If_Match_is_checked_before_a_lower_progress_is_ignored()
    {
        var at50 = JobRules.Report(Processing(), "w1", 50, null, null, T0);
        var refused = Assert.Throws<DomainException>(() => JobRules.Report(at50, "w1", 10, null, new IfMatch([at50.Version - 1]), T0));
        Assert.Equal((RefusalKind.PreconditionFailed, at50.Version), (refused.Kind, refused.CurrentVersion!.Value));
    }

    [Fact]
    public void A_finished_job_refuses_every_rule()
    {
        var finished = new[]
        {
            JobRules.Complete(Processing(), "w1", "{}", null, T0),
            JobRules.Fail(Processing(), "w1", "boom", null, T0),
            JobRules.Cancel(Processing(), null, T0),
        };
        foreach (var job in finished)
        {
            Assert.True(job.IsTerminal);
            Assert.Equal(JobErrors.Terminal, Refusal(() => JobRules.Claim(job, "w9", null, T0)));
            Assert.Equal(JobErrors.Terminal, Refusal(() => JobRules.Report(job, "w1", 99, null, null, T0)));
            Assert.Equal(JobErrors.Terminal, Refusal(() => JobRules.Heartbeat(job, "w1", T0)));
            Assert.Equal(JobErrors.Terminal, Refusal(() => JobRules.Cancel(job, null, T0)));
            Assert.Same(job, JobRules.Stall(job, T0.AddDays(1), T0));
        }
    }

    [Fact]
    public void A_job_is_stalled_only_past_its_deadline_and_never_within_a_timeout_of_its_activation()
    {
        var job = JobRules.Heartbeat(Processing(), "w1", T0);
        var lag = Timeout / 3;

        Assert.Equal(T0 + Timeout, JobRules.StallDeadline(job, Timeout, TimeSpan.Zero, T0));
        Assert.Equal(T0 + Timeout + lag, JobRules.StallDeadline(job, Timeout, lag, T0));
        // Reactivated long after the last sign of life (a crash found late, an outage): a full timeout from activation.
        var activated = T0.AddMinutes(5);
        var deadline = JobRules.StallDeadline(job, Timeout, lag, activated);
        Assert.Equal(activated + Timeout, deadline);

        Assert.Same(job, JobRules.Stall(job, deadline.AddTicks(-1), deadline));
        var stalled = JobRules.Stall(job, deadline, deadline);
        Assert.Equal((JobStatus.Failed, JobErrors.Stalled, job.Version + 1), (stalled.Status, stalled.Error, stalled.Version));
    }
}
