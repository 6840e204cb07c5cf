using System.Collections.Concurrent;
using Lectures.Grains.Ai;
using Microsoft.Extensions.AI;

namespace Lectures.Grains.Tests.Rooms;

/// <summary>
/// The product's built-in offline responder, with behaviours chosen by a marker in the agent's persona (the system
/// prompt) or in the last message: <c>[throws]</c> fails, <c>[hangs]</c> never answers and ignores cancellation,
/// <c>[slow]</c> takes <see cref="SlowLatency"/>; anything else answers after <see cref="Latency"/>. Calls are counted
/// per persona (the system prompt's first line); a last message that starts with an <c>@tag</c> (a session's messages
/// carry their user's, as every session shares one persona) is counted under the persona and its tag. Not a stand-in
/// for any protocol.
/// </summary>
public sealed class ScriptedChatClient : IChatClient
{
    public static readonly TimeSpan Latency = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan SlowLatency = TimeSpan.FromSeconds(2.5);

    // Calls in progress and the most seen at once, per persona (the system prompt's first line), across both silos.
    private static readonly ConcurrentDictionary<string, int[]> Calls = new();

    private readonly BuiltinChatClient _normal = new(Latency, TimeProvider.System);
    private readonly BuiltinChatClient _slow = new(SlowLatency, TimeProvider.System);

    /// <summary>The most calls that were ever in progress at once for <paramref name="persona"/>.</summary>
    public static int MaxConcurrentCalls(string persona) => Calls.TryGetValue(persona, out var c) ? Volatile.Read(ref c[1]) : 0;

    /// <summary>How many calls were made for <paramref name="persona"/>.</summary>
    public static int TotalCalls(string persona) => Calls.TryGetValue(persona, out var c) ? Volatile.Read(ref c[2]) : 0;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        var system = list.FirstOrDefault(m => m.Role == ChatRole.System)?.Text ?? "";
        var last = list.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var counts = Calls.GetOrAdd(CountKey(system, last), _ => new int[3]);
        var now = Interlocked.Increment(ref counts[0]);
        Interlocked.Increment(ref counts[2]);
        for (var max = Volatile.Read(ref counts[1]); now > max && Interlocked.CompareExchange(ref counts[1], now, max) != max; max = Volatile.Read(ref counts[1]))
        {
        }

        try
        {
            // Markers steer it from the persona or the last message.
            return await RespondAsync(list, $"{system}\n{last}", options, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref counts[0]);
        }
    }

    /// <summary>The key <see cref="MaxConcurrentCalls"/> takes for calls of <paramref name="persona"/> whose last message starts with <c>@<paramref name="tag"/></c>.</summary>
    public static string TaggedKey(string persona, string tag) => $"{persona} @{tag}";

    private static string CountKey(string system, string last)
    {
        var persona = system.Split('\n')[0];
        return last.StartsWith('@') ? TaggedKey(persona, last[1..].Split(' ')[0]) : persona;
    }

    private async Task<ChatResponse> RespondAsync(List<ChatMessage> list, string markers, ChatOptions? options, CancellationToken cancellationToken)
    {
        if (markers.Contains("[throws]", StringComparison.Ordinal))
        {
            await Task.Delay(100, cancellationToken);
            throw new InvalidOperationException("the model is down");
        }

        if (markers.Contains("[hangs]", StringComparison.Ordinal))
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, CancellationToken.None);
        }

        return await (markers.Contains("[slow]", StringComparison.Ordinal) ? _slow : _normal).GetResponseAsync(list, options, cancellationToken);
    }

    /// <summary>The same script, the reply in its updates (streaming is the product's default).</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var update in (await GetResponseAsync(messages, options, cancellationToken)).ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
