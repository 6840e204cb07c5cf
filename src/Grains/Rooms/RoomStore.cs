using System.Collections.Immutable;
using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Lectures.Grains.Rooms;

/// <summary>
/// A room in the store: its messages and its remembered posts (clientMessageIds) in pages (<see cref="PagedHistory{T}"/>)
/// and its record, which lists them. A change writes the pages it touches first (a post: the last message page and the
/// last page of remembered posts), then the record. A room stored before paged messages (all of them in its record)
/// is moved into pages by its next write. Failures are <see cref="StorageUnavailableException"/> and deactivate the
/// grain, so the next call reloads what is really stored.
/// </summary>
public sealed class RoomStore(IPersistentState<RoomRecord> record, IGrainStorage store, Grain grain, TimeProvider clock, ILogger logger)
{
    // A page closes at about two messages of the longest text.
    private const int MessagePageChars = 16_384;
    // About a hundred remembered posts a page: a post rewrites the last one.
    private const int PostPageChars = 12_000;

    private readonly PagedHistory<MessageState> _messages = new(store, grain.GetGrainId(), "messages", MessagePageChars, m => m.Text.Length + 100, logger);
    private readonly PagedHistory<ClientPost> _posts = new(store, grain.GetGrainId(), "client-posts", PostPageChars, p => p.Chars, logger);
    private long _postStart;

    /// <summary>The messages as last written (what event replays read while a write is in flight).</summary>
    public ImmutableList<MessageState> Written { get; private set; } = [];

    public async Task<RoomState> LoadAsync()
    {
        var r = record.State;
        var state = new RoomState
        {
            Exists = r.Exists, ReplyPolicy = r.ReplyPolicy, Agents = r.Agents, Players = r.Players, LastSeq = r.LastSeq, Version = r.Version,
            TrimmedEventId = r.TrimmedEventId, ReplayFrom = r.ReplayFrom,
        };
        if (r.Messages is { Count: > 0 } || r.ClientMessages is { Count: > 0 })
        {
            // The old format: every kept message in the record, without event ids (events up to now cannot be replayed),
            // and the clientMessageIds of kept messages without a time (remembered for a window from now).
            state.Messages = r.Messages ?? [];
            state.ReplayFrom = r.Version;
            var now = clock.GetUtcNow();
            foreach (var (key, post) in (r.ClientMessages ?? []).OrderBy(p => p.Value.Seq))
            {
                state.ClientPosts.Add(new ClientPost(key, post.Seq, post.Triggered, post.Skipped, now));
            }
        }
        else
        {
            var (messages, posts) = (_messages.LoadAsync(0, r.MessagePages, r.MessageStart), _posts.LoadAsync(0, r.ClientPostPages, r.ClientPostStart));
            state.Messages = [.. await messages];
            state.ClientPosts = [.. await posts];
            _postStart = r.ClientPostStart;
        }

        foreach (var post in state.ClientPosts)
        {
            state.ClientIndex[post.Key] = post;
        }

        Written = [.. state.Messages];
        return state;
    }

    /// <summary>Writes the pages that changed, then the record. <paramref name="expiredPosts"/>: how many remembered posts were dropped from the front since the last write.</summary>
    public async Task WriteAsync(RoomState s, int expiredPosts)
    {
        var messages = s.Messages.ToImmutableList();
        var messageStart = s.LastSeq - messages.Count;
        var postStart = _postStart + expiredPosts;
        var written = await Task.WhenAll(
            _messages.WriteAsync(0, messages, messageStart),
            _posts.WriteAsync(0, [.. s.ClientPosts], postStart));
        record.State = new RoomRecord
        {
            Exists = s.Exists, ReplyPolicy = s.ReplyPolicy, Agents = s.Agents, Players = s.Players, LastSeq = s.LastSeq, Version = s.Version,
            MessagePages = [.. written[0]], MessageStart = messageStart, ClientPostPages = [.. written[1]], ClientPostStart = postStart,
            TrimmedEventId = s.TrimmedEventId, ReplayFrom = s.ReplayFrom,
        };
        await record.SaveAsync(grain, logger);
        _postStart = postStart;
        Written = messages;
        _messages.Committed();
        _posts.Committed();
    }
}
