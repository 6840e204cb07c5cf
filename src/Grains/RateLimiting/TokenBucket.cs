namespace Lectures.Grains.RateLimiting;

/// <summary>
/// A token bucket as a value: <see cref="Tokens"/> as of <see cref="UpdatedAt"/>. Refill is computed lazily from the
/// elapsed time (no timer), continuously at <see cref="TokenBucketOptions.Rate"/>, capped at the limit. Stored with a
/// user's session and read on any silo, so it runs on wall-clock time; a step back counts as no time passed.
/// </summary>
[GenerateSerializer, Alias("ratelimits.bucket")]
public sealed class TokenBucket
{
    [Id(0)] public double Tokens { get; set; }
    [Id(1)] public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Takes up to <paramref name="wanted"/> whole tokens; returns how many, and when none, how long until one.</summary>
    public int Take(TokenBucketOptions options, DateTimeOffset now, int wanted, out TimeSpan retryAfter)
    {
        Refill(options, now);
        var granted = (int)Math.Min(wanted, Math.Floor(Tokens));
        Tokens -= granted;
        retryAfter = granted > 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((1 - Tokens) / options.Rate);
        return granted;
    }

    public bool TryTake(TokenBucketOptions options, DateTimeOffset now, out TimeSpan retryAfter) => Take(options, now, 1, out retryAfter) == 1;

    private void Refill(TokenBucketOptions options, DateTimeOffset now)
    {
        if (UpdatedAt == default)
        {
            // A new bucket starts full.
            Tokens = options.TokenLimit;
        }
        else if (now > UpdatedAt)
        {
            Tokens = Math.Min(options.TokenLimit, Tokens + (now - UpdatedAt).TotalSeconds * options.Rate);
        }

        Tokens = Math.Min(Tokens, options.TokenLimit);
        // A step back of the wall clock counts as no time passed, and time counts again from the new reading: keeping
        // the later reading would refill nothing until the clock caught up, refusing the user for the length of the step.
        UpdatedAt = now;
    }
}
