using System.Net;
using System.Net.Http.Json;
using Lectures.Api.Tests.Infrastructure;
using Lectures.Api.Tests.Lectures;
using Lectures.Api.Tests.Rooms;

namespace Lectures.Api.Tests.Platform;

/// <summary>RFC 9110: <c>If-Match: *</c> matches an existing resource only; on one that does not exist it is 412 and nothing is created.</summary>
[Collection(ApiCollection.Name)]
public sealed class IfMatchTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, object? body, string ifMatch)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return Http.SendAsync(request);
    }

    [Fact]
    public async Task If_Match_star_on_a_room_that_does_not_exist_is_412_and_creates_nothing()
    {
        var roomCode = Ids.New("room");
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}", RoomApiTests.Agents("Ada"), "*")).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        await (await Http.GetAsync($"/api/rooms/{roomCode}")).ExpectProblem(HttpStatusCode.NotFound, "room.not_found");

        await (await Http.PutAsJsonAsync($"/api/rooms/{roomCode}", RoomApiTests.Agents("Ada"))).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}", RoomApiTests.Agents("Grace"), "*")).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}/players/alice", null, "*")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task If_Match_star_on_a_lecture_or_a_run_that_does_not_exist_is_412_and_creates_nothing()
    {
        var lectureId = Ids.New("lecture");
        await (await Send(HttpMethod.Put, $"/api/lectures/{lectureId}", LectureApiTests.Definition(), "*")).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        await (await Http.GetAsync($"/api/lectures/{lectureId}")).ExpectProblem(HttpStatusCode.NotFound, "lecture.not_found");

        await (await Http.PutAsJsonAsync($"/api/lectures/{lectureId}", LectureApiTests.Definition())).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Put, $"/api/lectures/{lectureId}", LectureApiTests.Definition("Renamed"), "*")).Expect(HttpStatusCode.OK);
        var start = $"/api/lectures/{lectureId}/robots/r1/sessions";
        await (await Send(HttpMethod.Post, start, new { topicId = "heart", language = "en" }, "*")).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/r1")).ExpectProblem(HttpStatusCode.NotFound, "lecture.run_not_found");
        await (await Http.PostJson(start, new { topicId = "heart", language = "en" })).Expect(HttpStatusCode.Created);
        await (await Send(HttpMethod.Post, start, new { topicId = "ecg", language = "en" }, "*")).Expect(HttpStatusCode.Created);
    }

    [Fact]
    public async Task If_Match_star_on_an_existing_job_matches_and_on_a_missing_one_changes_nothing()
    {
        var jobId = Ids.New("job");
        var missing = await Send(HttpMethod.Post, $"/api/jobs/{jobId}/cancel", null, "*");
        Assert.True(missing.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.PreconditionFailed, $"got {missing.StatusCode}");
        await (await Http.GetAsync($"/api/jobs/{jobId}")).ExpectProblem(HttpStatusCode.NotFound, "job.not_found");

        await (await Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/start", new { workerId = "w1" }, "*")).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 10 }, "*")).Expect(HttpStatusCode.OK);
    }
}
