using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Lectures;

/// <summary>The Lectures contract as now written (API.md, Lectures): session summaries, session ETags, If-Match, the idempotency window.</summary>
[Collection(ApiCollection.Name)]
public sealed class LectureContractTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    private async Task<string> NewLecture()
    {
        var lectureId = Ids.New("lecture");
        await (await Http.PutAsJsonAsync($"/api/lectures/{lectureId}", LectureApiTests.Definition())).Expect(HttpStatusCode.OK);
        return lectureId;
    }

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, object? body = null, string? ifMatch = null, string? key = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return Http.SendAsync(request);
    }

    private Task<HttpResponseMessage> Start(string lectureId, string topicId = "heart", string? ifMatch = null, string? key = null) =>
        Send(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/robot/sessions", new { topicId, language = "en" }, ifMatch, key);

    [Fact]
    public async Task A_run_lists_its_latest_sessions_up_to_limit_as_summaries_with_the_session_count()
    {
        var lectureId = await NewLecture();
        var started = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            started.Add((await (await Start(lectureId, i % 2 == 0 ? "heart" : "ecg")).Expect(HttpStatusCode.Created)).GetProperty("sessionId").GetString()!);
        }

        var run = await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot?limit=2")).Expect(HttpStatusCode.OK);
        Assert.Equal(5, run.GetProperty("sessionCount").GetInt32());
        var sessions = run.GetProperty("sessions").EnumerateArray().ToList();
        Assert.Equal(started[3..], sessions.Select(s => s.GetProperty("sessionId").GetString()));
        Assert.All(sessions, s => Assert.False(s.TryGetProperty("contents", out _) || s.TryGetProperty("timeList", out _)));
        Assert.Equal("ecg", sessions[0].GetProperty("topicId").GetString());

        var byDefault = await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).Expect(HttpStatusCode.OK);
        Assert.Equal(started, byDefault.GetProperty("sessions").EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("many")]
    public async Task A_limit_outside_1_to_1000_is_400(string limit)
    {
        var lectureId = await NewLecture();
        await (await Start(lectureId)).Expect(HttpStatusCode.Created);
        await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot?limit={limit}")).ExpectProblem(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_session_has_an_ETag_and_ending_it_honours_If_Match()
    {
        var lectureId = await NewLecture();
        var created = await Start(lectureId);
        var path = created.Headers.Location!.OriginalString;
        await created.Expect(HttpStatusCode.Created);

        var read = await Http.GetAsync(path);
        await read.Expect(HttpStatusCode.OK);
        var etag = read.Headers.ETag ?? throw new Xunit.Sdk.XunitException("GET session has no ETag");

        await (await Send(HttpMethod.Delete, path, ifMatch: "\"999999\"")).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.True((await (await Http.GetAsync(path)).Expect(HttpStatusCode.OK)).GetProperty("isActive").GetBoolean());

        var ended = await Send(HttpMethod.Delete, path, ifMatch: etag.ToString());
        Assert.False((await ended.Expect(HttpStatusCode.OK)).GetProperty("isActive").GetBoolean());
        Assert.NotNull(ended.Headers.ETag);
        Assert.NotEqual(etag, ended.Headers.ETag);
        Assert.Equal(ended.Headers.ETag, (await Http.GetAsync(path)).Headers.ETag);
    }

    [Fact]
    public async Task A_start_honours_If_Match_on_the_run()
    {
        var lectureId = await NewLecture();
        await (await Start(lectureId)).Expect(HttpStatusCode.Created);
        var runPath = $"/api/lectures/{lectureId}/robots/robot";
        var etag = (await Http.GetAsync(runPath)).Headers.ETag!.ToString();
        await (await Http.PostJson($"{runPath}/commands", new { command = "advance" })).Expect(HttpStatusCode.OK);

        await (await Start(lectureId, ifMatch: etag)).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        var run = await Http.GetAsync(runPath);
        Assert.Equal(1, (await run.Expect(HttpStatusCode.OK)).GetProperty("sessionCount").GetInt32());

        await (await Start(lectureId, ifMatch: run.Headers.ETag!.ToString())).Expect(HttpStatusCode.Created);
    }

    [Fact]
    public async Task An_Idempotency_Key_is_forgotten_after_the_idempotency_window()
    {
        var lectureId = await NewLecture();
        var key = Ids.New("key");
        var first = await (await Start(lectureId, key: key)).Expect(HttpStatusCode.Created);
        var repeat = await (await Start(lectureId, key: key)).Expect(HttpStatusCode.OK);
        Assert.Equal(first.GetProperty("sessionId").GetString(), repeat.GetProperty("sessionId").GetString());

        var status = await Eventually.Poll(async () => (await Start(lectureId, key: key)).StatusCode, s => s == HttpStatusCode.Created,
            ApiFixture.IdempotencyWindow + TimeSpan.FromSeconds(10), "a repeat after the window starts a new session");
        Assert.Equal(HttpStatusCode.Created, status);
    }
}
