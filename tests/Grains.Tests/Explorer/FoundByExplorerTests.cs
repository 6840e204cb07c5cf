using Lectures.Grains.Sessions;
using Lectures.Grains.Tests.Infrastructure;
using Lectures.Grains.Tests.Rooms;

namespace Lectures.Grains.Tests.Explorer;

/// <summary>Defects the schedule explorer found, each pinned by a test of its own (the seed that found it is named).</summary>
[Collection(ExplorerCollection.Name)]
public sealed class FoundByExplorerTests(ExplorerFixture fixture)
{
    /// <summary>Session seed 3: a cancel promotes the next queued request while the cancelled reply's model call is still unwinding.</summary>
    [Fact]
    public async Task Cancelling_a_reply_never_lets_the_next_queued_request_call_the_model_beside_it()
    {
        for (var iteration = 0; iteration < 10; iteration++)
        {
            var user = Keys.New("cancel-promotes");
            var session = fixture.Queue.Client.GetGrain<IUserSessionGrain>(user);
            var first = await session.SendAsync($"@{user} first [slow]");
            var second = await session.SendAsync($"@{user} second");
            Assert.Equal(RequestStatus.Queued, second.Status);
            await Eventually.Poll(() => Task.FromResult(ScriptedChatClient.TotalCalls(ScriptedChatClient.TaggedKey(ExplorerFixture.SessionPersona, user))),
                calls => calls == 1, TimeSpan.FromSeconds(10), "the first reply is being generated");

            Assert.Equal(first.RequestId, (await session.CancelAsync()).RequestId);
            Assert.Equal(RequestStatus.Completed, (await session.WaitAsync(second.RequestId!, TimeSpan.FromSeconds(20)))?.Status);

            Assert.Equal(1, ScriptedChatClient.MaxConcurrentCalls(ScriptedChatClient.TaggedKey(ExplorerFixture.SessionPersona, user)));
        }
    }
}
