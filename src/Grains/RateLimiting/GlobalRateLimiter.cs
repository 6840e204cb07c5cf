using Lectures.Grains.Common;
using Lectures.Grains.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.RateLimiting;

/// <summary>
/// This silo's share of the cluster-wide bucket. It admits messages from a batch of tokens leased from
/// <see cref="IGlobalRateLimiterGrain"/>, so the single global grain sees a few calls per second per silo, not one per
/// message. Every admitted message spends a token that was taken out of the global bucket first, so the cluster never
/// admits more messages than the bucket released. A batch is sized to about <see cref="LeaseLifetime"/> of this
/// silo's recent demand and the next one is fetched in the background when the batch runs low, so callers rarely wait
/// for the global grain. A silo holds at most its current lease, at most a tenth of the bucket (so silos share it and a
/// burst after a quiet spell gets at most that on top of the bucket), and drops a lease's tokens
/// <see cref="LeaseLifetime"/> after it arrived (never spent late), so a token is spent within about a second of
/// leaving the bucket.
/// </summary>
public sealed class GlobalRateLimiter(
    IGrainFactory grains,
    IOptions<RateLimitOptions> options,
    [FromKeyedServices(RateLimitOptions.Clock)] TimeProvider clock,
    ILogger<GlobalRateLimiter> logger)
{
    private static readonly TimeSpan LeaseLifetime = TimeSpan.FromMilliseconds(500);

    private readonly Lock _lock = new();
    private readonly TokenBucketOptions _options = options.Value.Global;
    // The newest lease, and the rest of the one before it: a lease fetched ahead keeps its own expiry, so the rest of
    // the previous one is spent first and dropped when it expires, never renewed.
    // Times are monotonic timestamps (TimeProvider.GetTimestamp): a step of the wall clock must not stretch a lease or
    // a refusal.
    private int _tokens;
    private long _leaseExpires = long.MinValue;
    private int _older;
    private long _olderExpires = long.MinValue;
    private int _batch = 1;
    private long _emptyUntil = long.MinValue;
    private long? _lastLease;
    private long _consumed;
    private Task? _leasing;

    /// <summary>Tokens leased from the global grain so far (for tests and diagnostics).</summary>
    public long Leased { get; private set; }

    /// <summary>Lease calls made to the global grain so far, granted or not (for tests and diagnostics).</summary>
    public long LeaseCalls { get; private set; }

    /// <summary>Completes when no lease is in flight (for tests: a lease fetched ahead lands in the background).</summary>
    public Task LeaseSettled()
    {
        lock (_lock)
        {
            return _leasing?.ContinueWith(_ => { }, TaskScheduler.Default) ?? Task.CompletedTask;
        }
    }

    /// <summary>True when a message may pass; otherwise how long until the bucket has a token again.</summary>
    public async ValueTask<(bool Admitted, TimeSpan RetryAfter)> TryAcquireAsync()
    {
        if (!_options.Enabled)
        {
            return (true, TimeSpan.Zero);
        }

        // Each round takes a token, learns that the bucket is empty, or waits for a lease: it always ends.
        while (true)
        {
            Task leasing;
            lock (_lock)
            {
                var now = clock.GetTimestamp();
                if (Held(now) > 0)
                {
                    if (now < _olderExpires && _older > 0)
                    {
                        _older--;
                    }
                    else
                    {
                        _tokens--;
                    }

                    _consumed++;
                    if (_leasing is null && (Held(now) <= _batch / 4 || now > _leaseExpires - Ticks(LeaseLifetime / 4)))
                    {
                        // Running low or old: fetch the next batch while this one is still being spent. Nobody awaits
                        // it, so its failure (already logged) is observed here.
                        _leasing = StartLease(now);
                        _leasing?.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    }

                    return (true, TimeSpan.Zero);
                }

                if (now < _emptyUntil)
                {
                    return (false, clock.GetElapsedTime(now, _emptyUntil));
                }

                // Holding nothing, the lease wants at least one token: never null here.
                leasing = _leasing ??= StartLease(now)!;
            }

            await leasing;
        }
    }

    // A tenth of the bucket at most, so silos share it fairly.
    private int MaxBatch => Math.Max(1, _options.TokenLimit / 10);

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * clock.TimestampFrequency);

    /// <summary>Called under the lock: the unexpired tokens this silo holds.</summary>
    private int Held(long now) => (now < _olderExpires ? _older : 0) + (now < _leaseExpires ? _tokens : 0);

    /// <summary>
    /// Called under the lock: sizes the batch from the demand seen since the last lease and asks for what tops the
    /// tokens held up to it, never beyond <see cref="MaxBatch"/>; null when the silo already holds that many.
    /// </summary>
    private Task? StartLease(long now)
    {
        var elapsed = _lastLease is { } last ? clock.GetElapsedTime(last, now) : LeaseLifetime;
        var demand = _consumed / Math.Max(elapsed.TotalSeconds, 0.001) * LeaseLifetime.TotalSeconds;
        _batch = (int)Math.Clamp(Math.Ceiling(demand * 1.5), 1, MaxBatch);
        var held = Held(now);
        // At least one token when the lease is old, so a silo with a steady trickle never waits for the grain.
        var wanted = Math.Min(Math.Max(_batch - held, 1), MaxBatch - held);
        if (wanted <= 0)
        {
            return null;
        }

        _consumed = 0;
        _lastLease = now;
        return LeaseAsync(wanted);
    }

    private async Task LeaseAsync(int wanted)
    {
        // Yield first, so the lease is published in _leasing before the finally below can clear it.
        await Task.Yield();
        try
        {
            DomainMetrics.GlobalLeases.Add(1);
            lock (_lock)
            {
                LeaseCalls++;
            }

            var lease = await grains.GetGrain<IGlobalRateLimiterGrain>(IGlobalRateLimiterGrain.Key).LeaseAsync(wanted);
            lock (_lock)
            {
                var at = clock.GetTimestamp();
                Leased += lease.Granted;
                if (lease.Granted > 0)
                {
                    // The rest of the current lease keeps its expiry; anything older has expired or is dropped.
                    (_older, _olderExpires) = at < _leaseExpires ? (_tokens, _leaseExpires) : (0, long.MinValue);
                    _tokens = lease.Granted;
                    _leaseExpires = at + Ticks(LeaseLifetime);
                    _emptyUntil = long.MinValue;
                }
                else
                {
                    _emptyUntil = at + Ticks(lease.RetryAfter);
                }
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Leasing global rate-limit tokens failed");
            throw;
        }
        finally
        {
            lock (_lock)
            {
                _leasing = null;
            }
        }
    }
}
