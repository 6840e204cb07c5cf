using Lectures.Grains.Common;
using Lectures.Grains.Lectures;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Lectures;

[Collection(ClusterCollection.Name)]
public sealed class LectureGrainTests(ClusterFixture fixture)
{
    private static TopicDefinition Topic(string id, int items) => new(
        id, $"Topic {id}",
        Enumerable.Range(0, items).Select(i => $"{id} item {i}").ToList(),
        Enumerable.Range(0, items).Select(i => 1.5 + i).ToList());

    private async Task<string> NewLecture(params TopicDefinition[] topics)
    {
        var lectureId = Keys.New("lecture");
        await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).PutAsync("Cardiology", topics.Length == 0 ? [Topic("t1", 3), Topic("t2", 5)] : topics);
        return lectureId;
    }

    private ILectureGrain Run(string lectureId, string robotId) => fixture.Grains.GetGrain<ILectureGrain>(LectureKeys.Run(lectureId, robotId));

    [Fact]
    public async Task A_second_robot_starting_the_same_lecture_leaves_the_first_robots_sessions_intact()
    {
        var lectureId = await NewLecture();
        var first = await Run(lectureId, "robot-1").StartSessionAsync("t1", "en", null);
        await Run(lectureId, "robot-1").CommandAsync(LectureCommand.Advance);

        var second = await Run(lectureId, "robot-2").StartSessionAsync("t2", "fr", null);

        var run1 = await Run(lectureId, "robot-1").GetAsync();
        Assert.Equal(first.Session.SessionId, Assert.Single(run1.Sessions).SessionId);
        var session1 = await Run(lectureId, "robot-1").GetSessionAsync(first.Session.SessionId);
        Same.Equal(first.Session, session1);
        Assert.Equal(["t1 item 0", "t1 item 1", "t1 item 2"], session1.Contents);
        Assert.Equal((LectureRunState.Presenting, "t1", 1), (run1.State, run1.TopicId, run1.Position));
        Assert.Equal(second.Session.SessionId, Assert.Single((await Run(lectureId, "robot-2").GetAsync()).Sessions).SessionId);
        Same.Equal(second.Session, await Run(lectureId, "robot-2").GetSessionAsync(second.Session.SessionId));
        Assert.Equal(["robot-1", "robot-2"], (await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).GetAsync()).Robots);
    }

    [Fact]
    public async Task Sixty_concurrent_starts_over_five_robots_keep_every_session_with_its_own_topic()
    {
        for (var round = 0; round < 3; round++)
        {
            var lectureId = await NewLecture(Topic("a", 2), Topic("b", 4), Topic("c", 6));
            var robots = Enumerable.Range(1, 5).Select(i => $"robot-{i}").ToArray();
            string[] topics = ["a", "b", "c"];

            var started = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Task.Run(() =>
                Run(lectureId, robots[i % 5]).StartSessionAsync(topics[i % 3], "en", null))));

            Assert.Equal(60, started.Select(s => s.Session.SessionId).Distinct().Count());
            var stored = new List<LectureSessionView>();
            foreach (var robot in robots)
            {
                var run = await Run(lectureId, robot).GetAsync();
                Assert.Equal(12, run.Sessions.Count);
                Assert.All(run.Sessions, s => Assert.Equal(robot, s.RobotId));
                foreach (var summary in run.Sessions)
                {
                    stored.Add(await Run(lectureId, robot).GetSessionAsync(summary.SessionId));
                }
            }

            Assert.Equal(started.Select(s => s.Session.SessionId).Order(), stored.Select(s => s.SessionId).Order());
            Assert.All(stored, s =>
            {
                Assert.Equal(Topic(s.TopicId, s.Contents.Count).Contents, s.Contents);
                Assert.Equal(s.Contents.Count, s.TimeList.Count);
                Assert.Equal(s.TopicId switch { "a" => 2, "b" => 4, _ => 6 }, s.Contents.Count);
            });
            Assert.Equal(robots, (await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).GetAsync()).Robots);
        }
    }

    [Fact]
    public async Task Sixteen_concurrent_starts_with_one_idempotency_key_make_one_session()
    {
        for (var round = 0; round < 3; round++)
        {
            var lectureId = await NewLecture();
            var run = Run(lectureId, "robot-1");

            var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => run.StartSessionAsync("t1", "en", "key-1"))));

            Assert.Single(results, r => r.Created);
            Assert.Single(results.Select(r => r.Session.SessionId).Distinct());
            Assert.Single((await run.GetAsync()).Sessions);
        }
    }

    public static TheoryData<LectureRunState, LectureCommand, LectureRunState?> Transitions()
    {
        var data = new TheoryData<LectureRunState, LectureCommand, LectureRunState?>();
        var allowed = new Dictionary<(LectureRunState, LectureCommand), LectureRunState>
        {
            [(LectureRunState.Presenting, LectureCommand.Advance)] = LectureRunState.Presenting,
            [(LectureRunState.Presenting, LectureCommand.Pause)] = LectureRunState.Paused,
            [(LectureRunState.Paused, LectureCommand.Resume)] = LectureRunState.Presenting,
            [(LectureRunState.Presenting, LectureCommand.Question)] = LectureRunState.Qna,
            [(LectureRunState.Qna, LectureCommand.Answer)] = LectureRunState.Presenting,
            [(LectureRunState.Presenting, LectureCommand.End)] = LectureRunState.Ended,
            [(LectureRunState.Paused, LectureCommand.End)] = LectureRunState.Ended,
            [(LectureRunState.Qna, LectureCommand.End)] = LectureRunState.Ended,
        };
        foreach (var state in new[] { LectureRunState.Presenting, LectureRunState.Paused, LectureRunState.Qna, LectureRunState.Ended })
        {
            foreach (var command in Enum.GetValues<LectureCommand>())
            {
                data.Add(state, command, allowed.TryGetValue((state, command), out var to) ? to : null);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public async Task Every_command_in_every_state_is_applied_or_refused_as_the_contract_says(LectureRunState from, LectureCommand command, LectureRunState? expected)
    {
        var lectureId = await NewLecture();
        var run = Run(lectureId, "robot");
        await run.StartSessionAsync("t2", "en", null);
        LectureCommand? reach = from switch
        {
            LectureRunState.Paused => LectureCommand.Pause,
            LectureRunState.Qna => LectureCommand.Question,
            LectureRunState.Ended => LectureCommand.End,
            _ => null,
        };
        if (reach is { } r)
        {
            await run.CommandAsync(r);
        }

        var before = await run.GetAsync();
        Assert.Equal(from, before.State);

        if (expected is { } to)
        {
            var after = await run.CommandAsync(command);
            Assert.Equal(to, after.State);
            Assert.Equal(command == LectureCommand.Advance ? 1 : 0, after.Position);
        }
        else
        {
            var refused = await Assert.ThrowsAsync<DomainException>(() => run.CommandAsync(command));
            Assert.Equal((RefusalKind.Conflict, LectureErrors.InvalidTransition), (refused.Kind, refused.Code));
            Assert.Equal(from.ToString().ToLowerInvariant(), refused.Extensions!["state"]);
            Assert.Equal(command.ToString().ToLowerInvariant(), refused.Extensions["command"]);
            Same.Equal(before, await run.GetAsync());
        }
    }

    [Fact]
    public async Task Advancing_past_the_last_item_ends_the_run_and_a_new_session_restarts_it()
    {
        var lectureId = await NewLecture();
        var run = Run(lectureId, "robot");
        await run.StartSessionAsync("t1", "en", null);

        Assert.Equal((LectureRunState.Presenting, 1), Pick(await run.CommandAsync(LectureCommand.Advance)));
        Assert.Equal((LectureRunState.Presenting, 2), Pick(await run.CommandAsync(LectureCommand.Advance)));
        Assert.Equal(LectureRunState.Ended, (await run.CommandAsync(LectureCommand.Advance)).State);

        await run.StartSessionAsync("t2", "en", null);
        var restarted = await run.GetAsync();
        Assert.Equal((LectureRunState.Presenting, "t2", 0), (restarted.State, restarted.TopicId, restarted.Position));
        Assert.Equal(2, restarted.Sessions.Count);

        static (LectureRunState, int) Pick(LectureRunView v) => (v.State, v.Position);
    }

    [Fact]
    public async Task Racing_advances_move_exactly_once_per_item_and_then_end()
    {
        var lectureId = await NewLecture(Topic("t", 10));
        var run = Run(lectureId, "robot");
        await run.StartSessionAsync("t", "en", null);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(async () =>
        {
            try
            {
                await run.CommandAsync(LectureCommand.Advance);
                return true;
            }
            catch (DomainException e) when (e.Code == LectureErrors.InvalidTransition)
            {
                return false;
            }
        })));

        Assert.Equal(10, outcomes.Count(o => o));
        var final = await run.GetAsync();
        Assert.Equal((LectureRunState.Ended, 9), (final.State, final.Position));
    }

    [Fact]
    public async Task Editing_the_lecture_never_changes_a_started_session()
    {
        var lectureId = await NewLecture();
        var run = Run(lectureId, "robot");
        var started = await run.StartSessionAsync("t1", "en", null);

        await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).PutAsync("Edited", [Topic("t1", 1) with { Contents = ["rewritten"], TimeList = [9] }]);

        var session = await run.GetSessionAsync(started.Session.SessionId);
        Same.Equal(started.Session, session);
        Assert.Equal(["t1 item 0", "t1 item 1", "t1 item 2"], session.Contents);
        var later = await Run(lectureId, "robot-2").StartSessionAsync("t1", "en", null);
        Assert.Equal(["rewritten"], later.Session.Contents);
    }

    [Fact]
    public async Task Ending_a_session_keeps_it_in_history_as_inactive()
    {
        var lectureId = await NewLecture();
        var run = Run(lectureId, "robot");
        var started = await run.StartSessionAsync("t1", "en", null);

        var ended = await run.EndSessionAsync(started.Session.SessionId);

        Assert.False(ended.IsActive);
        Assert.False(Assert.Single((await run.GetAsync()).Sessions).IsActive);
        Same.Equal(ended, await run.GetSessionAsync(started.Session.SessionId));
        Same.Equal(ended, await run.EndSessionAsync(started.Session.SessionId));
    }

    [Fact]
    public async Task Unknown_lecture_topic_run_and_session_are_not_found_with_their_codes()
    {
        var missing = await Assert.ThrowsAsync<DomainException>(() => Run(Keys.New("none"), "robot").StartSessionAsync("t1", "en", null));
        Assert.Equal(LectureErrors.NotFound, missing.Code);

        var lectureId = await NewLecture();
        var noTopic = await Assert.ThrowsAsync<DomainException>(() => Run(lectureId, "robot").StartSessionAsync("zz", "en", null));
        Assert.Equal(LectureErrors.TopicNotFound, noTopic.Code);
        Assert.Empty((await fixture.Grains.GetGrain<ILectureCatalogGrain>(lectureId).GetAsync()).Robots);

        var noRun = await Assert.ThrowsAsync<DomainException>(() => Run(lectureId, "robot").GetAsync());
        Assert.Equal(LectureErrors.RunNotFound, noRun.Code);
        var noSession = await Assert.ThrowsAsync<DomainException>(() => Run(lectureId, "robot").GetSessionAsync("nope"));
        Assert.Equal(LectureErrors.SessionNotFound, noSession.Code);
    }

    [Fact]
    public async Task A_command_with_a_stale_version_is_refused_and_changes_nothing()
    {
        var lectureId = await NewLecture();
        var run = Run(lectureId, "robot");
        await run.StartSessionAsync("t2", "en", null);
        var seen = await run.GetAsync();
        await run.CommandAsync(LectureCommand.Advance, new IfMatch([seen.Version]));

        var stale = await Assert.ThrowsAsync<DomainException>(() => run.CommandAsync(LectureCommand.Pause, new IfMatch([seen.Version])));
        Assert.Equal(RefusalKind.PreconditionFailed, stale.Kind);
        Assert.Equal(LectureRunState.Presenting, (await run.GetAsync()).State);
    }
}
