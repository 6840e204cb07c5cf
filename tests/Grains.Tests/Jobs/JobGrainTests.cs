using Lectures.Grains.Common;
using Lectures.Grains.Jobs;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Jobs;

[Collection(ClusterCollection.Name)]
public sealed class JobGrainTests(ClusterFixture fixture)
{
    private async Task<IJobGrain> StartedJob(string worker = "w1")
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("job"));
        await job.CreateAsync("video", "{\"slides\":3}");
        await job.StartAsync(worker);
        return job;
    }

    [Fact]
    public async Task Concurrent_progress_and_heartbeats_end_at_the_highest_value_sent_and_none_fail()
    {
        for (var round = 0; round < 3; round++)
        {
            var job = await StartedJob();
            var values = Enumerable.Range(0, 300).Select(i => (i * 37) % 101).ToArray();
            var calls = values.Select((value, i) => Task.Run(async () =>
            {
                if (i % 3 == 0)
                {
                    await job.HeartbeatAsync("w1");
                }
                else
                {
                    await job.ReportProgressAsync("w1", value, $"at {value}");
                }
            }));

            await Task.WhenAll(calls);

            var highestSent = values.Where((_, i) => i % 3 != 0).Max();
            var final = await job.GetAsync();
            Assert.Equal(highestSent, final.Progress);
            Assert.Equal(JobStatus.Processing, final.Status);
        }
    }

    [Fact]
    public async Task Progress_never_moves_backwards()
    {
        var job = await StartedJob();
        var forward = await job.ReportProgressAsync("w1", 60, "sixty");
        var backward = await job.ReportProgressAsync("w1", 30, "thirty");

        Assert.True(forward.Applied);
        Assert.False(backward.Applied);
        var final = await job.GetAsync();
        Assert.Equal(60, final.Progress);
        Assert.Equal("sixty", final.Message);
        Assert.Equal(forward.Job.Version, final.Version);
    }

    [Theory]
    [InlineData("complete")]
    [InlineData("fail")]
    [InlineData("cancel")]
    public async Task A_terminal_job_refuses_every_mutation_and_never_changes(string ending)
    {
        var job = await StartedJob();
        await job.ReportProgressAsync("w1", 40, null);
        var terminal = ending switch
        {
            "complete" => await job.CompleteAsync("w1", "{\"url\":\"x\"}"),
            "fail" => await job.FailAsync("w1", "boom"),
            _ => await job.CancelAsync(),
        };

        Func<Task>[] mutations =
        [
            () => job.StartAsync("w1"),
            () => job.StartAsync("w2"),
            () => job.ReportProgressAsync("w1", 90, null),
            () => job.HeartbeatAsync("w1"),
            () => job.CompleteAsync("w1", null),
            () => job.FailAsync("w1", "late"),
            () => job.CancelAsync(),
        ];
        foreach (var mutation in mutations)
        {
            var refused = await Assert.ThrowsAsync<DomainException>(mutation);
            Assert.Equal(JobErrors.Terminal, refused.Code);
            Assert.Equal(RefusalKind.Conflict, refused.Kind);
        }

        Assert.Equal(terminal, await job.GetAsync());
    }

    [Fact]
    public async Task Twelve_racing_workers_claim_a_job_exactly_once()
    {
        for (var round = 0; round < 5; round++)
        {
            var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("claim"));
            await job.CreateAsync("render", null);

            var attempts = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
            {
                try
                {
                    await job.StartAsync($"worker-{i}");
                    return (Worker: $"worker-{i}", Code: "won");
                }
                catch (DomainException e)
                {
                    return (Worker: $"worker-{i}", e.Code);
                }
            })));

            var winner = Assert.Single(attempts, a => a.Code == "won");
            Assert.All(attempts.Where(a => a.Code != "won"), a => Assert.Equal(JobErrors.Claimed, a.Code));
            Assert.Equal(winner.Worker, (await job.GetAsync()).WorkerId);
        }
    }

    [Fact]
    public async Task Only_the_claiming_worker_may_report()
    {
        var job = await StartedJob("owner");

        var stranger = await Assert.ThrowsAsync<DomainException>(() => job.ReportProgressAsync("stranger", 50, null));
        Assert.Equal(JobErrors.NotOwner, stranger.Code);
        Assert.Equal(0, (await job.GetAsync()).Progress);

        var queued = fixture.Grains.GetGrain<IJobGrain>(Keys.New("queued"));
        await queued.CreateAsync("render", null);
        var notStarted = await Assert.ThrowsAsync<DomainException>(() => queued.HeartbeatAsync("w1"));
        Assert.Equal(JobErrors.NotStarted, notStarted.Code);
    }

    [Fact]
    public async Task Create_is_idempotent_for_the_same_content_and_refuses_other_content()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("create"));
        var first = await job.CreateAsync("video", "{\"a\":1}");
        var repeat = await job.CreateAsync("video", "{\"a\":1}");
        var other = await Assert.ThrowsAsync<DomainException>(() => job.CreateAsync("video", "{\"a\":2}"));

        Assert.True(first.Created);
        Assert.False(repeat.Created);
        Assert.Equal(first.Job, repeat.Job);
        Assert.Equal(JobErrors.Exists, other.Code);
    }

    [Fact]
    public async Task A_stale_version_is_refused_with_precondition_failed()
    {
        var job = await StartedJob();
        var current = await job.GetAsync();
        await job.ReportProgressAsync("w1", 10, null, ifMatch: new IfMatch([current.Version]));

        var stale = await Assert.ThrowsAsync<DomainException>(() => job.ReportProgressAsync("w1", 20, null, ifMatch: new IfMatch([current.Version])));
        Assert.Equal(RefusalKind.PreconditionFailed, stale.Kind);
        Assert.Equal(10, (await job.GetAsync()).Progress);
    }

    [Fact]
    public async Task A_silent_job_fails_as_stalled_with_nobody_polling_it()
    {
        var started = DateTimeOffset.UtcNow;
        var job = await StartedJob();
        var window = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, ClusterFixture.HeartbeatTimeout.Ticks / 3));

        // Nobody reads the job while it goes silent: only its event log is watched, which never triggers a check.
        var seen = (await job.GetAsync()).Version;
        var batch = await Eventually.Poll(() => job.GetEventsAsync(seen), b => b.Events.Count > 0, ClusterFixture.HeartbeatTimeout * 4, "a stall event");
        var stalled = await job.GetAsync();
        var detectedAfter = DateTimeOffset.UtcNow - started;

        Assert.NotEmpty(batch.Events);
        Assert.Equal(JobStatus.Failed, stalled.Status);
        Assert.Equal(JobErrors.Stalled, stalled.Error);
        // Early is judged on the grain's own clock: failed no sooner than the timeout after the last sign of life.
        var silentFor = stalled.CompletedAt!.Value - (stalled.LastHeartbeat ?? stalled.StartedAt!.Value);
        Assert.True(silentFor >= ClusterFixture.HeartbeatTimeout, $"failed early, {silentFor} after the last sign of life");
        // Documented margin: one reminder period (timeout / 3, at least 1 s) plus scheduling slack.
        Assert.True(silentFor <= ClusterFixture.HeartbeatTimeout + window + TimeSpan.FromSeconds(2), $"failed late, {silentFor} after the last sign of life");
        Assert.True(detectedAfter < ClusterFixture.HeartbeatTimeout * 4, $"seen after {detectedAfter}");
    }

    [Fact]
    public async Task Heartbeats_keep_a_job_alive_past_the_timeout()
    {
        var job = await StartedJob();
        var until = DateTime.UtcNow + ClusterFixture.HeartbeatTimeout * 2;
        while (DateTime.UtcNow < until)
        {
            await job.HeartbeatAsync("w1");
            await Task.Delay(ClusterFixture.HeartbeatTimeout / 4);
        }

        Assert.Equal(JobStatus.Processing, (await job.GetAsync()).Status);
    }

    [Fact]
    public async Task The_event_stream_resumes_after_the_last_seen_event_without_gaps()
    {
        var job = await StartedJob();
        var seen = (await job.GetAsync()).Version;
        // A relay asks at connect: from then on the job keeps its changes for a client that reconnects.
        Assert.Empty((await job.GetEventsAsync(seen)).Events);
        for (var p = 10; p <= 50; p += 10)
        {
            await job.ReportProgressAsync("w1", p, null);
        }

        var batch = await job.GetEventsAsync(seen);

        Assert.Equal(Enumerable.Range((int)seen + 1, 5).Select(i => (long)i), batch.Events.Select(e => e.Id));
        Assert.Equal([10.0, 20, 30, 40, 50], batch.Events.Select(e => e.Data.Progress));
        Assert.All(batch.Events, e => Assert.Equal("progress", e.Type));
    }

    [Fact]
    public async Task A_client_that_was_not_watching_gets_the_current_job_instead_of_a_replay()
    {
        var job = await StartedJob();
        var seen = (await job.GetAsync()).Version;
        for (var p = 10; p <= 50; p += 10)
        {
            await job.ReportProgressAsync("w1", p, null);
        }

        var batch = await job.GetEventsAsync(seen);

        // Nobody watched, so nothing was kept: one event with the whole job as it is now, so no change is lost.
        var snapshot = Assert.Single(batch.Events);
        Assert.Equal(seen + 5, snapshot.Id);
        Assert.Equal("status", snapshot.Type);
        Assert.Equal(50, snapshot.Data.Progress);
        Assert.Equal(JobStatus.Processing, snapshot.Data.Status);
    }

    [Fact]
    public async Task Progress_racing_a_completion_never_changes_the_completed_job()
    {
        for (var round = 0; round < 5; round++)
        {
            var job = await StartedJob();
            var outcomes = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
            {
                try
                {
                    await job.ReportProgressAsync("w1", i % 100, null);
                    return "applied";
                }
                catch (DomainException e)
                {
                    return e.Code;
                }
            })).ToList();
            var completion = Task.Run(() => job.CompleteAsync("w1", null));

            var results = await Task.WhenAll(outcomes);
            var completed = await completion;

            Assert.All(results, r => Assert.Contains(r, new[] { "applied", JobErrors.Terminal }));
            var final = await job.GetAsync();
            Assert.Equal(completed, final);
            Assert.Equal((JobStatus.Completed, 100.0), (final.Status, final.Progress));
        }
    }
}
