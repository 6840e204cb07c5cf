using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Sessions;

[Collection(SessionCollection.Name)]
public sealed class SessionApiTests(SessionFixture fixture)
{
    private HttpClient Http => fixture.Http;

    private Task<HttpResponseMessage> Send(string userId, string text, bool? wait = null) =>
        Http.PostJson($"/api/users/{userId}/messages{(wait is { } w ? $"?wait={(w ? "true" : "false")}" : "")}", new { text });

    private async Task<JsonElement> Session(string userId) => await (await Http.GetAsync($"/api/users/{userId}/session")).Expect(HttpStatusCode.OK);

    [Fact]
    public async Task The_reply_comes_from_the_OpenAI_endpoint_and_the_second_request_carries_the_first_exchange()
    {
        var user = Ids.New("openai");
        var marker = Guid.NewGuid().ToString("N");
        var first = await (await Send(user, $"what is preload {marker}")).Expect(HttpStatusCode.OK);
        Assert.Equal("completed", first.GetProperty("status").GetString());
        Assert.StartsWith("fake reply to \"what is preload", first.GetProperty("reply").GetString());

        var second = await (await Send(user, $"and afterload {marker}")).Expect(HttpStatusCode.OK);
        var prompt = Assert.Single(fixture.Model.RequestsContaining($"and afterload {marker}"));
        var roles = prompt.Select(m => m.GetProperty("role").GetString()).ToList();
        Assert.Equal(["system", "user", "assistant", "user"], roles);
        Assert.Equal($"what is preload {marker}", prompt[1].GetProperty("content").GetString());
        Assert.Equal(first.GetProperty("reply").GetString(), prompt[2].GetProperty("content").GetString());
        Assert.Equal("completed", second.GetProperty("status").GetString());

        var session = await Session(user);
        Assert.Equal("idle", session.GetProperty("status").GetString());
        Assert.Equal(4, session.GetProperty("history").GetArrayLength());
    }

    [Fact]
    public async Task Queue_mode_processes_one_queues_three_refuses_the_rest_and_answers_the_four_in_order()
    {
        var user = Ids.New("queue");
        // The first one is in flight (1.5 s) before the other nine race for the three queue places.
        var firstResponse = await Send(user, "[delay] question 0", wait: false);
        var responses = await Task.WhenAll(Enumerable.Range(1, 9).Select(i => Send(user, $"[delay] question {i}", wait: false)));
        var accepted = new List<JsonElement> { await firstResponse.Expect(HttpStatusCode.Accepted) };
        var full = 0;
        foreach (var response in responses)
        {
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.Add(await response.Expect(HttpStatusCode.Accepted));
            }
            else
            {
                await response.ExpectProblem(HttpStatusCode.TooManyRequests, "session.queue_full");
                full++;
            }
        }

        Assert.Equal(6, full);
        Assert.Single(accepted, a => a.GetProperty("status").GetString() == "processing");
        var queued = accepted.Where(a => a.GetProperty("status").GetString() == "queued").ToList();
        Assert.Equal([1, 2, 3], queued.Select(q => q.GetProperty("position").GetInt32()).Order());
        var order = accepted.OrderBy(a => a.GetProperty("position").GetInt32()).Select(a => a.GetProperty("requestId").GetString()).ToList();

        var done = await Eventually.Poll(() => Session(user),
            s => s.GetProperty("status").GetString() == "idle" && s.GetProperty("queued").GetInt32() == 0, TimeSpan.FromSeconds(30), "all four answered");
        var history = done.GetProperty("history").EnumerateArray().ToList();
        var replies = history.Where(e => e.GetProperty("role").GetString() == "assistant").Select(e => e.GetProperty("requestId").GetString()).ToList();
        Assert.Equal(order, replies);
        Assert.All(history, e => Assert.Equal("completed", e.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_reply_slower_than_the_timeout_answers_504_and_frees_the_session()
    {
        var user = Ids.New("timeout");
        var clock = Stopwatch.StartNew();
        var problem = await (await Send(user, "[slow] tell me everything")).ExpectProblem(HttpStatusCode.GatewayTimeout, "session.timeout");
        clock.Stop();
        Assert.InRange(clock.Elapsed, SessionFixture.ResponseTimeout - TimeSpan.FromMilliseconds(200), SessionFixture.ResponseTimeout + TimeSpan.FromSeconds(10));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("requestId").GetString()));

        var session = await Session(user);
        Assert.Equal("idle", session.GetProperty("status").GetString());
        Assert.Equal("timeout", session.GetProperty("history")[0].GetProperty("status").GetString());
        await (await Send(user, "quick one")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_failing_responder_answers_502_and_frees_the_session()
    {
        var user = Ids.New("failing");
        await (await Send(user, "[fail] please")).ExpectProblem(HttpStatusCode.BadGateway, "session.responder_failed");
        var session = await Session(user);
        Assert.Equal("idle", session.GetProperty("status").GetString());
        Assert.Equal("failed", session.GetProperty("history")[0].GetProperty("status").GetString());
        await (await Send(user, "quick one")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Clear_during_generation_answers_the_waiting_caller_409_and_no_reply_lands_afterwards()
    {
        var user = Ids.New("clear");
        await (await Send(user, "first")).Expect(HttpStatusCode.OK);
        var waiting = Send(user, "[delay] second");
        await Eventually.Poll(() => Session(user), s => s.GetProperty("status").GetString() == "processing", TimeSpan.FromSeconds(10), "processing");

        var cleared = await (await Http.PostAsync($"/api/users/{user}/clear", null)).Expect(HttpStatusCode.OK);

        Assert.True(cleared.GetProperty("cancelled").GetBoolean());
        Assert.True(cleared.GetProperty("cleared").GetBoolean());
        await (await waiting).ExpectProblem(HttpStatusCode.Conflict, "session.cancelled");
        Assert.Equal(0, (await Session(user)).GetProperty("history").GetArrayLength());
        // Past the moment the model answers the cleared request (1.5 s): its reply must not land.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var after = await Session(user);
        Assert.Equal(0, after.GetProperty("history").GetArrayLength());
        Assert.Equal("idle", after.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Cancel_during_generation_frees_the_session_within_a_second()
    {
        var user = Ids.New("cancel");
        var sent = await (await Send(user, "[slow] long answer", wait: false)).Expect(HttpStatusCode.Accepted);
        var clock = Stopwatch.StartNew();
        var cancelled = await (await Http.PostAsync($"/api/users/{user}/cancel", null)).Expect(HttpStatusCode.OK);
        var session = await Session(user);
        clock.Stop();

        Assert.True(cancelled.GetProperty("cancelled").GetBoolean());
        Assert.Equal(sent.GetProperty("requestId").GetString(), cancelled.GetProperty("requestId").GetString());
        Assert.Equal("idle", session.GetProperty("status").GetString());
        Assert.Equal("cancelled", session.GetProperty("history")[0].GetProperty("status").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"cancel took {clock.Elapsed}");
        await (await Send(user, "next")).Expect(HttpStatusCode.OK);

        var idle = await (await Http.PostAsync($"/api/users/{user}/cancel", null)).Expect(HttpStatusCode.OK);
        Assert.False(idle.GetProperty("cancelled").GetBoolean());
    }

    [Fact]
    public async Task A_burst_of_thirty_gets_about_ten_rate_limit_refusals_with_Retry_After()
    {
        var user = Ids.New("burst");
        var limited = 0;
        for (var i = 0; i < 30; i++)
        {
            var response = await Send(user, "[slow] burst", wait: false);
            if (response.StatusCode == HttpStatusCode.TooManyRequests && (await response.Body()).GetProperty("code").GetString() == "rate_limited.user")
            {
                Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single()) >= 1);
                limited++;
            }
        }

        Assert.InRange(limited, 7, 10);
        await (await Http.PostAsync($"/api/users/{user}/clear", null)).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_event_stream_shows_the_status_changes_and_the_reply_of_a_request()
    {
        var user = Ids.New("events");
        var sent = await (await Send(user, "[delay] stream me", wait: false)).Expect(HttpStatusCode.Accepted);
        var requestId = sent.GetProperty("requestId").GetString();
        var events = await Http.ReadEventsAsync($"/api/users/{user}/events", 0,
            e => e.Type == "status" && e.Data.GetProperty("status").GetString() == "completed", TimeSpan.FromSeconds(20));

        var reply = Assert.Single(events, e => e.Type == "reply");
        Assert.Equal(requestId, reply.Data.GetProperty("requestId").GetString());
        Assert.StartsWith("fake reply", reply.Data.GetProperty("reply").GetString());
        Assert.Equal("idle", events[^1].Data.GetProperty("sessionStatus").GetString());
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.Id < p.Second.Id));
    }

    [Fact]
    public async Task Bad_input_is_answered_400_and_an_unknown_session_404()
    {
        var user = Ids.New("bad");
        await (await Send(user, "")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Send(user, "   ")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.PostAsync($"/api/users/{user}/messages", HttpAssertions.Json("""{"text":null}"""))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.PostAsync($"/api/users/{user}/messages", HttpAssertions.Json("""{"text":42}"""))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.PostAsync($"/api/users/{user}/messages", HttpAssertions.Json("{}"))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        var noBody = await Http.PostAsync($"/api/users/{user}/messages", null);
        Assert.True(noBody.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnsupportedMediaType, $"no body: {noBody.StatusCode}");
        await (await Send(user, new string('a', 8_001))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await Http.PostJson($"/api/users/{user}/messages?wait=maybe", new { text = "hi" })).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        foreach (var badId in new[] { "-starts-with-dash", "has%20space", new string('u', 129), "semi%3Bcolon" })
        {
            await (await Send(badId, "hi")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
            await (await Http.GetAsync($"/api/users/{badId}/session")).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        }

        await (await Http.GetAsync($"/api/users/{user}/session")).ExpectProblem(HttpStatusCode.NotFound, "session.not_found");
        await (await Send(user, new string('a', 8_000), wait: false)).Expect(HttpStatusCode.Accepted);
    }
}

[Collection(ApiCollection.Name)]
public sealed class SessionBusyApiTests(ApiFixture fixture)
{
    [Fact]
    public async Task Ten_concurrent_messages_for_one_user_get_one_202_and_nine_409_session_busy()
    {
        for (var iteration = 0; iteration < 3; iteration++)
        {
            var user = Ids.New("busy");
            var responses = await Task.WhenAll(Enumerable.Range(0, 10)
                .Select(i => fixture.Http.PostJson($"/api/users/{user}/messages?wait=false", new { text = $"message {i}" })));
            Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Accepted);
            foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Accepted))
            {
                await refused.ExpectProblem(HttpStatusCode.Conflict, "session.busy");
            }
        }
    }
}
