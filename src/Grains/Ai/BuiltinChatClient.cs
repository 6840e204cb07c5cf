using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Lectures.Grains.Ai;

/// <summary>
/// The offline responder, the default so the product runs with no network: after <c>latency</c> it answers
/// deterministically, in the voice of the system prompt's first line (the persona), quoting what it answers.
/// It is a real <see cref="IChatClient"/>, so everything around it (timeouts, cancellation, context) is the same as
/// with a model.
/// </summary>
public sealed class BuiltinChatClient(TimeSpan latency, TimeProvider clock) : IChatClient
{
    private static readonly string[] Openers =
        ["Good point", "Interesting", "Let me think about that", "I see", "Fair question", "Here is my take"];

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        await Task.Delay(latency, clock, cancellationToken);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, Compose(list))) { ModelId = "builtin" };
    }

    /// <summary>
    /// The same reply as <see cref="GetResponseAsync"/>, in pieces (a few words each) spread evenly over the latency,
    /// the last at the latency, as a model streams it.
    /// </summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var pieces = Pieces(Compose(list));
        var started = clock.GetTimestamp();
        for (var i = 0; i < pieces.Count; i++)
        {
            var wait = latency * (i + 1) / pieces.Count - clock.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, clock, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, pieces[i]) { ModelId = "builtin" };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    private static string Compose(IReadOnlyList<ChatMessage> messages)
    {
        var persona = messages.FirstOrDefault(m => m.Role == ChatRole.System)?.Text.Split('\n')[0].Trim();
        var question = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text.Trim() ?? "";
        if (question.Length > 200)
        {
            question = question[..200] + "...";
        }

        // Deterministic: the same prompt always gets the same answer (string.GetHashCode is randomised per process).
        var opener = Openers[(int)(StableHash(persona + "\n" + question) % (uint)Openers.Length)];
        var voice = string.IsNullOrEmpty(persona) ? "" : $" ({persona})";
        return $"{opener}{voice}: you said \"{question}\". That is what I am answering, offline and with {messages.Count} messages of context.";
    }

    /// <summary>The text cut after whitespace into at most <see cref="MaxPieces"/> pieces of whole words; joined, the text.</summary>
    internal static List<string> Pieces(string text)
    {
        var words = System.Text.RegularExpressions.Regex.Matches(text, @"\S+\s*").Select(m => m.Value).ToList();
        var perPiece = Math.Max(1, (words.Count + MaxPieces - 1) / MaxPieces);
        return words.Chunk(perPiece).Select(chunk => string.Concat(chunk)).ToList();
    }

    private const int MaxPieces = 24;

    private static uint StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
