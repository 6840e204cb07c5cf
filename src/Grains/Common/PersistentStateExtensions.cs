using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Common;

public static class PersistentStateExtensions
{
    /// <summary>
    /// Writes the state or fails the request with <see cref="StorageUnavailableException"/> (503).
    /// On any failure, including an ETag conflict, the activation is deactivated: its in-memory state may hold
    /// the change that was not written, and the next call must reload what is really stored instead of
    /// acknowledging or overwriting it.
    /// </summary>
    public static async Task SaveAsync<T>(this IPersistentState<T> state, Grain grain, ILogger logger)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Writing the state of {GrainId} failed; deactivating so the next call reloads it", grain.GetGrainId());
            grain.DeactivateOnIdle();
            throw new StorageUnavailableException("The grain store could not be written; the change was not acknowledged.");
        }
    }
}
