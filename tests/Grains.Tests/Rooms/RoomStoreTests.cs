using Lectures.Grains.Common;
using Lectures.Grains.Rooms;
using Lectures.Grains.Tests.Infrastructure;
using Orleans.Core.Internal;

namespace Lectures.Grains.Tests.Rooms;

/// <summary>
/// What a room stores and remembers (the test cluster keeps Rooms:MaxMessages = 100): remembered clientMessageIds
/// outlive their messages, a post writes one page and a small record, failed writes store nothing, and a client that
/// resumes after missed events gets the missed messages from the stored ones.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RoomStoreTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Settle = ClusterFixture.AgentResponseTimeout + TimeSpan.FromSeconds(20);

    private async Task<IRoomGrain> NewRoom(string[] personas, int players = 2)
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

    private static async Task Reactivate(IRoomGrain room) => await room.Cast<IGrainManagementExtension>().DeactivateOnIdle();

    [Fact]
    public async Task A_repeated_clientMessageId_answers_the_original_result_after_its_message_was_trimmed()
    {
        var room = await NewRoom(["Curious", "Grumpy"]);
        var first = await room.PostAsync("player-0", "the first question", "first-id");
        Assert.True(first.Created);
        await AllIdle(room);
        for (var i = 0; i < 110; i++)
        {
            await room.PostAsync("player-1", $"filler {i}", $"filler-{i}", agentIds: []);
        }

        Assert.True((await room.GetMessagesAsync(0, 1000)).TrimmedBefore > first.Seq, "the first message is trimmed");
        var lastSeq = (await room.GetAsync()).LastSeq;

        var retry = await room.PostAsync("player-0", "the first question", "first-id");
        Assert.False(retry.Created, $"the retry was created again as seq {retry.Seq}");
        Assert.Equal(first.Seq, retry.Seq);
        Assert.Equal(first.TriggeredAgents, retry.TriggeredAgents);
        Assert.Equal(first.SkippedAgents, retry.SkippedAgents);
        var after = await room.GetAsync();
        Assert.Equal(lastSeq, after.LastSeq);
        Assert.All(after.Agents, a => Assert.Equal(AgentStatus.Idle, a.Status));

        // Remembered across a reactivation too (read back from the store).
        await Reactivate(room);
        Assert.False((await room.PostAsync("player-0", "the first question", "first-id")).Created);
        Assert.False((await room.PostAsync("player-1", "filler 3", "filler-3", agentIds: [])).Created);
        Assert.Equal(lastSeq, (await room.GetAsync()).LastSeq);
    }

    [Fact]
    public async Task A_post_writes_one_message_page_and_the_record_and_the_record_holds_no_message_text()
    {
        var room = await NewRoom(["Curious"]);
        for (var i = 0; i < 120; i++)
        {
            await room.PostAsync("player-0", new string((char)('а' + (i % 32)), 8_000), $"fill-{i}", agentIds: []);
        }

        var gate = WriteGate.Of(room);
        var text = "Последний вопрос " + new string('ж', 7_000);
        await room.PostAsync("player-0", text, "last", agentIds: []);

        var writes = gate.Writes.Where(w => w.Json != WriteGate.Cleared).ToList();
        var record = Assert.Single(writes, w => w.StateName == "room");
        var page = Assert.Single(writes, w => w.StateName != "room" && w.Json.Contains("Последний вопрос"));
        Assert.True(writes.Count <= 3, $"a post wrote {writes.Count} records: {string.Join(", ", writes.Select(w => $"{w.StateName} ({w.Json.Length} chars)"))}");
        Assert.DoesNotContain("Последний", record.Json);
        Assert.DoesNotContain("ж", record.Json);
        Assert.True(record.Json.Length < 8_000, $"the room's record is {record.Json.Length} characters");
        Assert.True(page.Json.Length < 40_000, $"the page is {page.Json.Length} characters");

        await Reactivate(room);
        var kept = await room.GetMessagesAsync(0, 1000);
        Assert.Equal(100, kept.Messages.Count);
        Assert.Equal(text, kept.Messages[^1].Text);
        Assert.Equal(kept.Messages.Select(m => m.Seq), Enumerable.Range((int)kept.TrimmedBefore, 100).Select(i => (long)i));
    }

    [Fact]
    public async Task A_failed_post_stores_nothing_its_retry_is_created_once_and_every_pair_ends_once()
    {
        var room = await NewRoom(["Curious", "Grumpy", "Cheerful"]);
        var gate = WriteGate.Of(room);
        var before = await room.GetAsync();
        gate.FailNext();
        await Assert.ThrowsAsync<StorageUnavailableException>(() => room.PostAsync("player-0", "lost?", "retry-me"));

        // Nothing of the failed post is stored or shown: a reloaded room has the same messages and idle agents.
        var reloaded = await Eventually.Poll(async () =>
        {
            try
            {
                return await room.GetAsync();
            }
            catch (StorageUnavailableException)
            {
                return null;
            }
        }, r => r is not null, TimeSpan.FromSeconds(10), "the room answers again");
        Assert.Equal(before.LastSeq, reloaded!.LastSeq);
        Assert.All(reloaded.Agents, a => Assert.Equal(AgentStatus.Idle, a.Status));
        Assert.Empty((await room.GetMessagesAsync(0, 100)).Messages);

        // Concurrent retries of the same post: created exactly once, every other one answers the original result.
        var retries = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => room.PostAsync("player-0", "lost?", "retry-me"))));
        var created = Assert.Single(retries, r => r.Created);
        Assert.All(retries, r =>
        {
            Assert.Equal(created.Seq, r.Seq);
            Assert.Equal(created.TriggeredAgents, r.TriggeredAgents);
        });
        Assert.Equal(3, created.TriggeredAgents.Count);

        await AllIdle(room);
        var messages = (await room.GetMessagesAsync(0, 100)).Messages;
        Assert.Single(messages, m => m.SenderKind == SenderKind.Player);
        Assert.Equal(created.TriggeredAgents.Order(), messages.Where(m => m.SenderKind == SenderKind.Agent && m.InReplyTo == created.Seq).Select(m => m.SenderId).Order());
    }

    [Fact]
    public async Task A_client_resuming_after_the_room_reactivated_gets_every_missed_message_once_in_order_then_one_room_event()
    {
        var room = await NewRoom([]);
        var resumeFrom = (await room.GetAsync()).Version;
        var posted = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            posted.Add((await room.PostAsync("player-0", $"missed {i}", agentIds: [])).Seq);
        }

        await room.JoinAsync("late-player");
        posted.Add((await room.PostAsync("late-player", "missed 3", agentIds: [])).Seq);
        await Reactivate(room);

        var events = (await room.GetEventsAsync(resumeFrom)).Events;
        Assert.Equal(posted, events.Where(e => e.Type == "message").Select(e => e.Data.Message!.Seq));
        Assert.Equal(["message", "message", "message", "message", "room"], events.Select(e => e.Type).Order().ToList());
        var roomEvent = Assert.Single(events, e => e.Type == "room");
        Assert.Contains("late-player", roomEvent.Data.Room!.Players);
        Assert.Equal(events.Select(e => e.Id).Distinct().Order(), events.Select(e => e.Id));
        Assert.All(events, e => Assert.True(e.Id > resumeFrom));

        // Resuming from the last message's event: nothing more to send.
        Assert.Empty((await room.GetEventsAsync(events.Max(e => e.Id))).Events);
        // Resuming from just after the join: only the last message, no room event.
        var joinedAt = events.Where(e => e.Type == "message").Select(e => e.Id).OrderBy(id => id).ElementAt(2) + 1;
        var tail = (await room.GetEventsAsync(joinedAt)).Events;
        Assert.Equal([("message", posted[3])], tail.Select(e => (e.Type, e.Data.Message?.Seq ?? -1)));
    }

    [Fact]
    public async Task A_client_behind_more_events_than_the_log_holds_gets_the_missed_messages_and_a_snapshot_only_past_the_trim()
    {
        var room = await NewRoom(["Curious"]);
        var resumeFrom = (await room.GetAsync()).Version;
        for (var i = 0; i < 90; i++)
        {
            // Each post publishes two events (message, room below); 90 posts and 90 joins are more than the log's 128.
            await room.PostAsync("player-0", $"missed {i}", agentIds: []);
            await room.JoinAsync($"extra-{i}");
        }

        var events = (await room.GetEventsAsync(resumeFrom)).Events;
        Assert.Equal(90, events.Count(e => e.Type == "message"));
        Assert.Equal(events.Where(e => e.Type == "message").Select(e => e.Data.Message!.Seq).Order(), events.Where(e => e.Type == "message").Select(e => e.Data.Message!.Seq));
        Assert.Equal(91, events.Count);

        for (var i = 0; i < 20; i++)
        {
            await room.PostAsync("player-0", $"pushes the first ones out {i}", agentIds: []);
        }

        // The gap now reaches before trimmedBefore: a snapshot.
        var snapshot = Assert.Single((await room.GetEventsAsync(resumeFrom)).Events);
        Assert.Equal("room", snapshot.Type);
    }
}
