using System.Diagnostics;
using Lectures.Grains.Ai;
using Microsoft.Extensions.AI;

namespace Lectures.Grains.Tests.Ai;

// Times pieces against the wall clock: alone, so the other tests' load on the thread pool cannot hold its first piece
// back (a fresh-clone CI run saw it 1.07 s late while the other tests of this assembly ran in parallel).
[Collection(TimingCollection.Name)]
public sealed class BuiltinChatClientTests
{
    [Fact]
    public async Task A_streamed_reply_comes_in_pieces_spread_over_the_latency_that_join_to_the_unstreamed_reply()
    {
        var latency = TimeSpan.FromMilliseconds(800);
        var client = new BuiltinChatClient(latency, TimeProvider.System);
        List<ChatMessage> prompt = [new(ChatRole.System, "A patient tutor\nmore"), new(ChatRole.User, "p1: what is preload, and why does it matter?")];

        var clock = Stopwatch.StartNew();
        var pieces = new List<(string Text, TimeSpan At)>();
        await foreach (var update in client.GetStreamingResponseAsync(prompt))
        {
            pieces.Add((update.Text, clock.Elapsed));
        }

        var whole = await client.GetResponseAsync(prompt);
        Assert.True(pieces.Count > 5, $"{pieces.Count} pieces");
        Assert.Equal(whole.Text, string.Concat(pieces.Select(p => p.Text)));
        // The first piece well before the latency, the last at it: the reply grows over the latency.
        Assert.True(pieces[0].At < latency / 2, $"first piece after {pieces[0].At}");
        Assert.True(pieces[^1].At >= latency - TimeSpan.FromMilliseconds(50), $"last piece after {pieces[^1].At}");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "wall-clock timing";
}
