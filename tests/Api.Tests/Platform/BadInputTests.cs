using System.Net;
using System.Text;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Platform;

/// <summary>Malformed requests of every kind get a 4xx problem document with a code, change nothing, and leave the host healthy.</summary>
[Collection(ApiCollection.Name)]
public sealed class BadInputTests(ApiFixture api)
{
    private static readonly string OneMiB = "{\"kind\":\"" + new string('a', 1024 * 1024) + "\"}";

    public static TheoryData<string, string, string?, string?, int, string> Cases => new()
    {
        // method, path, body, content type, status, code
        { "GET", "/api/jobs/-leading-dash", null, null, 400, "validation" },
        { "GET", "/api/jobs/has%20space", null, null, 400, "validation" },
        { "GET", "/api/jobs/..%2F..%2Fetc%2Fpasswd", null, null, 400, "validation" },
        { "GET", "/api/jobs/%2E%2E", null, null, 404, "not_found" },
        { "GET", "/api/jobs/a%2Fb", null, null, 400, "validation" },
        { "GET", "/api/jobs/" + new string('x', 129), null, null, 400, "validation" },
        { "GET", "/api/jobs/%E2%9C%93unicode", null, null, 400, "validation" },
        { "GET", "/api/jobs/semi;colon", null, null, 400, "validation" },
        { "GET", "/api/jobs/trailing-newline%0A", null, null, 400, "validation" },
        { "POST", "/api/jobs", "{\"kind\":\"video\",\"jobId\":\"newline\\n\"}", "application/json", 400, "validation" },
        { "POST", "/api/jobs/j/start", "{\"workerId\":\"w\\n\"}", "application/json", 400, "validation" },
        { "GET", "/api/jobs/ok-id/../../../etc/passwd", null, null, 404, "not_found" },
        { "POST", "/api/jobs/bad*id/start", "{\"workerId\":\"w\"}", "application/json", 400, "validation" },
        { "POST", "/api/jobs", OneMiB, "application/json", 413, "payload_too_large" },
        { "POST", "/api/jobs", "{\"kind\":", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "not json at all", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "[1,2,3]", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "{\"kind\":42}", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "{\"kind\":null}", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "{}", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "{\"kind\":\"video\",\"jobId\":\"../x\"}", "application/json", 400, "validation" },
        { "POST", "/api/jobs", "{\"kind\":\"video\"}", "text/plain", 415, "unsupported_media_type" },
        { "POST", "/api/jobs/j/progress", "{\"workerId\":\"w\",\"progress\":\"50\"}", "application/json", 400, "validation" },
        { "POST", "/api/jobs/j/progress", "{\"workerId\":\"w\",\"progress\":[50]}", "application/json", 400, "validation" },
        { "POST", "/api/jobs/j/progress", "{\"workerId\":{},\"progress\":50}", "application/json", 400, "validation" },
        { "POST", "/api/jobs/j/progress", "{\"workerId\":\"w\",\"progress\":1e999}", "application/json", 400, "validation" },
        { "DELETE", "/api/jobs/j", null, null, 405, "method_not_allowed" },
        { "GET", "/no/such/route", null, null, 404, "not_found" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Malformed_requests_get_a_problem_document(string method, string path, string? body, string? contentType, int status, string code)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new(contentType!);
        }

        var response = await api.Http.SendAsync(request);

        await response.ExpectProblem((HttpStatusCode)status, code);
        await (await api.Http.GetAsync("/health/ready")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_refused_request_changes_nothing()
    {
        var jobId = Ids.New("unchanged");
        await (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
        await (await api.Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
        await (await api.Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 30 })).Expect(HttpStatusCode.OK);
        var before = await (await api.Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK);

        await (await api.Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 101 })).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await api.Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = -1 })).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await api.Http.PostJson($"/api/jobs/{jobId}/progress", new { progress = 80 })).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await api.Http.PostAsync($"/api/jobs/{jobId}/progress", HttpAssertions.Json("{\"workerId\":\"w1\",\"progress\":90"))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await api.Http.PostJson($"/api/jobs/{jobId}/complete", new { })).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        await (await api.Http.PostJson($"/api/jobs/{jobId}/fail", new { workerId = "w1" })).ExpectProblem(HttpStatusCode.BadRequest, "validation");

        var after = await (await api.Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(before.ToString(), after.ToString());
    }

    public static TheoryData<string, string, string, string> ErrorKeys => new()
    {
        // path, body, errors key, first words of its message
        { "/api/lectures/{id}", """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[1]},{"topicId":"b","contents":["x","y"],"timeList":[1]}]}""", "topics[1].timeList", "contents and timeList" },
        { "/api/lectures/{id}", """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[1]},{"topicId":"a","contents":["x"],"timeList":[1]}]}""", "topics[1].topicId", "topicId 'a' appears" },
        { "/api/lectures/{id}", """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[0]}]}""", "topics[0].timeList[0]", "timeList values" },
        { "/api/lectures/{id}", """{"topics":[{"topicId":"a","contents":["x"],"timeList":[1]}]}""", "title", "" },
        { "/api/jobs/{id}/progress", """{"workerId":"w","progress":101}""", "progress", "progress must be" },
        { "/api/jobs/{id}/progress", """{"progress":50}""", "workerId", "" },
    };

    [Theory]
    [MemberData(nameof(ErrorKeys))]
    public async Task Validation_errors_are_keyed_by_the_json_path_the_client_sent(string path, string body, string key, string message)
    {
        var id = Ids.New("keys");
        using var request = new HttpRequestMessage(path.StartsWith("/api/lectures", StringComparison.Ordinal) ? HttpMethod.Put : HttpMethod.Post,
            path.Replace("{id}", id)) { Content = HttpAssertions.Json(body) };

        var problem = await (await api.Http.SendAsync(request)).ExpectProblem(HttpStatusCode.BadRequest, "validation");

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(key, out var messages), $"no '{key}' in {errors}");
        Assert.StartsWith(message, messages[0].GetString());
    }
}
