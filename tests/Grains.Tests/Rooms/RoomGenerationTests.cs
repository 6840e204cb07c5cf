using System.Diagnostics;
using Lectures.Grains.Rooms;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Rooms;

/// <summary>Generation outside the room's turn (issue 19, points 1.3 to 1.5): one generation per agent, a reply in time stored, no turn waits on reminders.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RoomGenerationTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Settle = ClusterFixture.AgentResponseTimeout + TimeSpan.FromSeconds(20);

    private async Task<IRoomGrain> NewRoom(string persona)
    {
        var room = fixture.Grains.GetGrain<IRoomGrain>(Keys.New("room"));
        await room.PutAsync([new AgentDefinition("agent-0", "Agent 0", persona)], "all");
        await room.JoinAsync("player-0");
        return room;
    }

    private static Task<RoomView> AllIdle(IRoomGrain room) =>
        Eventually.Poll(room.GetAsync, r => r.Agents.All(a => a.Status == AgentStatus.Idle), Settle, "every agent idle again");

    [Fact]
    public async Task Removing_and_re_adding_a_responding_agent_never_runs_two_generations_for_it()
    {
        for (var iteration = 0; iteration < 3; iteration++)
        {
            var persona = $"[slow] counted {Guid.NewGuid():N}";
            var agent = new AgentDefinition("agent-0", "Agent 0", persona);
            var room = await NewRoom(persona);
            var first = await room.PostAsync("player-0", "first question");
            Assert.Equal(["agent-0"], first.TriggeredAgents);
            await Eventually.Poll(() => Task.FromResult(ScriptedChatClient.TotalCalls(persona)), n => n == 1, Settle, "the first generation started");

            // Removed while responding: its pair ends as interrupted, and its generation must stop with it.
            await room.PutAsync([], "all");
            await room.PutAsync([agent], "all");
            var second = await room.PostAsync("player-0", "second question");
            Assert.Equal(["agent-0"], second.TriggeredAgents);
            await AllIdle(room);

            Assert.Equal(1, ScriptedChatClient.MaxConcurrentCalls(persona));
            var replies = (await room.GetMessagesAsync(0, 100)).Messages.Where(m => m.SenderKind == SenderKind.Agent).ToList();
            Assert.Equal([(first.Seq, MessageOutcome.Failed), (second.Seq, MessageOutcome.Reply)], replies.Select(m => (m.InReplyTo!.Value, m.Outcome!.Value)));
        }
    }

    [Fact]
    public async Task A_reply_generated_in_time_is_stored_exactly_once_through_three_failed_writes_of_its_report()
    {
        var room = await NewRoom("[slow] reporting");
        var gate = WriteGate.Of(room);
        var post = await room.PostAsync("player-0", "a question");
        // The post is stored; the next three writes (the report of the reply, 2.5 s later) fail.
        gate.FailNext();
        gate.FailNext();
        gate.FailNext();

        await AllIdle(room);

        var agentMessages = (await room.GetMessagesAsync(0, 100)).Messages.Where(m => m.SenderKind == SenderKind.Agent).ToList();
        var reply = Assert.Single(agentMessages);
        Assert.Equal(post.Seq, reply.InReplyTo);
        Assert.Equal(MessageOutcome.Reply, reply.Outcome);
        Assert.Equal(3, gate.Writes.Count(w => w.Failed));
    }

    [Fact]
    public async Task A_read_during_a_post_answers_in_under_a_second_while_the_reminder_table_takes_five()
    {
        var room = await NewRoom("Patient");
        var reminders = ReminderGate.Of(room);
        reminders.DelayWrites(TimeSpan.FromSeconds(5));

        var posting = room.PostAsync("player-0", "the first message that needs the lost-reply check");
        await reminders.Arrived.WaitAsync(TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        var view = await room.GetAsync();
        clock.Stop();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the read took {clock.Elapsed}");
        Assert.Equal(["player-0"], view.Players);
        Assert.Equal(["agent-0"], (await posting).TriggeredAgents);
        await AllIdle(room);
    }

    [Fact]
    public async Task A_pair_whose_report_cannot_be_stored_before_its_loss_deadline_ends_once_as_interrupted()
    {
        var room = await NewRoom("[slow] unreported");
        var gate = WriteGate.Of(room);
        var post = await room.PostAsync("player-0", "a question");
        // The report's write (2.5 s after the post) is held past the pair's loss deadline (ResponseTimeout + 5 s), then fails.
        var report = gate.HoldNext();
        await report.Reached.WaitAsync(Settle);
        await Task.Delay(ClusterFixture.AgentResponseTimeout + TimeSpan.FromSeconds(6));
        report.Fail();

        // The worker gives up; the loss check of the room's next activation ends the pair.
        await AllIdle(room);
        var agentMessages = (await room.GetMessagesAsync(0, 100)).Messages.Where(m => m.SenderKind == SenderKind.Agent).ToList();
        var ended = Assert.Single(agentMessages);
        Assert.Equal((post.Seq, MessageOutcome.Failed, RoomErrors.Interrupted), (ended.InReplyTo!.Value, ended.Outcome!.Value, ended.Error));
    }
}
