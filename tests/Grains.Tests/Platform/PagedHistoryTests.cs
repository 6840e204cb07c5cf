using System.Collections.Immutable;
using Lectures.Grains.Common;
using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;

namespace Lectures.Grains.Tests.Platform;

/// <summary>
/// The paged history on the product's store (the test cluster's sessions storage, behind its gate): a change writes
/// only the pages it touches, a page is written before the record that lists it, and a reload reads what is listed.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PagedHistoryTests(ClusterFixture fixture)
{
    private const int PageChars = 16_384;
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly string Long = new('ж', 8_000);

    private IGrainStorage Store => fixture.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(SessionOptions.Storage);

    private PagedHistory<HistoryEntry> New(GrainId owner) => new(Store, owner, "history", PageChars, e => e.Text.Length, NullLogger.Instance);

    private static HistoryEntry Entry(int i, RequestStatus status = RequestStatus.Completed) =>
        new(HistoryRole.User, $"{i}:{Long}", $"r{i}", status, T0.AddSeconds(i));

    [Fact]
    public async Task Each_appended_entry_writes_one_bounded_page_and_a_reload_reads_exactly_the_listed_entries()
    {
        var owner = GrainId.Create("test", Guid.NewGuid().ToString("N"));
        var gate = WriteGate.Of(owner);
        var history = New(owner);
        var entries = ImmutableList<HistoryEntry>.Empty;
        ImmutableArray<HistoryPageRef> refs = [];
        for (var i = 0; i < 40; i++)
        {
            var before = gate.Writes.Count(w => w.Json != WriteGate.Cleared);
            entries = entries.Add(Entry(i));
            refs = await history.WriteAsync(7, entries, 0);
            history.Committed();
            var written = gate.Writes.Where(w => w.Json != WriteGate.Cleared).Skip(before).ToList();
            // One page per change, holding at most about two entries: the cost does not grow with the history.
            Assert.Single(written);
            Assert.True(written[0].Json.Length < 3 * (Long.Length + 200), $"a page of {written[0].Json.Length} characters");
            // Stored unescaped: one character of text is one character of JSON, not a six-character \u escape.
            Assert.Contains(Long, written[0].Json, StringComparison.Ordinal);
        }

        Assert.Equal(40, refs.Sum(r => r.Count));
        Assert.InRange(refs.Length, 20, 21);
        var reloaded = await New(owner).LoadAsync(7, refs, 0);
        Assert.Equal(entries.Select(e => e.RequestId), reloaded.Select(e => e.RequestId));
        Assert.Equal(entries.Select(e => e.Text), reloaded.Select(e => e.Text));
    }

    [Fact]
    public async Task A_change_to_an_old_entry_rewrites_only_its_page_and_a_trim_drops_whole_pages()
    {
        var owner = GrainId.Create("test", Guid.NewGuid().ToString("N"));
        var gate = WriteGate.Of(owner);
        var history = New(owner);
        var entries = Enumerable.Range(0, 10).Select(i => Entry(i)).ToImmutableList();
        var refs = await history.WriteAsync(7, entries, 0);
        history.Committed();

        var before = gate.Writes.Count;
        entries = entries.SetItem(2, entries[2] with { Status = RequestStatus.Cancelled });
        var changed = await history.WriteAsync(7, entries, 0);
        history.Committed();
        Assert.Single(gate.Writes.Skip(before), w => w.Json != WriteGate.Cleared);
        Assert.Equal(refs.Length, changed.Length);
        Assert.Single(refs.Zip(changed), p => p.First != p.Second);

        // Trimmed to the last five: the pages wholly before them are no longer listed.
        var trimmed = await history.WriteAsync(7, entries.RemoveRange(0, 5), 5);
        history.Committed();
        Assert.All(trimmed, r => Assert.True(r.First + r.Count > 5));
        var reloaded = await New(owner).LoadAsync(7, trimmed, 5);
        Assert.Equal(["r5", "r6", "r7", "r8", "r9"], reloaded.Select(e => e.RequestId));
    }

    [Fact]
    public async Task Pages_written_for_a_record_that_was_never_written_leave_the_listed_history_as_it_was()
    {
        var owner = GrainId.Create("test", Guid.NewGuid().ToString("N"));
        var history = New(owner);
        var entries = Enumerable.Range(0, 3).Select(i => Entry(i)).ToImmutableList();
        var listed = await history.WriteAsync(7, entries, 0);
        history.Committed();

        // The next change writes its pages, but its record write fails: the record still lists the earlier pages.
        await history.WriteAsync(7, entries.SetItem(2, entries[2] with { Status = RequestStatus.Failed }).Add(Entry(3)), 0);

        var reloaded = await New(owner).LoadAsync(7, listed, 0);
        Assert.Equal(entries, reloaded);
        // And the owner, reloaded, writes its next change under new page names (the store refuses none).
        var again = New(owner);
        var current = await again.LoadAsync(7, listed, 0);
        var next = await again.WriteAsync(7, current.Add(Entry(4)), 0);
        Assert.Equal(4, next.Sum(r => r.Count));
    }
}
