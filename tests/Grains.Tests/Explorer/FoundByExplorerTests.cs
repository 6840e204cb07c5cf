using Lectures.Grains.Common;
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

    /// <summary>
    /// Session seeds 20, 41, 47 and 60 of 1-60: a wait-mode caller's long wait kept the session whose write had failed
    /// from being replaced (Orleans deactivates an activation once no call is running), so it refused the reply's report
    /// until the report's deadline had passed, and the reply, generated in time, ended as failed.
    /// </summary>
    [Fact]
    public async Task A_reply_whose_report_write_fails_is_stored_while_a_wait_mode_caller_waits()
    {
        var user = Keys.New("waited-report");
        var session = fixture.Drop.Client.GetGrain<IUserSessionGrain>(user);
        var sent = await session.SendAsync($"@{user} a question");
        // The reply comes after a second; its report's first write fails.
        WriteGate.Of(session).FailNext();

        var outcome = await WaitLikeTheApiAsync(session, sent.RequestId!);

        Assert.Equal(RequestStatus.Completed, outcome.Status);
    }

    /// <summary>As the message route waits: slices of 20 s, asked again after a null (the session was replaced).</summary>
    private static async Task<RequestOutcome> WaitLikeTheApiAsync(IUserSessionGrain session, string requestId)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (DateTime.UtcNow < until)
        {
            try
            {
                if (await session.WaitAsync(requestId, TimeSpan.FromSeconds(20)) is { } outcome)
                {
                    return outcome;
                }
            }
            catch (StorageUnavailableException)
            {
                await Task.Delay(100);
            }
        }

        throw new Xunit.Sdk.XunitException($"{requestId} did not end within 40 s");
    }
}
