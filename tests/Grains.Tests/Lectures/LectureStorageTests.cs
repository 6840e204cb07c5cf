using System.Text;
using Lectures.Grains.Lectures;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Lectures;

/// <summary>What a lecture run stores (issue 9, point 6), read from the store itself.</summary>
[Collection(ClusterCollection.Name)]
public sealed class LectureStorageTests(ClusterFixture fixture)
{
    /// <summary>A topic of about 20 KB: 20 items of 1,000 characters.</summary>
    private static TopicDefinition BigTopic(string id) => new(id, "Big", Enumerable.Range(0, 20).Select(i => new string((char)('a' + i), 1_000)).ToList(),
        Enumerable.Range(0, 20).Select(i => 1.0 + i).ToList());

    [Fact]
    public async Task A_runs_stored_record_stays_small_however_many_sessions_start()
    {
        var lectureId = Keys.New("lecture");
        await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).PutAsync("Big", [BigTopic("t")]);
        var run = fixture.Grains.GetGrain<ILectureGrain>(LectureKeys.Run(lectureId, "robot"));
        var gate = WriteGate.Of(run);

        await run.StartSessionAsync("t", "en", "key-0");
        var afterOne = Encoding.UTF8.GetByteCount(gate.StoredOf("run")!);
        for (var i = 1; i < 40; i++)
        {
            await run.StartSessionAsync("t", "en", $"key-{i}");
        }

        var afterForty = Encoding.UTF8.GetByteCount(gate.StoredOf("run")!);
        // A summary and an idempotency key per session, never a copy of the 20 KB topic.
        Assert.True(afterForty - afterOne < 39 * 400, $"the run record grew from {afterOne} to {afterForty} bytes over 39 sessions");
        Assert.True(afterOne < 4_000, $"the run record of one session is {afterOne} bytes");
    }
}
