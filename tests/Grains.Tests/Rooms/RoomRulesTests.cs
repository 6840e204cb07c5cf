using Lectures.Grains.Common;
using Lectures.Grains.Rooms;

namespace Lectures.Grains.Tests.Rooms;

public sealed class RoomRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromHours(24);

    [Fact]
    public void A_remembered_clientMessageId_expires_by_time_not_with_its_message_and_expiry_drops_it_from_the_front()
    {
        var s = new RoomState { Exists = true, Players = ["p"] };
        RoomRules.Post(s, "r", "p", "first", "a", [], T0, maxMessages: 1);
        RoomRules.Post(s, "r", "p", "second", "b", [], T0 + TimeSpan.FromHours(1), maxMessages: 1);

        // The first message is trimmed (MaxMessages 1), its id is still remembered.
        Assert.Equal(2, Assert.Single(s.Messages).Seq);
        Assert.Equal(1, RoomRules.Remembered(s, "p", "a", T0 + Window - TimeSpan.FromTicks(1), Window)?.Seq);
        Assert.Null(RoomRules.Remembered(s, "p", "a", T0 + Window, Window));
        Assert.Null(RoomRules.Remembered(s, "other-sender", "b", T0, Window));

        Assert.Equal(0, RoomRules.Expire(s, T0 + Window - TimeSpan.FromTicks(1), Window));
        Assert.Equal(1, RoomRules.Expire(s, T0 + Window, Window));
        Assert.Equal(["p\nb"], s.ClientPosts.Select(p => p.Key));
        Assert.Equal(["p\nb"], s.ClientIndex.Keys);
        Assert.Equal(2, RoomRules.Remembered(s, "p", "b", T0 + Window, Window)?.Seq);
    }

    [Fact]
    public void A_replay_gives_the_missed_messages_in_order_and_one_room_event_under_the_last_other_id()
    {
        var s = new RoomState { Exists = true, Players = ["p"] };
        var e1 = RoomRules.Post(s, "r", "p", "one", null, [], T0, 100).Events;  // message 1
        RoomRules.Event(s, "room", new RoomChange(null, null, null)); // 2: a join
        RoomRules.Post(s, "r", "p", "two", null, [], T0, 100);                    // message 3
        var snapshot = new ChangeEvent<RoomChange>(s.Version, "room", new RoomChange(null, null, null));

        var all = RoomRules.Replay(s.Messages, 0, snapshot, 0, 0);
        Assert.Equal([(1L, "message"), (2L, "room"), (3L, "message")], all.Select(e => (e.Id, e.Type)));
        Assert.Equal([(3L, "message")], RoomRules.Replay(s.Messages, 2, snapshot, 0, 0).Select(e => (e.Id, e.Type)));
        Assert.Empty(RoomRules.Replay(s.Messages, 3, snapshot, 0, 0));
        Assert.Equal([snapshot], RoomRules.Replay(s.Messages, 0, snapshot, trimmedEventId: 1, replayFrom: 0));
        Assert.Equal([snapshot], RoomRules.Replay(s.Messages, 0, snapshot, trimmedEventId: 0, replayFrom: 1));
        Assert.Single(e1);
    }
}
