using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Lectures.Grains.Common;

/// <summary>A page as the owner's record lists it: which entries (absolute indexes) it holds, under which name.</summary>
[GenerateSerializer, Immutable, Alias("history.page-ref")]
public sealed record HistoryPageRef([property: Id(0)] long Number, [property: Id(1)] long Version, [property: Id(2)] long First, [property: Id(3)] int Count);

/// <summary>A page as stored: a record of its own in the owner's store.</summary>
[GenerateSerializer, Alias("history.page")]
public sealed class HistoryPage<T>
{
    [Id(0)] public List<T> Entries { get; set; } = [];
}

/// <summary>
/// A grain's growing history (a session's exchanges, a room's messages) in pages of bounded size, each page a record of
/// its own in the grain's store (state name <c>{prefix}-{incarnation}-{number}-{version}</c>) and the owner's record
/// listing them (<see cref="HistoryPageRef"/>). A change writes only the pages it touches, each as a new version,
/// before the owner writes the record that lists it; the versions it replaces are deleted once that record is written.
/// So a failed record write leaves at most an unlisted page, never a listed page that is missing or changed, and a
/// reload reads exactly what the record lists. The history itself is an immutable list the owner's rules replace:
/// entries are compared by reference, so an entry that did not change is never written again. Runs on the grain's
/// scheduler; the owner writes one change at a time.
/// </summary>
public sealed class PagedHistory<T>(IGrainStorage store, GrainId owner, string prefix, int pageChars, Func<T, int> chars, ILogger logger)
    where T : class
{
    private List<Page> _pages = [];
    private List<Page> _replaced = [];
    private long _incarnation;

    /// <summary>Reads the pages <paramref name="refs"/> lists; returns the entries from absolute index <paramref name="start"/> on.</summary>
    public async Task<ImmutableList<T>> LoadAsync(long incarnation, IReadOnlyList<HistoryPageRef> refs, long start)
    {
        _incarnation = incarnation;
        var pages = await Task.WhenAll(refs.Select(async r =>
        {
            var stored = new GrainState<HistoryPage<T>>(new HistoryPage<T>());
            await Guard(store.ReadStateAsync(Name(r), owner, stored), "read");
            // A page may hold entries a later write added under a record that was never written: the record's count rules.
            return new Page(r, stored, [.. (stored.State?.Entries ?? []).Take(r.Count)]);
        }));
        _pages = [.. pages];
        return [.. _pages.SelectMany(p => p.Entries.Select((e, i) => (Index: p.Ref.First + i, Entry: e))).Where(x => x.Index >= start).Select(x => x.Entry)];
    }

    /// <summary>
    /// Writes the pages that differ between what is stored and <paramref name="entries"/> (the history from absolute index
    /// <paramref name="start"/>), and returns the list for the owner's record, which the owner writes next. Pages wholly
    /// before <paramref name="start"/> are dropped from the list. Throws <see cref="StorageUnavailableException"/>.
    /// </summary>
    public async Task<ImmutableArray<HistoryPageRef>> WriteAsync(long incarnation, ImmutableList<T> entries, long start)
    {
        if (incarnation != _incarnation)
        {
            // A new incarnation (after a deletion) names its pages afresh; the old ones are gone or unlisted.
            _pages = [];
            _incarnation = incarnation;
        }

        var end = start + entries.Count;
        var next = new List<Page>();
        var writes = new List<Page>();
        foreach (var page in _pages)
        {
            if (page.Ref.First + page.Ref.Count <= start || page.Ref.First >= end)
            {
                _replaced.Add(page); // trimmed away, or cleared
                continue;
            }

            var from = Math.Max(page.Ref.First, start);
            var to = Math.Min(page.Ref.First + page.Ref.Count, end);
            var same = to == page.Ref.First + page.Ref.Count;
            for (var i = from; same && i < to; i++)
            {
                same = ReferenceEquals(page.Entries[(int)(i - page.Ref.First)], entries[(int)(i - start)]);
            }

            if (same)
            {
                next.Add(page);
            }
            else
            {
                var rewritten = Version(page, from, entries.GetRange((int)(from - start), (int)(to - from)));
                next.Add(rewritten);
                writes.Add(rewritten);
                _replaced.Add(page);
            }
        }

        // Entries after the last page go into it while they fit, then into new pages.
        var covered = next.Count > 0 ? next[^1].Ref.First + next[^1].Ref.Count : start;
        var number = _pages.Concat(next).Select(p => p.Ref.Number).DefaultIfEmpty(0).Max();
        while (covered < end)
        {
            // A page takes entries while they fit in pageChars; an entry larger than that gets a page of its own.
            var last = next.Count > 0 ? next[^1] : null;
            var size = last?.Entries.Sum(chars) ?? 0;
            var open = last is not null && size + chars(entries[(int)(covered - start)]) <= pageChars;
            size = open ? size : 0;
            var taken = new List<T>();
            while (covered + taken.Count < end && (taken.Count == 0 || size + chars(entries[(int)(covered + taken.Count - start)]) <= pageChars))
            {
                var entry = entries[(int)(covered + taken.Count - start)];
                taken.Add(entry);
                size += chars(entry);
            }

            if (open)
            {
                var grown = Version(last!, last!.Ref.First, last.Entries.AddRange(taken));
                if (!writes.Remove(last))
                {
                    _replaced.Add(last);
                }

                next[^1] = grown;
                writes.Add(grown);
            }
            else
            {
                var fresh = new Page(new HistoryPageRef(++number, NewVersion(), covered, taken.Count), new GrainState<HistoryPage<T>>(new HistoryPage<T>()), [.. taken]);
                next.Add(fresh);
                writes.Add(fresh);
            }

            covered += taken.Count;
        }

        await Task.WhenAll(writes.Select(p =>
        {
            p.Stored.State = new HistoryPage<T> { Entries = [.. p.Entries] };
            return Guard(store.WriteStateAsync(Name(p.Ref), owner, p.Stored), "write");
        }));
        _pages = next;
        return [.. next.Select(p => p.Ref)];
    }

    /// <summary>Deletes the page versions the last written record no longer lists (in the background; a failure leaves an unlisted page).</summary>
    public void Committed()
    {
        if (_replaced.Count == 0)
        {
            return;
        }

        var replaced = _replaced;
        _replaced = [];
        _ = DeleteAsync(replaced);
    }

    /// <summary>Deletes every page, after the owner's record was deleted: an unlisted page is never read again.</summary>
    public Task DeleteAllAsync()
    {
        var all = _pages.Concat(_replaced).ToList();
        _pages = [];
        _replaced = [];
        return DeleteAsync(all);
    }

    private async Task DeleteAsync(List<Page> pages)
    {
        foreach (var page in pages.Where(p => p.Stored.ETag is not null))
        {
            try
            {
                await store.ClearStateAsync(Name(page.Ref), owner, page.Stored);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Deleting history page {Page} of {GrainId} failed; it is no longer listed and never read", Name(page.Ref), owner);
            }
        }
    }

    private static Page Version(Page page, long first, ImmutableList<T> entries) =>
        new(page.Ref with { Version = NewVersion(), First = first, Count = entries.Count }, new GrainState<HistoryPage<T>>(new HistoryPage<T>()), entries);

    // Random, not counted: a version written under a record that then failed is unlisted, and the reloaded owner must
    // never write its name again (the store would refuse a new record where one exists).
    private static long NewVersion() => Random.Shared.NextInt64(1, long.MaxValue);

    private string Name(HistoryPageRef r) => $"{prefix}-{_incarnation}-{r.Number}-{r.Version}";

    private async Task Guard(Task operation, string what)
    {
        try
        {
            await operation;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "History page {What} of {GrainId} failed", what, owner);
            throw new StorageUnavailableException($"The grain store could not be {(what == "read" ? "read" : "written")}; the change was not acknowledged.");
        }
    }

    private sealed record Page(HistoryPageRef Ref, GrainState<HistoryPage<T>> Stored, ImmutableList<T> Entries);
}
