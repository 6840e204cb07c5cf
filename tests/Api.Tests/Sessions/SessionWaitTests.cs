using System.Net;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Sessions;

/// <summary>Wait-mode messages that wait in a queue (issue 19, 3.3) and a full queue's Retry-After (3.7).</summary>
public sealed class SessionWaitTests
{
    [Fact]
    public async Task A_wait_mode_message_that_waits_in_the_queue_longer_than_the_edge_timeout_is_answered_with_its_reply_not_503()
    {
        // Seven messages of 3.5 s each, one after another: the last is answered after about 25 s, longer than this
        // host's edge request timeout (5 s, raised to ResponseTimeout + 15 s = 20 s for the message route before),
        // and each well inside its 5 s deadline.
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Sessions:BusyPolicy"] = "Queue",
            ["Sessions:MaxQueue"] = "6",
            ["Sessions:ResponseTimeout"] = "00:00:05",
            ["Sessions:BuiltinLatency"] = "00:00:03.500",
            ["Api:Edge:RequestTimeout"] = "00:00:05",
        });
        var user = Ids.New("long-queue");
        // One in flight and six queued (MaxQueue): all seven wait for their replies.
        var responses = Enumerable.Range(0, 7).Select(i => host.Http.PostJson($"/api/users/{user}/messages", new { text = $"question {i}" })).ToList();

        foreach (var response in responses)
        {
            var reply = await (await response).Expect(HttpStatusCode.OK);
            Assert.Equal("completed", reply.GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task A_full_queue_answers_429_queue_full_with_Retry_After()
    {
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Sessions:BusyPolicy"] = "Queue",
            ["Sessions:MaxQueue"] = "1",
            ["Sessions:BuiltinLatency"] = "00:00:05",
        });
        var user = Ids.New("full");
        await (await host.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = "in flight" })).Expect(HttpStatusCode.Accepted);
        await (await host.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = "queued" })).Expect(HttpStatusCode.Accepted);

        var full = await host.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = "one too many" });

        await full.ExpectProblem(HttpStatusCode.TooManyRequests, "session.queue_full");
        var retryAfter = full.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    }
}
