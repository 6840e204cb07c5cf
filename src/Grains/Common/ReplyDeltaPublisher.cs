using System.Text;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace Lectures.Grains.Common;

/// <summary>
/// Sends a reply's text to its owner's delta stream while it is generated. One publish is in flight at a time and the
/// text that arrives meanwhile goes out as the next piece, so a model's per-token chunks cost at most one stream event
/// per round trip. The pieces are the text as it will be stored: leading whitespace is never sent and trailing
/// whitespace only once more text follows (the stored reply is trimmed), and nothing past the reply's maximum length.
/// Used only from the worker's own scheduler, so it needs no lock. Publishing is a hint and never fails the reply.
/// </summary>
internal sealed class ReplyDeltaPublisher(IAsyncStream<ReplyDelta> stream, string slot, string requestId, int maxChars, ILogger logger)
{
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
    public Task FlushAsync() => _inFlight.IsCompleted && _pending.Length > 0 ? _inFlight = PumpAsync() : _inFlight;

    /// <summary>Whether any piece was handed to the stream.</summary>
    public bool Published => _sent > 0;

    /// <summary>Nothing more is sent (the generation was cancelled or abandoned).</summary>
    public void Close() => _closed = true;

    private async Task PumpAsync()
    {
        while (_pending.Length > 0 && !_closed)
        {
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
                await stream.OnNextAsync(new ReplyDelta(slot, requestId, piece));
            }
            catch (Exception ex)
            {
                logger.LogDebug(ex, "Publishing a delta of {Slot}/{RequestId} to {Stream} failed", slot, requestId, stream.StreamId);
            }
        }
    }
}
