using System.Text.Json;
using Lectures.Grains.Common;
using Lectures.Grains.Jobs;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Jobs;

/// <summary>
/// Reads answer at once from the last written job (issue 23): a write in flight is not acknowledged yet, so it is
/// neither waited for nor shown. Writes are held in flight with the gated store.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class JobReadTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private async Task<IJobGrain> StartedJob()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("read"));
        WriteGate.Of(job);
        await job.CreateAsync("video", null);
        await job.StartAsync("w1");
        return job;
    }

    [Fact]
    public async Task A_read_during_a_held_write_answers_at_once_with_the_written_job()
    {
        var job = await StartedJob();
        var written = await job.GetAsync();
        var held = WriteGate.Of(job).HoldNext();
        var report = job.ReportProgressAsync("w1", 40, null);
        await held.Reached.WaitAsync(Wait);

        // The write stays held until the read has answered: a read that waited for it would time out here.
        var during = await job.GetAsync().WaitAsync(Wait);
        Assert.Equal(written, during);
        Assert.False(report.IsCompleted);

        held.Release();
        Assert.True((await report).Applied);
        Assert.Equal((40d, written.Version + 1), ((await job.GetAsync()).Progress, (await job.GetAsync()).Version));
    }

    [Fact]
    public async Task A_read_during_a_write_that_then_fails_never_shows_its_change()
    {
        var job = await StartedJob();
        var held = WriteGate.Of(job).HoldNext();
        var report = job.ReportProgressAsync("w1", 70, null);
        await held.Reached.WaitAsync(Wait);

        var during = await job.GetAsync().WaitAsync(Wait);
        held.Fail();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => report);
        Assert.Equal(0, during.Progress);
    }

    [Fact]
    public async Task A_job_whose_creation_is_in_flight_is_not_found_until_it_is_written()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("read"));
        var held = WriteGate.Of(job).HoldNext();
        var create = job.CreateAsync("video", null);
        await held.Reached.WaitAsync(Wait);

        var refused = await Assert.ThrowsAsync<DomainException>(() => job.GetAsync().WaitAsync(Wait));
        Assert.Equal(JobErrors.NotFound, refused.Code);

        held.Release();
        await create;
        Assert.Equal(JobStatus.Queued, (await job.GetAsync()).Status);
    }

    [Fact]
    public async Task Reads_racing_reports_only_ever_show_stored_versions()
    {
        var job = await StartedJob();
        var gate = WriteGate.Of(job);
        var reports = Enumerable.Range(1, 40).Select(v => Task.Run(() => job.ReportProgressAsync("w1", v, null)));
        var reads = Enumerable.Range(0, 200).Select(_ => Task.Run(() => job.GetAsync()));
        var seen = await Task.WhenAll(reads);
        await Task.WhenAll(reports);

        var stored = gate.Writes.Where(w => w.IsStored).Select(w => JsonDocument.Parse(w.Json).RootElement)
            .Select(s => (s.GetProperty("Version").GetInt64(), s.TryGetProperty("Progress", out var p) ? p.GetDouble() : 0)).ToHashSet();
        Assert.All(seen, view => Assert.Contains((view.Version, view.Progress), stored));
    }
}
