using System.Text;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace Lectures.Grains.Common;

/// <summary>
/// Sends a reply's text to its owner's delta stream while it is generated. One publish is in flight at a time, at most
/// one every <see cref="Interval"/>, and the text that arrives meanwhile goes out as the next piece: a model's
/// per-token chunks cost at most ten stream events a second, each of which every watcher of the owner is written. The pieces are the text as it will be stored: leading whitespace is never sent and trailing
/// whitespace only once more text follows (the stored reply is trimmed), and nothing past the reply's maximum length.
/// Used only from the worker's own scheduler, so it needs no lock. Publishing is a hint and never fails the reply.
/// </summary>
internal sealed class ReplyDeltaPublisher(IAsyncStream<ReplyDelta> stream, string slot, string requestId, int maxChars, TimeProvider clock, ILogger logger)
{
    /// <summary>
    /// Measured with tests/bench-deltas.sh: per-token events (24 a second) to 500 watchers saturated two cores and made
    /// the deltas lag behind the stored message; ten a second still reads as text growing word by word.
    /// </summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private long _lastPublished;

    private readonly StringBuilder _pending = new();
    private string _heldWhitespace = "";
    private bool _started;
    private int _sent;
    private bool _closed;
    private Task _inFlight = Task.CompletedTask;

    public void Add(string? text)
    {
        if (_closed || string.IsNullOrEmpty(text))
        {
            return;
        }

        if (!_started)
        {
            text = text.TrimStart();
            if (text.Length == 0)
            {
                return;
            }

            _started = true;
        }

        var kept = text.TrimEnd();
        if (kept.Length == 0)
        {
            _heldWhitespace += text;
            return;
        }

        _pending.Append(_heldWhitespace).Append(kept);
        _heldWhitespace = text[kept.Length..];
        if (_inFlight.IsCompleted)
        {
            _inFlight = PumpAsync();
        }
    }

    /// <summary>Completes when everything added so far has been handed to the stream.</summary>
    public Task FlushAsync()
    {
        // The reply is complete: what is left goes out at once, not after the interval.
        _flushing = true;
        return _inFlight.IsCompleted && _pending.Length > 0 ? _inFlight = PumpAsync() : _inFlight;
    }

    private bool _flushing;

    /// <summary>Whether any piece was handed to the stream.</summary>
    public bool Published => _sent > 0;

    /// <summary>Nothing more is sent (the generation was cancelled or abandoned).</summary>
    public void Close() => _closed = true;

    private async Task PumpAsync()
    {
        while (_pending.Length > 0 && !_closed)
        {
            var wait = Interval - clock.GetElapsedTime(_lastPublished);
            if (_lastPublished != 0 && wait > TimeSpan.Zero && !_flushing)
            {
                await Task.Delay(wait, clock);
                continue;
            }

            var piece = _pending.ToString();
            _pending.Clear();
            if (_sent + piece.Length >= maxChars)
            {
                // The stored reply will be cut here; what follows would never be stored.
                piece = piece[..Math.Max(0, maxChars - _sent)];
                _closed = true;
            }

            _sent += piece.Length;
            if (piece.Length == 0)
            {
                return;
            }

            try
            {
                _lastPublished = clock.GetTimestamp();
                await stream.OnNextAsync(new ReplyDelta(slot, requestId, piece));
            }
            catch (Exception ex)
            {
                logger.LogDebug(ex, "Publishing a delta of {Slot}/{RequestId} to {Stream} failed", slot, requestId, stream.StreamId);
            }
        }
    }
}
