using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Jobs;

[Collection(ApiCollection.Name)]
public sealed class JobApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    private async Task<string> StartedJob(string worker = "w1")
    {
        var jobId = Ids.New("job");
        await (await Http.PostJson("/api/jobs", new { kind = "video", jobId, input = new { slides = 3 } })).Expect(HttpStatusCode.Created);
        await (await Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = worker })).Expect(HttpStatusCode.OK);
        return jobId;
    }

    [Fact]
    public async Task A_job_goes_from_queued_through_processing_to_completed()
    {
        var created = await Http.PostJson("/api/jobs", new { kind = "video", input = new { slides = 3 } });
        var job = await created.Expect(HttpStatusCode.Created);
        var jobId = job.GetProperty("jobId").GetString()!;
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Equal($"/api/jobs/{jobId}", created.Headers.Location?.ToString());
        Assert.NotNull(created.Headers.ETag);

        var started = await (await Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
        Assert.Equal("processing", started.GetProperty("status").GetString());
        Assert.Equal("w1", started.GetProperty("workerId").GetString());

        var progress = await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 55.5, message = "rendering" })).Expect(HttpStatusCode.OK);
        Assert.True(progress.GetProperty("applied").GetBoolean());
        await (await Http.PostJson($"/api/jobs/{jobId}/heartbeat", new { workerId = "w1" })).Expect(HttpStatusCode.OK);

        var completed = await (await Http.PostJson($"/api/jobs/{jobId}/complete", new { workerId = "w1", result = new { url = "/v.mp4" } })).Expect(HttpStatusCode.OK);
        Assert.Equal("completed", completed.GetProperty("status").GetString());
        Assert.Equal(100, completed.GetProperty("progress").GetDouble());
        Assert.Equal("/v.mp4", completed.GetProperty("result").GetProperty("url").GetString());
        Assert.NotEqual(JsonValueKind.Null, completed.GetProperty("completedAt").ValueKind);

        var read = await (await Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(completed.ToString(), read.ToString());
    }

    [Fact]
    public async Task Create_with_an_existing_id_is_idempotent_for_the_same_content_only()
    {
        var jobId = Ids.New("idem");
        await (await Http.PostJson("/api/jobs", new { kind = "video", jobId, input = new { a = 1, b = new[] { 1, 2 } } })).Expect(HttpStatusCode.Created);
        // Same content, other whitespace.
        await (await Http.PostAsync("/api/jobs", HttpAssertions.Json($"{{ \"kind\": \"video\", \"jobId\": \"{jobId}\", \"input\": {{ \"a\": 1, \"b\": [1, 2] }} }}"))).Expect(HttpStatusCode.OK);
        await (await Http.PostJson("/api/jobs", new { kind = "video", jobId, input = new { a = 2 } })).ExpectProblem(HttpStatusCode.Conflict, "job.exists");
        await (await Http.PostJson("/api/jobs", new { kind = "audio", jobId, input = new { a = 1, b = new[] { 1, 2 } } })).ExpectProblem(HttpStatusCode.Conflict, "job.exists");
    }

    [Fact]
    public async Task Every_refusal_has_its_code()
    {
        await (await Http.GetAsync($"/api/jobs/{Ids.New("missing")}")).ExpectProblem(HttpStatusCode.NotFound, "job.not_found");
        await (await Http.PostJson($"/api/jobs/{Ids.New("missing")}/progress", new { workerId = "w", progress = 1 })).ExpectProblem(HttpStatusCode.NotFound, "job.not_found");

        var queued = Ids.New("queued");
        await (await Http.PostJson("/api/jobs", new { kind = "video", jobId = queued })).Expect(HttpStatusCode.Created);
        await (await Http.PostJson($"/api/jobs/{queued}/progress", new { workerId = "w1", progress = 5 })).ExpectProblem(HttpStatusCode.Conflict, "job.not_started");

        var jobId = await StartedJob();
        await (await Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = "w2" })).ExpectProblem(HttpStatusCode.Conflict, "job.claimed");
        await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w2", progress = 5 })).ExpectProblem(HttpStatusCode.Conflict, "job.not_owner");
        await (await Http.PostJson($"/api/jobs/{jobId}/heartbeat", new { workerId = "w2" })).ExpectProblem(HttpStatusCode.Conflict, "job.not_owner");

        await (await Http.PostAsync($"/api/jobs/{jobId}/cancel", null)).Expect(HttpStatusCode.OK);
        var terminal = await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 90 })).ExpectProblem(HttpStatusCode.Conflict, "job.terminal");
        Assert.Equal("cancelled", terminal.GetProperty("currentStatus").GetString());
        await (await Http.PostAsync($"/api/jobs/{jobId}/cancel", null)).ExpectProblem(HttpStatusCode.Conflict, "job.terminal");
        await (await Http.PostJson($"/api/jobs/{jobId}/complete", new { workerId = "w1" })).ExpectProblem(HttpStatusCode.Conflict, "job.terminal");
    }

    [Fact]
    public async Task Backward_progress_answers_applied_false_and_changes_nothing()
    {
        var jobId = await StartedJob();
        await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 70, message = "seventy" })).Expect(HttpStatusCode.OK);
        var backward = await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 20, message = "twenty" })).Expect(HttpStatusCode.OK);

        Assert.False(backward.GetProperty("applied").GetBoolean());
        Assert.Equal(70, backward.GetProperty("job").GetProperty("progress").GetDouble());
        Assert.Equal("seventy", backward.GetProperty("job").GetProperty("message").GetString());
    }

    [Fact]
    public async Task If_Match_with_a_stale_ETag_is_refused_with_412()
    {
        var jobId = await StartedJob();
        var etag = (await Http.GetAsync($"/api/jobs/{jobId}")).Headers.ETag!;
        await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 10 })).Expect(HttpStatusCode.OK);

        using var stale = new HttpRequestMessage(HttpMethod.Post, $"/api/jobs/{jobId}/progress") { Content = HttpAssertions.Json("{\"workerId\":\"w1\",\"progress\":20}") };
        stale.Headers.IfMatch.Add(etag);
        await (await Http.SendAsync(stale)).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");

        var current = (await Http.GetAsync($"/api/jobs/{jobId}")).Headers.ETag!;
        using var fresh = new HttpRequestMessage(HttpMethod.Post, $"/api/jobs/{jobId}/progress") { Content = HttpAssertions.Json("{\"workerId\":\"w1\",\"progress\":20}") };
        fresh.Headers.IfMatch.Add(current);
        await (await Http.SendAsync(fresh)).Expect(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("\"999\", {current}", 200)]
    [InlineData("{current},\"999\"", 200)]
    [InlineData("*", 200)]
    [InlineData("\"998\", \"999\"", 412)]
    [InlineData("W/{current}", 412)]
    [InlineData("\"not-ours\"", 412)]
    public async Task If_Match_follows_RFC_9110_lists_and_star(string ifMatch, int status)
    {
        var jobId = await StartedJob();
        var current = (await Http.GetAsync($"/api/jobs/{jobId}")).Headers.ETag!.Tag;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/jobs/{jobId}/progress") { Content = HttpAssertions.Json("{\"workerId\":\"w1\",\"progress\":20}") };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch.Replace("{current}", current));

        var response = await Http.SendAsync(request);

        if (status == 200)
        {
            await response.Expect(HttpStatusCode.OK);
        }
        else
        {
            var problem = await response.ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
            // The 412 names the stored version to read again.
            Assert.Equal(current, problem.GetProperty("currentETag").GetString());
            Assert.Equal(0, (await (await Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK)).GetProperty("progress").GetDouble());
        }
    }

    [Fact]
    public async Task Concurrent_progress_over_HTTP_ends_at_the_highest_acknowledged_value()
    {
        var jobId = await StartedJob();
        var values = Enumerable.Range(0, 200).Select(i => (i * 53) % 100).ToArray();
        var responses = await Task.WhenAll(values.Select(async (v, i) => i % 4 == 0
            ? await Http.PostJson($"/api/jobs/{jobId}/heartbeat", new { workerId = "w1" })
            : await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = v })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var job = await (await Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(values.Where((_, i) => i % 4 != 0).Max(), job.GetProperty("progress").GetDouble());
    }

    [Fact]
    public async Task A_silent_job_is_failed_as_stalled_within_the_timeout_and_margin()
    {
        var jobId = await StartedJob();
        var started = DateTime.UtcNow;
        // Watch through the event stream only: it waits for the change, it does not poll the job.
        var events = await ReadEventsAsync(jobId, null, e => e.Data.GetProperty("status").GetString() == "failed", TimeSpan.FromSeconds(20));
        var elapsed = DateTime.UtcNow - started;

        var failed = events[^1].Data;
        Assert.Equal("stalled", failed.GetProperty("error").GetString());
        Assert.True(elapsed >= ApiFixture.HeartbeatTimeout - TimeSpan.FromMilliseconds(200), $"stalled after only {elapsed}");
        Assert.True(elapsed <= ApiFixture.HeartbeatTimeout * 2 + TimeSpan.FromSeconds(2), $"stalled only after {elapsed}");
    }

    [Fact]
    public async Task The_event_stream_resumes_with_Last_Event_ID_without_missing_a_change()
    {
        var jobId = await StartedJob();
        var first = await ReadEventsAsync(jobId, null, _ => true, TimeSpan.FromSeconds(10));
        var lastSeen = first[^1].Id;

        // Changes made while the client is disconnected.
        foreach (var p in new[] { 10, 20, 30 })
        {
            await (await Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = p })).Expect(HttpStatusCode.OK);
        }

        await (await Http.PostJson($"/api/jobs/{jobId}/complete", new { workerId = "w1" })).Expect(HttpStatusCode.OK);

        var resumed = await ReadEventsAsync(jobId, lastSeen, e => e.Type == "status", TimeSpan.FromSeconds(10));
        Assert.Equal(["progress", "progress", "progress", "status"], resumed.Select(e => e.Type));
        Assert.Equal([10.0, 20, 30, 100], resumed.Select(e => e.Data.GetProperty("progress").GetDouble()));
        Assert.Equal(Enumerable.Range((int)lastSeen + 1, 4).Select(i => (long)i), resumed.Select(e => e.Id));
    }

    private Task<List<SseEvent>> ReadEventsAsync(string jobId, long? lastEventId, Func<SseEvent, bool> until, TimeSpan deadline) =>
        Http.ReadEventsAsync($"/api/jobs/{jobId}/events", lastEventId, until, deadline);
}
