using Lectures.Grains.Sessions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.RateLimiting;

/// <summary>
/// This silo's share of the cluster-wide bucket. It admits messages from a small batch of tokens leased from
/// <see cref="IGlobalRateLimiterGrain"/>, so the single global grain sees one call per batch, not one per message.
/// Every admitted message spends a token that was taken out of the global bucket first, so the cluster never admits
/// more than the bucket allows. Leased tokens that sit unused longer than <see cref="LeaseLifetime"/> are dropped
/// (never spent), so an idle silo does not hoard capacity. One lease call is in flight at a time per silo.
/// </summary>
public sealed class GlobalRateLimiter(IGrainFactory grains, IOptions<RateLimitOptions> options, TimeProvider clock, ILogger<GlobalRateLimiter> logger)
{
    private static readonly TimeSpan LeaseLifetime = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly TokenBucketOptions _options = options.Value.Global;
    private int _tokens;
    private DateTimeOffset _leaseExpires;
    private DateTimeOffset _emptyUntil;
    // Tokens asked for per lease: doubles while batches run out before they expire, halves when they expire unused.
    private int _batch = 1;
    private Task<TokenLease>? _leasing;

    /// <summary>Tokens leased from the global grain so far (for tests and diagnostics).</summary>
    public long Leased { get; private set; }

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
            Task<TokenLease> leasing;
            lock (_lock)
            {
                var now = clock.GetUtcNow();
                if (_tokens > 0 && now < _leaseExpires)
                {
                    _tokens--;
                    return (true, TimeSpan.Zero);
                }

                if (now < _emptyUntil)
                {
                    return (false, _emptyUntil - now);
                }

                if (_leasing is null)
                {
                    _batch = now < _leaseExpires ? Math.Min(_batch * 2, MaxBatch) : Math.Max(1, _tokens > 0 ? _batch / 2 : _batch);
                    _tokens = 0;
                    _leasing = LeaseAsync(_batch);
                }

                leasing = _leasing;
            }

            await leasing;
        }
    }

    // A tenth of the bucket at most, so silos share it fairly; grows with demand so the global grain is called rarely.
    private int MaxBatch => Math.Max(1, _options.TokenLimit / 10);

    private async Task<TokenLease> LeaseAsync(int wanted)
    {
        // Yield first, so the lease is published in _leasing before the finally below can clear it.
        await Task.Yield();
        try
        {
            var lease = await grains.GetGrain<IGlobalRateLimiterGrain>(IGlobalRateLimiterGrain.Key).LeaseAsync(wanted);
            lock (_lock)
            {
                var now = clock.GetUtcNow();
                Leased += lease.Granted;
                _tokens = lease.Granted;
                _leaseExpires = now + LeaseLifetime;
                _emptyUntil = lease.Granted == 0 ? now + lease.RetryAfter : DateTimeOffset.MinValue;
            }

            return lease;
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
