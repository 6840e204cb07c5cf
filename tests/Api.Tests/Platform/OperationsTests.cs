using System.Net;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Platform;

[Collection(ApiCollection.Name)]
public sealed class OperationsTests(ApiFixture api)
{
    [Fact]
    public async Task Liveness_and_readiness_report_the_silo_and_the_store()
    {
        await (await api.Http.GetAsync("/health/live")).Expect(HttpStatusCode.OK);
        var ready = await (await api.Http.GetAsync("/health/ready")).Expect(HttpStatusCode.OK);

        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Equal(1, ready.GetProperty("checks").GetProperty("silo").GetProperty("data").GetProperty("activeSilos").GetInt32());
        Assert.Contains("not durable", ready.GetProperty("checks").GetProperty("storage").GetProperty("description").GetString());
    }

    [Fact]
    public async Task The_OpenAPI_document_describes_the_routes_and_the_reference_is_browsable()
    {
        var document = await (await api.Http.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/api/jobs", "/api/jobs/{jobId}", "/api/jobs/{jobId}/progress", "/api/jobs/{jobId}/events" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} missing from OpenAPI");
        }

        Assert.DoesNotContain(paths.EnumerateObject(), p => p.Name.StartsWith("/dashboard", StringComparison.Ordinal));

        var reference = await api.Http.GetAsync("/api-reference");
        Assert.Equal(HttpStatusCode.OK, reference.StatusCode);
        Assert.Contains("text/html", reference.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task The_dashboard_shows_the_cluster()
    {
        var page = await api.Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("text/html", page.Content.Headers.ContentType?.ToString());

        var counters = await Eventually.Poll(
            async () => await (await api.Http.GetAsync("/dashboard/DashboardCounters")).Expect(HttpStatusCode.OK),
            c => c.GetProperty("totalActiveHostCount").GetInt32() == 1, TimeSpan.FromSeconds(20), "dashboard counts one silo");
        Assert.Equal(1, counters.GetProperty("hosts").GetArrayLength());
    }

    [Fact]
    public async Task The_dashboard_shows_calls_and_latency_per_grain_method_once_it_is_watched()
    {
        // Reading the dashboard switches its profiler on (it is off while nobody watches, see DashboardProfilerGate);
        // calls made after that are counted per grain method and reach the dashboard within its one-second aggregation.
        const string grain = "Lectures.Grains.Jobs.JobGrain";
        await (await api.Http.GetAsync($"/dashboard/GrainStats/{grain}")).Expect(HttpStatusCode.OK);
        var (count, failed, elapsedMs) = await Eventually.Poll(async () =>
            {
                await (await api.Http.PostJson("/api/jobs", new { kind = "dashboard", jobId = $"dash-{Guid.NewGuid():N}" })).Expect(HttpStatusCode.Created);
                return Totals(await (await api.Http.GetAsync($"/dashboard/GrainStats/{grain}")).Expect(HttpStatusCode.OK), $"{grain}.CreateAsync");
            },
            t => t.Count > 0, TimeSpan.FromSeconds(30), "JobGrain.CreateAsync counted by the dashboard");

        Assert.Equal(0, failed);
        Assert.True(elapsedMs > 0, "the calls' latency is recorded");
    }

    // The dashboard's history of one grain method: an entry per period, summed.
    private static (long Count, long Failed, double ElapsedMs) Totals(JsonElement grainStats, string method) =>
        grainStats.TryGetProperty(method, out var periods)
            ? periods.EnumerateObject().Aggregate((0L, 0L, 0d), (t, p) => (t.Item1 + p.Value.GetProperty("count").GetInt64(),
                t.Item2 + p.Value.GetProperty("exceptionCount").GetInt64(), t.Item3 + p.Value.GetProperty("elapsedTime").GetDouble()))
            : (0, 0, 0);

    [Fact]
    public async Task Metrics_are_Prometheus_text_with_Orleans_ASP_NET_Core_and_domain_meters()
    {
        // Make some traffic first so every meter has something to report.
        await api.Http.PostJson("/api/jobs", new { kind = "metrics" });
        await api.Http.GetAsync("/api/jobs/does-not-exist");

        var text = await Eventually.Poll(
            async () => await (await api.Http.GetAsync("/metrics")).Content.ReadAsStringAsync(),
            t => t.Contains("http_server_request_duration") && t.Contains("orleans_"), TimeSpan.FromSeconds(20), "metrics exported");
        Assert.Contains("# TYPE", text);
    }
}
