using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Lectures.Grains.Lectures;

/// <summary>
/// The snapshots of a run's sessions: each is written once, when its session starts, as a record of its own in the
/// run grain's store (state name <c>session-{sessionId}</c>, beside the run's record) and never rewritten, so the
/// record that every command rewrites holds no topic contents. Store failures are <see cref="StorageUnavailableException"/>.
/// </summary>
public sealed class SessionSnapshots(IGrainStorage store, GrainId run, ILogger logger)
{
    public async Task WriteAsync(string sessionId, SessionSnapshotRecord snapshot)
    {
        try
        {
            await store.WriteStateAsync(Name(sessionId), run, new GrainState<SessionSnapshotRecord>(snapshot));
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Writing the snapshot of session {SessionId} of {GrainId} failed", sessionId, run);
            throw new StorageUnavailableException("The grain store could not be written; the session was not started.");
        }
    }

    public async Task<SessionSnapshotRecord> ReadAsync(string sessionId)
    {
        var snapshot = new GrainState<SessionSnapshotRecord>(new SessionSnapshotRecord());
        try
        {
            await store.ReadStateAsync(Name(sessionId), run, snapshot);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Reading the snapshot of session {SessionId} of {GrainId} failed", sessionId, run);
            throw new StorageUnavailableException("The grain store could not be read.");
        }

        return snapshot.State ?? new SessionSnapshotRecord();
    }

    private static string Name(string sessionId) => $"session-{sessionId}";
}
