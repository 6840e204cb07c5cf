using System.Globalization;
using System.Net;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Platform;

/// <summary>Live updates fan out per API silo: many SSE clients of one grain share one subscription, and each gets every event.</summary>
[Collection(ApiCollection.Name)]
public sealed class LiveUpdateTests(ApiFixture api)
{
    [Theory]
    [InlineData("/api/jobs/{0}/events")]
    [InlineData("/api/jobs/{0}")]
    [InlineData("/api/rooms/{0}/events")]
    public async Task A_refusal_asked_for_as_an_EventSource_does_is_a_problem_document(string route)
    {
        // A browser's EventSource sends Accept: text/event-stream and nothing else.
        using var request = new HttpRequestMessage(HttpMethod.Get, string.Format(CultureInfo.InvariantCulture, route, Ids.New("missing")));
        request.Headers.Accept.ParseAdd("text/event-stream");

        using var response = await api.Http.SendAsync(request);

        await response.ExpectProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Fifty_watchers_of_one_job_get_every_event_without_a_grain_call_each()
    {
        const int Watchers = 50;
        const int Events = 20;
        var jobId = Ids.New("fanout");
        await (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
        await (await api.Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
        using var sse = new HttpClient { BaseAddress = api.Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var connected = 0;
        var watchers = Enumerable.Range(0, Watchers).Select(_ => sse.ReadEventsAsync($"/api/jobs/{jobId}/events", null, e =>
        {
            var progress = e.Data.GetProperty("progress").GetDouble();
            if (progress == 0)
            {
                Interlocked.Increment(ref connected);
            }

            return progress >= Events;
        }, TimeSpan.FromSeconds(60))).ToList();
        // Every watcher has its first event (the current state) before the reports start.
        await Eventually.Poll(() => Task.FromResult(Volatile.Read(ref connected)), n => n == Watchers, TimeSpan.FromSeconds(30), "watchers connected");

        var callsBefore = await GrainCallsAsync();
        for (var p = 1; p <= Events; p++)
        {
            await (await api.Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = p })).Expect(HttpStatusCode.OK);
        }

        var seen = await Task.WhenAll(watchers);
        var calls = await GrainCallsAsync() - callsBefore;

        Assert.All(seen, events => Assert.Equal(Enumerable.Range(1, Events).Select(p => (double)p),
            events.Select(e => e.Data.GetProperty("progress").GetDouble()).Where(p => p >= 1)));
        // A long-poll per watcher costs at least one grain call per watcher and event; a shared subscription does not.
        Assert.True(calls / Events < Watchers / 2.0, $"{calls / Events:0.0} grain calls per event for {Watchers} watchers");
    }

    private async Task<double> GrainCallsAsync()
    {
        var text = await api.Http.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith("orleans_app_requests_latency", StringComparison.Ordinal) && l.Contains("_count", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
