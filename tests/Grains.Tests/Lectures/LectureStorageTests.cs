using System.Text;
using Lectures.Grains.Common;
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

    [Theory]
    [InlineData("session-")]
    [InlineData("run")]
    public async Task A_start_whose_write_fails_leaves_nothing_a_client_can_see(string failing)
    {
        var lectureId = Keys.New("lecture");
        await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).PutAsync("Big", [BigTopic("t")]);
        var run = fixture.Grains.GetGrain<ILectureGrain>(LectureKeys.Run(lectureId, "robot"));
        var gate = WriteGate.Of(run);
        await run.StartSessionAsync("t", "en", "first");
        var before = await run.GetAsync();

        if (failing == "run")
        {
            gate.FailNext("run");
        }
        else
        {
            gate.FailNext();
        }

        await Assert.ThrowsAsync<StorageUnavailableException>(() => run.StartSessionAsync("t", "en", "second"));
        Assert.Single(gate.Writes, w => w.Failed);

        // After the failure the run reloads what is stored: the failed start is nowhere, a retry starts it once.
        var after = await Eventually.Poll(() => ReadOrNull(run), r => r is not null, TimeSpan.FromSeconds(10), "the run after the failed start");
        Assert.Equal(before.Sessions.Select(s => s.SessionId), after!.Sessions.Select(s => s.SessionId));
        Assert.Equal(1, after.SessionCount);
        var retried = await run.StartSessionAsync("t", "en", "second");
        Assert.True(retried.Created);
        Assert.Equal(2, (await run.GetAsync()).SessionCount);
        Assert.Equal(20, (await run.GetSessionAsync(retried.Session.SessionId)).Contents.Count);
    }

    [Fact]
    public async Task An_idempotency_key_is_kept_for_the_window_and_then_forgotten()
    {
        var lectureId = Keys.New("lecture");
        await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).PutAsync("Big", [BigTopic("t")]);
        var run = fixture.Grains.GetGrain<ILectureGrain>(LectureKeys.Run(lectureId, "robot"));
        var first = await run.StartSessionAsync("t", "en", "key");
        var repeat = await run.StartSessionAsync("t", "en", "key");
        Assert.Equal((false, first.Session.SessionId), (repeat.Created, repeat.Session.SessionId));

        var later = await Eventually.Poll(() => run.StartSessionAsync("t", "en", "key"), r => r.Created,
            ClusterFixture.IdempotencyWindow + TimeSpan.FromSeconds(10), "a start with the key after the window");
        Assert.NotEqual(first.Session.SessionId, later.Session.SessionId);
    }

    [Fact]
    public async Task Starting_and_ending_a_session_honour_If_Match()
    {
        var lectureId = Keys.New("lecture");
        await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).PutAsync("Big", [BigTopic("t")]);
        var run = fixture.Grains.GetGrain<ILectureGrain>(LectureKeys.Run(lectureId, "robot"));
        var started = await run.StartSessionAsync("t", "en", null);
        var runVersion = (await run.GetAsync()).Version;

        var staleStart = await Assert.ThrowsAsync<DomainException>(() => run.StartSessionAsync("t", "en", null, new IfMatch([runVersion - 1])));
        Assert.Equal((RefusalKind.PreconditionFailed, runVersion), (staleStart.Kind, staleStart.CurrentVersion!.Value));
        var staleEnd = await Assert.ThrowsAsync<DomainException>(() => run.EndSessionAsync(started.Session.SessionId, new IfMatch([started.Session.Version + 7])));
        Assert.Equal((RefusalKind.PreconditionFailed, started.Session.Version), (staleEnd.Kind, staleEnd.CurrentVersion!.Value));
        Assert.True((await run.GetSessionAsync(started.Session.SessionId)).IsActive);

        var ended = await run.EndSessionAsync(started.Session.SessionId, new IfMatch([started.Session.Version]));
        Assert.False(ended.IsActive);
        Assert.True(ended.Version > started.Session.Version);
        Assert.Equal(1, (await run.GetAsync()).SessionCount);
    }

    private static async Task<LectureRunView?> ReadOrNull(ILectureGrain run)
    {
        try
        {
            return await run.GetAsync();
        }
        catch (StorageUnavailableException)
        {
            return null;
        }
    }
}
