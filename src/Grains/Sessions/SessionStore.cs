using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Lectures.Grains.Sessions;

/// <summary>
/// A session in the store: its history in pages (<see cref="PagedHistory{T}"/>) and its record, which lists them. A
/// change writes the pages it touches first, then the record; a deletion removes the record first (its pages are then
/// unlisted and never read again), then the pages. Failures are <see cref="StorageUnavailableException"/> and
/// deactivate the grain, so the next call reloads what is really stored.
/// </summary>
public sealed class SessionStore(IPersistentState<SessionRecord> record, IGrainStorage store, Grain grain, ILogger logger)
{
    // A page closes at about two messages of the longest text.
    private const int PageChars = 16_384;

    private readonly PagedHistory<HistoryEntry> _history = new(store, grain.GetGrainId(), "history", PageChars, e => e.Text.Length, logger);

    public async Task<SessionState> LoadAsync()
    {
        var stored = record.State;
        // A record written before paged history holds the whole history itself; the next write moves it into pages.
        var history = stored.History is { Count: > 0 } legacy ? [.. legacy] : await _history.LoadAsync(stored.Incarnation, stored.HistoryPages, stored.HistoryStart);
        return SessionState.FromRecord(stored, history);
    }

    public async Task WriteAsync(SessionState next)
    {
        var pages = await _history.WriteAsync(next.Incarnation, next.History, next.HistoryStart);
        record.State = next.ToRecord(pages);
        await record.SaveAsync(grain, logger);
        _history.Committed();
    }

    public async Task DeleteAsync()
    {
        try
        {
            await record.ClearStateAsync();
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Deleting {GrainId} failed; deactivating so the next call reloads it", grain.GetGrainId());
            grain.DeactivateOnIdle();
            throw new StorageUnavailableException("The grain store could not be written; the session was not deleted.");
        }

        await _history.DeleteAllAsync();
    }
}
