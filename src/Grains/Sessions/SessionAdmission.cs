using Lectures.Grains.Common;
using Lectures.Grains.RateLimiting;

namespace Lectures.Grains.Sessions;

/// <summary>
/// Whether a message is admitted: rate limits first, so every message costs a token, also one refused as busy (the
/// user's bucket, stored with the session on wall-clock time, then the cluster-wide one, <see cref="GlobalRateLimiter"/>),
/// then the busy policy. Decided on the session as written: the grain applies it inside a non-reentrant turn.
/// </summary>
public sealed class SessionAdmission(SessionOptions options, RateLimitOptions limits, GlobalRateLimiter global, TimeProvider clock)
{
    /// <summary>
    /// The state with the user's token taken (keep it: the token is spent whatever the answer), and the refusal: null
    /// when admitted, a result, or for a busy session (Drop) the <see cref="SessionErrors.Busy"/> conflict to throw.
    /// </summary>
    public async ValueTask<(SessionState State, SendResult? Refusal, DomainException? Busy)> AdmitAsync(SessionState s)
    {
        var (next, refusal) = await RateLimitAsync(s);
        if (refusal is not null)
        {
            return (next, refusal, null);
        }

        switch (SessionRules.Admit(next, options))
        {
            case Admission.Busy:
                DomainMetrics.SessionBusyRefusals.Add(1, new KeyValuePair<string, object?>("reason", "busy"));
                return (next, null, DomainException.Conflict(SessionErrors.Busy, "Another request of this user is in flight.",
                    new Dictionary<string, string> { ["activeRequestId"] = next.ActiveRequestId ?? "" }));
            case Admission.QueueFull:
                DomainMetrics.SessionBusyRefusals.Add(1, new KeyValuePair<string, object?>("reason", "queue_full"));
                // The request in flight ends within ResponseTimeout and frees a place.
                return (next, new SendResult(SendOutcome.QueueFull, null, default, 0, options.ResponseTimeout), null);
            default:
                return (next, null, null);
        }
    }

    private async ValueTask<(SessionState State, SendResult? Refusal)> RateLimitAsync(SessionState s)
    {
        if (limits.User.Enabled)
        {
            (s, var admitted, var retryAfter) = SessionRules.TakeToken(s, limits.User, clock.GetUtcNow());
            if (!admitted)
            {
                DomainMetrics.RateLimitRejections.Add(1, new KeyValuePair<string, object?>("scope", "user"));
                return (s, new SendResult(SendOutcome.RateLimitedUser, null, default, 0, retryAfter));
            }
        }

        var (globalAdmitted, globalRetry) = await global.TryAcquireAsync();
        if (globalAdmitted)
        {
            return (s, null);
        }

        DomainMetrics.RateLimitRejections.Add(1, new KeyValuePair<string, object?>("scope", "global"));
        return (s, new SendResult(SendOutcome.RateLimitedGlobal, null, default, 0, globalRetry));
    }
}
