using System.Text.Json;
using Lectures.Grains.Common;
using Lectures.Grains.Jobs;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Platform;

[Collection(ClusterCollection.Name)]
public sealed class GatedGrainStorageTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Grain_state_is_stored_as_the_products_plain_json()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("format"));
        var gate = WriteGate.Of(job);
        await job.CreateAsync("video", "{\"a\":1}");

        var stored = JsonDocument.Parse(gate.Stored!).RootElement;
        Assert.Equal("video", stored.GetProperty("Kind").GetString());
        Assert.False(stored.TryGetProperty("$type", out _));
    }

    [Fact]
    public async Task A_held_write_keeps_its_caller_waiting_until_released()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("held"));
        var gate = WriteGate.Of(job);
        var held = gate.HoldNext();

        var create = job.CreateAsync("video", null);
        await held.Reached.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(create.IsCompleted);
        Assert.Null(gate.Stored);

        held.Release();
        Assert.True((await create).Created);
        Assert.NotNull(gate.Stored);
    }

    [Fact]
    public async Task A_failed_write_answers_storage_unavailable_and_leaves_nothing_stored()
    {
        var job = fixture.Grains.GetGrain<IJobGrain>(Keys.New("failed"));
        var gate = WriteGate.Of(job);
        gate.FailNext();

        await Assert.ThrowsAsync<StorageUnavailableException>(() => job.CreateAsync("video", null));
        Assert.Null(gate.Stored);
        var write = Assert.Single(gate.Writes);
        Assert.True(write.Failed);

        // The next write passes: the grain reloads what is stored (nothing) and creates the job.
        Assert.True((await Eventually.Poll(() => CreateOrNull(job), r => r is not null, TimeSpan.FromSeconds(10), "a create after the failure"))!.Created);
        Assert.NotNull(gate.Stored);
    }

    private static async Task<CreateJobResult?> CreateOrNull(IJobGrain job)
    {
        try
        {
            return await job.CreateAsync("video", null);
        }
        catch (StorageUnavailableException)
        {
            return null;
        }
    }
}
