using System.Diagnostics;
using Lectures.Grains.Common;
using Lectures.Grains.Rooms;
using Lectures.Grains.Tests.Infrastructure;

namespace Lectures.Grains.Tests.Rooms;

[Collection(ClusterCollection.Name)]
public sealed class RoomGrainTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Settle = ClusterFixture.AgentResponseTimeout + TimeSpan.FromSeconds(20);

    private async Task<IRoomGrain> NewRoom(string[] personas, int players = 4)
    {
        var room = fixture.Grains.GetGrain<IRoomGrain>(Keys.New("room"));
        await room.PutAsync(personas.Select((p, i) => new AgentDefinition($"agent-{i}", $"Agent {i}", p)).ToList(), "all");
        for (var p = 0; p < players; p++)
        {
            await room.JoinAsync($"player-{p}");
        }

        return room;
    }

    private static Task<RoomView> AllIdle(IRoomGrain room) =>
        Eventually.Poll(room.GetAsync, r => r.Agents.All(a => a.Status == AgentStatus.Idle), Settle, "every agent idle again");

    private static async Task<List<MessageView>> AllMessages(IRoomGrain room) => [.. (await room.GetMessagesAsync(0, 1000)).Messages];

    private static List<(string, long)> AgentPairs(IEnumerable<MessageView> messages) =>
        messages.Where(m => m.SenderKind == SenderKind.Agent).Select(m => (m.SenderId, m.InReplyTo!.Value)).Order().ToList();

    [Fact]
    public async Task Three_bursts_of_24_concurrent_messages_give_every_triggered_pair_exactly_one_reply_and_nothing_else()
    {
        var room = await NewRoom(["Curious", "Grumpy", "Cheerful"]);
        var triggered = new List<(string, long)>();
        for (var burst = 0; burst < 3; burst++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i =>
                Task.Run(() => room.PostAsync($"player-{i % 4}", $"burst {burst} message {i}"))));
            var pairs = results.SelectMany(r => r.TriggeredAgents.Select(a => (a, r.Seq))).ToList();
            // Each agent is triggered once per burst (the first message that finds it idle); every other post skips it.
            Assert.Equal(["agent-0", "agent-1", "agent-2"], pairs.Select(p => p.a).Order());
            Assert.All(results, r => Assert.Equal(3, r.TriggeredAgents.Count + r.SkippedAgents.Count));
            triggered.AddRange(pairs);
            await AllIdle(room);
        }

        var messages = await AllMessages(room);
        Assert.Equal(triggered.Order().ToList(), AgentPairs(messages));
        Assert.All(messages.Where(m => m.SenderKind == SenderKind.Agent), m =>
        {
            Assert.Equal(MessageOutcome.Reply, m.Outcome);
            Assert.Contains("burst", m.Text);
            Assert.True(m.Seq > m.InReplyTo);
        });
        Assert.Equal(72, messages.Count(m => m.SenderKind == SenderKind.Player));
        Assert.Equal(messages.Select(m => m.Seq).Order(), messages.Select(m => m.Seq));
    }

    [Fact]
    public async Task Reads_joins_and_posts_return_well_under_the_generation_latency_while_agents_generate()
    {
        var room = await NewRoom(["[slow] Thoughtful", "[slow] Deliberate"]);
        await room.PostAsync("player-0", "Take your time.");

        var timings = new List<(string, TimeSpan)>();
        async Task Timed(string what, Func<Task> call)
        {
            var watch = Stopwatch.StartNew();
            await call();
            timings.Add((what, watch.Elapsed));
        }

        await Timed("get", room.GetAsync);
        await Timed("join", () => room.JoinAsync("late-player"));
        await Timed("messages", () => room.GetMessagesAsync(0, 100));
        await Timed("post", () => room.PostAsync("late-player", "Am I late?"));
        await Timed("leave", () => room.LeaveAsync("player-3"));
        var during = await room.GetAsync();

        Assert.All(during.Agents, a => Assert.Equal(AgentStatus.Responding, a.Status));
        Assert.All(timings, t => Assert.True(t.Item2 < ScriptedChatClient.SlowLatency / 3, $"{t.Item1} took {t.Item2} while agents generate"));
        await AllIdle(room);
    }

    [Fact]
    public async Task A_responder_that_throws_ends_each_triggered_pair_in_one_failed_message_and_one_event_and_frees_the_agent()
    {
        var room = await NewRoom(["[throws] Broken"]);
        var seqs = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var post = await room.PostAsync("player-0", $"question {i}");
            Assert.Equal(["agent-0"], post.TriggeredAgents);
            seqs.Add(post.Seq);
            await AllIdle(room);
        }

        var failed = (await AllMessages(room)).Where(m => m.SenderKind == SenderKind.Agent).ToList();
        Assert.Equal(seqs, failed.Select(m => m.InReplyTo!.Value));
        Assert.All(failed, m =>
        {
            Assert.Equal(MessageOutcome.Failed, m.Outcome);
            Assert.Equal(RoomErrors.ResponderFailed, m.Error);
            Assert.Equal("", m.Text);
        });
        var events = (await room.GetEventsAsync(0)).Events;
        Assert.Equal(seqs, events.Where(e => e.Type == "agent_failed").Select(e => e.Data.Message!.InReplyTo!.Value));
    }

    [Fact]
    public async Task A_responder_that_hangs_past_the_response_timeout_ends_each_pair_in_one_timeout_failure()
    {
        var room = await NewRoom(["[hangs] Silent"]);
        var watch = Stopwatch.StartNew();
        var first = await room.PostAsync("player-0", "Hello?");
        await AllIdle(room);
        var elapsed = watch.Elapsed;
        var second = await room.PostAsync("player-1", "Anyone?");
        Assert.Equal(["agent-0"], second.TriggeredAgents);
        await AllIdle(room);

        var failed = (await AllMessages(room)).Where(m => m.SenderKind == SenderKind.Agent).ToList();
        Assert.Equal([first.Seq, second.Seq], failed.Select(m => m.InReplyTo!.Value));
        Assert.All(failed, m => Assert.Equal((MessageOutcome.Failed, RoomErrors.Timeout), (m.Outcome!.Value, m.Error)));
        Assert.True(elapsed >= ClusterFixture.AgentResponseTimeout - TimeSpan.FromMilliseconds(200), $"ended after {elapsed}, before the timeout");
        var events = (await room.GetEventsAsync(0)).Events;
        Assert.Equal(2, events.Count(e => e.Type == "agent_failed"));
    }

    [Fact]
    public async Task Twelve_concurrent_posts_with_one_clientMessageId_store_one_message_and_one_set_of_outcomes()
    {
        for (var round = 0; round < 3; round++)
        {
            var room = await NewRoom(["Curious", "Grumpy"]);
            var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
                Task.Run(() => room.PostAsync("player-0", "Only once, please", "client-msg-1"))));

            Assert.Single(results, r => r.Created);
            Assert.Single(results.Select(r => (r.Seq, string.Join(',', r.TriggeredAgents), string.Join(',', r.SkippedAgents))).Distinct());
            await AllIdle(room);
            var messages = await AllMessages(room);
            Assert.Single(messages, m => m.SenderKind == SenderKind.Player);
            Assert.Equal([("agent-0", results[0].Seq), ("agent-1", results[0].Seq)], AgentPairs(messages));
        }
    }

    [Fact]
    public async Task A_repeated_completion_of_a_pair_stores_no_second_message()
    {
        var room = await NewRoom(["[slow] Thoughtful"]);
        var post = await room.PostAsync("player-0", "Question");

        var reports = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => room.CompleteReplyAsync("agent-0", post.Seq, $"answer {i}", null))));
        Assert.Single(reports, r => r);
        Assert.False(await room.CompleteReplyAsync("agent-0", post.Seq, "late", RoomErrors.Timeout));
        // The worker's own report arrives after the slow generation and is dropped too.
        await Task.Delay(ScriptedChatClient.SlowLatency + TimeSpan.FromSeconds(1));

        var agentMessages = (await AllMessages(room)).Where(m => m.SenderKind == SenderKind.Agent).ToList();
        var reply = Assert.Single(agentMessages);
        Assert.Equal((post.Seq, MessageOutcome.Reply), (reply.InReplyTo!.Value, reply.Outcome!.Value));
        Assert.StartsWith("answer ", reply.Text);
    }

    [Fact]
    public async Task Refusals_change_nothing()
    {
        var room = await NewRoom(["Curious"]);
        var before = await room.GetAsync();

        var notPlayer = await Assert.ThrowsAsync<DomainException>(() => room.PostAsync("stranger", "hi"));
        Assert.Equal((RefusalKind.Forbidden, RoomErrors.NotAPlayer), (notPlayer.Kind, notPlayer.Code));
        var unknownAgent = await Assert.ThrowsAsync<DomainException>(() => room.PostAsync("player-0", "hi", agentIds: ["agent-0", "nobody"]));
        Assert.Equal(RefusalKind.Invalid, unknownAgent.Kind);
        Assert.True(unknownAgent.Errors!.ContainsKey("agentIds"));
        var missing = await Assert.ThrowsAsync<DomainException>(() => fixture.Grains.GetGrain<IRoomGrain>(Keys.New("nowhere")).PostAsync("p", "hi"));
        Assert.Equal((RefusalKind.NotFound, RoomErrors.NotFound), (missing.Kind, missing.Code));
        var stale = await Assert.ThrowsAsync<DomainException>(() => room.JoinAsync("new-player", new IfMatch([before.Version - 1])));
        Assert.Equal(RefusalKind.PreconditionFailed, stale.Kind);

        Same.Equal(before, await room.GetAsync());
        Assert.Empty(await AllMessages(room));
    }

    [Fact]
    public async Task A_room_keeps_its_latest_MaxMessages_messages_and_pages_them_by_seq()
    {
        var room = await NewRoom(["Curious"]);
        for (var i = 1; i <= 130; i++)
        {
            var post = await room.PostAsync("player-0", $"message {i}", $"id-{i}", agentIds: []);
            Assert.Empty(post.TriggeredAgents);
        }

        var all = await room.GetMessagesAsync(0, 1000);
        Assert.Equal(100, all.Messages.Count);
        Assert.Equal(31, all.TrimmedBefore);
        Assert.Equal(Enumerable.Range(31, 100).Select(i => (long)i), all.Messages.Select(m => m.Seq));
        var page = await room.GetMessagesAsync(50, 10);
        Assert.Equal(Enumerable.Range(51, 10).Select(i => (long)i), page.Messages.Select(m => m.Seq));
        Assert.Empty((await room.GetMessagesAsync(130, 10)).Messages);
        // A clientMessageId whose message is still kept is remembered; the state stays bounded as messages go.
        Assert.False((await room.PostAsync("player-0", "again", "id-130", agentIds: [])).Created);
        Assert.Equal(130, (await room.GetAsync()).LastSeq);
    }

    [Fact]
    public async Task Live_events_show_the_message_the_agent_responding_its_reply_and_the_agent_idle_in_order()
    {
        var room = await NewRoom(["Curious"]);
        var start = (await room.GetAsync()).Version;
        var post = await room.PostAsync("player-0", "What is an ECG?");
        await AllIdle(room);

        var events = (await room.GetEventsAsync(start)).Events;
        Assert.Equal(["message", "agent", "message", "agent"], events.Select(e => e.Type));
        Assert.Equal(Enumerable.Range(1, 4).Select(i => start + i), events.Select(e => e.Id));
        Assert.Equal(post.Seq, events[0].Data.Message!.Seq);
        Assert.Equal((AgentStatus.Responding, post.Seq), (events[1].Data.Agent!.Status, events[1].Data.Agent!.RespondingTo!.Value));
        Assert.Contains("What is an ECG?", events[2].Data.Message!.Text);
        Assert.Equal(AgentStatus.Idle, events[3].Data.Agent!.Status);
    }

    [Fact]
    public async Task Replacing_the_agents_keeps_a_kept_agent_responding_and_ends_a_removed_agents_pair_once()
    {
        var room = await NewRoom(["[slow] Kept", "[slow] Removed"]);
        var post = await room.PostAsync("player-0", "Before the change");

        var changed = await room.PutAsync([new AgentDefinition("agent-0", "Renamed", "[slow] Kept"), new AgentDefinition("agent-9", "New", "Fresh")], "all");
        Assert.Equal([("agent-0", AgentStatus.Responding), ("agent-9", AgentStatus.Idle)], changed.Agents.Select(a => (a.AgentId, a.Status)));
        await AllIdle(room);
        await Task.Delay(ScriptedChatClient.SlowLatency);

        var agentMessages = (await AllMessages(room)).Where(m => m.SenderKind == SenderKind.Agent).ToList();
        Assert.Equal([("agent-0", post.Seq), ("agent-1", post.Seq)], AgentPairs(agentMessages));
        Assert.Equal(MessageOutcome.Reply, agentMessages.Single(m => m.SenderId == "agent-0").Outcome);
        Assert.Equal(RoomErrors.Interrupted, agentMessages.Single(m => m.SenderId == "agent-1").Error);
    }

    [Fact]
    public void A_pair_is_lost_only_once_it_has_responded_longer_than_the_deadline()
    {
        var now = DateTimeOffset.UtcNow;
        var state = new RoomState
        {
            Exists = true,
            Agents =
            [
                new AgentState { AgentId = "old", RespondingTo = 1, RespondingSince = now - TimeSpan.FromSeconds(40) },
                new AgentState { AgentId = "young", RespondingTo = 2, RespondingSince = now - TimeSpan.FromSeconds(10) },
                new AgentState { AgentId = "idle" },
            ],
        };
        var lost = RoomRules.Lost(state, now, TimeSpan.FromSeconds(35));
        Assert.Equal(["old"], lost.Select(a => a.AgentId));

        var events = RoomRules.End(state, lost[0], "", RoomErrors.Interrupted, now, 100);
        Assert.Equal(["message", "agent_failed", "agent"], events.Select(e => e.Type));
        Assert.Null(RoomRules.End(state, "old", 1, "late reply", null, now, 100));
        Assert.Equal((1L, MessageOutcome.Failed, RoomErrors.Interrupted),
            (state.Messages.Single().InReplyTo!.Value, state.Messages.Single().Outcome!.Value, state.Messages.Single().Error));
    }
}
