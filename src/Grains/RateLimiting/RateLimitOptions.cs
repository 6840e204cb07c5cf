using System.ComponentModel.DataAnnotations;

namespace Lectures.Grains.RateLimiting;

/// <summary>Bound from <c>RateLimits</c> (<c>RateLimits:User</c>, <c>RateLimits:Global</c>) and validated at start-up.</summary>
public sealed class RateLimitOptions : IValidatableObject
{
    public const string Section = "RateLimits";

    /// <summary>
    /// Service key of the clock the buckets run on: the silo's own clock, under a key of its own so a test can drive
    /// the buckets' time without moving every other clock in the silo.
    /// </summary>
    public const string Clock = "ratelimits.clock";

    /// <summary>Per user: 20 tokens, 1 more per second.</summary>
    public TokenBucketOptions User { get; set; } = new() { TokenLimit = 20, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromSeconds(1) };

    /// <summary>For the whole cluster: 100 tokens, 10 more per second.</summary>
    public TokenBucketOptions Global { get; set; } = new() { TokenLimit = 100, TokensPerPeriod = 10, ReplenishmentPeriod = TimeSpan.FromSeconds(1) };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        User.Validate($"{Section}:User").Concat(Global.Validate($"{Section}:Global"));
}

/// <summary>A token bucket's settings, in the terms of <c>System.Threading.RateLimiting.TokenBucketRateLimiterOptions</c>.</summary>
public sealed class TokenBucketOptions
{
    /// <summary>False turns the bucket off (every message admitted): for measuring what the limiter costs.</summary>
    public bool Enabled { get; set; } = true;

    public int TokenLimit { get; set; }

    public int TokensPerPeriod { get; set; }

    public TimeSpan ReplenishmentPeriod { get; set; }

    /// <summary>Tokens added per second.</summary>
    public double Rate => TokensPerPeriod / ReplenishmentPeriod.TotalSeconds;

    public IEnumerable<ValidationResult> Validate(string section)
    {
        if (TokenLimit is < 1 or > 100_000_000)
        {
            yield return new($"{section}:TokenLimit must be from 1 to 100000000.", [nameof(TokenLimit)]);
        }

        if (TokensPerPeriod is < 1 or > 100_000_000)
        {
            yield return new($"{section}:TokensPerPeriod must be from 1 to 100000000.", [nameof(TokensPerPeriod)]);
        }

        if (ReplenishmentPeriod < TimeSpan.FromMilliseconds(1) || ReplenishmentPeriod > TimeSpan.FromDays(1))
        {
            yield return new($"{section}:ReplenishmentPeriod must be from 00:00:00.001 to 1.00:00:00.", [nameof(ReplenishmentPeriod)]);
        }
    }
}
