namespace Lectures.Grains.Sessions;

/// <summary>
/// The cluster-wide token bucket (one activation, key <see cref="Key"/>). Silos lease small batches of tokens from it
/// and admit messages from their batch, so most messages never call it; a token is taken from the bucket before it is
/// admitted anywhere, so the cluster never admits more than the bucket allows.
/// </summary>
public interface IGlobalRateLimiterGrain : IGrainWithStringKey
{
    public const string Key = "global";

    /// <summary>Takes up to <paramref name="wanted"/> tokens; when none are left, says how long until the next one.</summary>
    Task<TokenLease> LeaseAsync(int wanted);
}

[GenerateSerializer, Immutable, Alias("ratelimits.lease")]
public sealed record TokenLease([property: Id(0)] int Granted, [property: Id(1)] TimeSpan RetryAfter);
