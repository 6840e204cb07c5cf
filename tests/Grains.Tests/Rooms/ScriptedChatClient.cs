using Lectures.Grains.Ai;
using Microsoft.Extensions.AI;

namespace Lectures.Grains.Tests.Rooms;

/// <summary>
/// The product's built-in offline responder, with behaviours chosen by a marker in the agent's persona (the system
/// prompt): <c>[throws]</c> fails, <c>[hangs]</c> never answers and ignores cancellation, <c>[slow]</c> takes
/// <see cref="SlowLatency"/>; anything else answers after <see cref="Latency"/>. Not a stand-in for any protocol.
/// </summary>
public sealed class ScriptedChatClient : IChatClient
{
    public static readonly TimeSpan Latency = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan SlowLatency = TimeSpan.FromSeconds(2.5);

    private readonly BuiltinChatClient _normal = new(Latency, TimeProvider.System);
    private readonly BuiltinChatClient _slow = new(SlowLatency, TimeProvider.System);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        var system = list.FirstOrDefault(m => m.Role == ChatRole.System)?.Text ?? "";
        if (system.Contains("[throws]", StringComparison.Ordinal))
        {
            await Task.Delay(100, cancellationToken);
            throw new InvalidOperationException("the model is down");
        }

        if (system.Contains("[hangs]", StringComparison.Ordinal))
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, CancellationToken.None);
        }

        return await (system.Contains("[slow]", StringComparison.Ordinal) ? _slow : _normal).GetResponseAsync(list, options, cancellationToken);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) => throw new NotSupportedException("the grain specs use non-streaming replies");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
