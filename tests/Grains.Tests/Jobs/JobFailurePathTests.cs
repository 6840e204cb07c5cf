using System.Text.Json;
using Lectures.Grains.Common;
using Lectures.Grains.Jobs;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Jobs;

/// <summary>
/// The job's rules under failing and slow writes (issue 9, points 1-5): writes are held in flight and failed with the
/// gated store, and what the store holds is read from the store itself, never through the grain.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class JobFailurePathTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Window = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, ClusterFixture.HeartbeatTimeout.Ticks / 3));
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private async Task<IJobGrain> StartedJob(string worker = "w1")
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("job"));
        // Opened before the first write, so the gate's record holds everything stored for the job.
        WriteGate.Of(job);
        await job.CreateAsync("video", null);
        await job.StartAsync(worker);
        return job;
    }

    [Fact]
    public async Task A_processing_job_keeps_its_stall_check_when_a_cancel_write_fails_while_the_reminder_ticks()
    {
        var job = await StartedJob();
        var gate = WriteGate.Of(job);
        var held = gate.HoldNext();
        var cancel = job.CancelAsync();
        await held.Reached.WaitAsync(Wait);

        // Stall reminder ticks run while the cancel's write is in flight.
        await Task.Delay(Window * 2.5);
        held.Fail();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => cancel);

        // Nobody calls the job again: the stored job must still become failed/stalled on its own.
        var stored = await Eventually.Poll(() => Task.FromResult(Stored(gate)), s => s.Status == JobStatus.Failed,
            ClusterFixture.HeartbeatTimeout * 3 + Wait, "the stored processing job failed as stalled");
        Assert.Equal(JobErrors.Stalled, stored.Error);
    }

    [Fact]
    public async Task A_completion_is_not_refused_because_of_a_cancel_whose_write_then_fails()
    {
        var job = await StartedJob();
        var held = WriteGate.Of(job).HoldNext();
        var cancel = job.CancelAsync();
        await held.Reached.WaitAsync(Wait);

        var complete = job.CompleteAsync("w1", "{\"url\":\"x\"}");
        await Task.WhenAny(complete, Task.Delay(300));
        held.Fail();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => cancel);
        var outcome = await Outcome(complete);
        Assert.NotEqual(JobErrors.Terminal, outcome);

        // The worker's retry (after the 503) completes the job: its result is not thrown away.
        var completed = await Eventually.Poll(() => Outcome(job.CompleteAsync("w1", "{\"url\":\"x\"}")), o => o is "ok" or JobErrors.Terminal, Wait, "completion retried");
        Assert.Equal("ok", completed);
        Assert.Equal(JobStatus.Completed, (await job.GetAsync()).Status);
    }

    [Fact]
    public async Task A_second_claim_is_not_refused_because_of_a_claim_whose_write_then_fails()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("claim"));
        await job.CreateAsync("video", null);
        var held = WriteGate.Of(job).HoldNext();
        var first = job.StartAsync("w1");
        await held.Reached.WaitAsync(Wait);

        var second = job.StartAsync("w2");
        await Task.WhenAny(second, Task.Delay(300));
        held.Fail();
        Assert.Equal("storage_unavailable", await Outcome(first));
        Assert.NotEqual(JobErrors.Claimed, await Outcome(second));

        var won = await Eventually.Poll(() => Outcome(job.StartAsync("w2")), o => o != "storage_unavailable", Wait, "claim retried");
        Assert.Equal("ok", won);
        Assert.Equal("w2", (await job.GetAsync()).WorkerId);
    }

    [Fact]
    public async Task A_precondition_failure_names_a_stored_version()
    {
        var job = await StartedJob();
        var gate = WriteGate.Of(job);
        var held = gate.HoldNext();
        var inFlight = job.ReportProgressAsync("w1", 10, null);
        await held.Reached.WaitAsync(Wait);

        var stale = job.ReportProgressAsync("w1", 20, null, new IfMatch([-1]));
        await Task.WhenAny(stale, Task.Delay(300));
        held.Fail();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => inFlight);

        try
        {
            await stale;
        }
        catch (DomainException refused)
        {
            Assert.Equal(RefusalKind.PreconditionFailed, refused.Kind);
            Assert.Equal(Stored(gate).Version, refused.CurrentVersion);
        }
        catch (StorageUnavailableException)
        {
            // Also correct: decided after the failed write, on a grain that reloads.
        }
    }

    [Fact]
    public async Task A_report_answered_503_is_never_stored()
    {
        for (var round = 0; round < 30; round++)
        {
            var job = await StartedJob();
            var gate = WriteGate.Of(job);
            gate.PassNext();
            gate.FailNext();

            var values = Enumerable.Range(1, 20).OrderBy(_ => Random.Shared.Next()).ToArray();
            var outcomes = await Task.WhenAll(values.Select(v => Task.Run(() => Outcome(job.ReportProgressAsync("w1", v, null)))));
            var refused = values.Zip(outcomes).Where(p => p.Second == "storage_unavailable").Select(p => (double)p.First).ToHashSet();

            foreach (var write in gate.Writes.Where(w => w.IsStored))
            {
                var progress = JsonDocument.Parse(write.Json).RootElement.GetProperty("Progress").GetDouble();
                Assert.DoesNotContain(progress, refused);
            }

            var reloaded = await Eventually.Poll(() => ReadOrNull(job), j => j is not null, Wait, "the job after the failed write");
            Assert.DoesNotContain(reloaded!.Progress, refused);
        }
    }

    [Fact]
    public async Task A_live_worker_keeps_its_job_when_the_job_is_reactivated_after_an_outage()
    {
        var job = await StartedJob();
        var gate = WriteGate.Of(job);
        // The worker is cut off past the timeout, and the store is down when stall detection tries to fail the job.
        gate.FailNext();
        await Eventually.Poll(() => Task.FromResult(gate.Writes), w => w.Any(x => x.Failed), ClusterFixture.HeartbeatTimeout * 3 + Wait, "the stall write failed");

        // The worker's first heartbeat after the outage reactivates the job; it must be handled, not refused.
        var heartbeat = await Eventually.Poll(() => Outcome(job.HeartbeatAsync("w1")), o => o != "storage_unavailable", Wait, "a heartbeat after the outage");
        Assert.Equal("ok", heartbeat);
        Assert.Equal(JobStatus.Processing, (await job.GetAsync()).Status);
    }

    [Fact]
    public async Task A_lower_progress_with_a_stale_If_Match_is_refused_with_precondition_failed()
    {
        var job = await StartedJob();
        var at50 = await job.ReportProgressAsync("w1", 50, null);

        var stale = await Assert.ThrowsAsync<DomainException>(() => job.ReportProgressAsync("w1", 30, null, new IfMatch([at50.Job.Version - 1])));
        Assert.Equal(RefusalKind.PreconditionFailed, stale.Kind);
        Assert.Equal(at50.Job.Version, stale.CurrentVersion);
    }

    [Fact]
    public async Task Reports_that_are_not_applied_still_keep_the_job_alive()
    {
        var job = await StartedJob();
        await job.ReportProgressAsync("w1", 50, null);
        var until = DateTime.UtcNow + ClusterFixture.HeartbeatTimeout * 2;
        while (DateTime.UtcNow < until)
        {
            Assert.False((await job.ReportProgressAsync("w1", 10, null)).Applied);
            await Task.Delay(ClusterFixture.HeartbeatTimeout / 4);
        }

        Assert.Equal(JobStatus.Processing, (await job.GetAsync()).Status);
    }

    private static (JobStatus Status, string? Error, long Version) Stored(WriteGate gate)
    {
        var stored = JsonDocument.Parse(gate.Stored!).RootElement;
        // Null members are left out of the stored JSON.
        var error = stored.TryGetProperty("Error", out var e) ? e.GetString() : null;
        return ((JobStatus)stored.GetProperty("Status").GetInt32(), error,
            stored.GetProperty("Version").GetInt64());
    }

    private static async Task<string> Outcome(Task call)
    {
        try
        {
            await call;
            return "ok";
        }
        catch (DomainException e)
        {
            return e.Code;
        }
        catch (StorageUnavailableException)
        {
            return "storage_unavailable";
        }
    }

    private static async Task<JobView?> ReadOrNull(IJobGrain job)
    {
        try
        {
            return await job.GetAsync();
        }
        catch (StorageUnavailableException)
        {
            return null;
        }
    }
}
