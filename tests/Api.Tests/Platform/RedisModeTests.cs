using System.Net;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Platform;

[Collection(RedisCollection.Name)]
public sealed class RedisModeTests(RedisServer redis)
{
    private Dictionary<string, string?> ClusterSettings(string serviceId) => new()
    {
        ["ConnectionStrings:Redis"] = redis.ConnectionString,
        // A service id per test keeps each test's grain state and membership apart in the one Redis.
        ["Orleans:ServiceId"] = serviceId,
        ["Orleans:ClusterId"] = serviceId,
    };

    [RedisFact]
    public async Task Grain_state_survives_a_restart_of_the_host()
    {
        var settings = ClusterSettings(Ids.New("restart"));
        var jobId = Ids.New("durable");
        var host = await HostProcess.StartApiAsync(settings);
        await using (host)
        {
            await (await host.Http.PostJson("/api/jobs", new { kind = "video", jobId, input = new { slides = 12 } })).Expect(HttpStatusCode.Created);
            await (await host.Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
            await (await host.Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress = 42, message = "half" })).Expect(HttpStatusCode.OK);
            await host.StopAsync();
        }

        await using var restarted = await host.RestartedAsync();
        var job = await (await restarted.Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(42, job.GetProperty("progress").GetDouble());
        Assert.Equal("half", job.GetProperty("message").GetString());
        Assert.Equal("processing", job.GetProperty("status").GetString());
        Assert.Equal(12, job.GetProperty("input").GetProperty("slides").GetInt32());
    }

    [RedisFact]
    public async Task An_API_silo_and_a_headless_silo_form_one_cluster_through_Redis()
    {
        var settings = ClusterSettings(Ids.New("cluster"));
        await using var api = await HostProcess.StartApiAsync(settings);
        await using var silo = HostProcess.StartSilo(settings);

        var ready = await Eventually.Poll(
            async () => await (await api.Http.GetAsync("/health/ready")).Expect(HttpStatusCode.OK),
            r => r.GetProperty("checks").GetProperty("silo").GetProperty("data").GetProperty("activeSilos").GetInt32() == 2,
            TimeSpan.FromSeconds(60), "management grain sees two active silos");
        Assert.False(silo.HasExited, silo.Output);

        var counters = await Eventually.Poll(
            async () => await (await api.Http.GetAsync("/dashboard/DashboardCounters")).Expect(HttpStatusCode.OK),
            c => c.GetProperty("totalActiveHostCount").GetInt32() == 2, TimeSpan.FromSeconds(30), "dashboard sees two active silos");
        Assert.Equal(2, counters.GetProperty("hosts").GetArrayLength());

        // Grains are placed on both silos and every one of them is reachable through the API silo.
        var jobIds = Enumerable.Range(0, 40).Select(_ => Ids.New("spread")).ToList();
        foreach (var jobId in jobIds)
        {
            await (await api.Http.PostJson("/api/jobs", new { kind = "spread", jobId })).Expect(HttpStatusCode.Created);
        }

        foreach (var jobId in jobIds)
        {
            await (await api.Http.GetAsync($"/api/jobs/{jobId}")).Expect(HttpStatusCode.OK);
        }
    }

    [RedisFact]
    public async Task Redis_down_answers_503_storage_unavailable_and_the_silo_recovers_when_it_returns()
    {
        // Its own Redis, so the outage does not disturb the other tests of this collection.
        var own = RedisServer.Durable();
        await own.InitializeAsync();
        try
        {
            var serviceId = Ids.New("outage");
            await using var api = await HostProcess.StartApiAsync(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Redis"] = own.ConnectionString,
                ["Orleans:ServiceId"] = serviceId,
                ["Orleans:ClusterId"] = serviceId,
            });
            var before = Ids.New("before");
            await (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId = before })).Expect(HttpStatusCode.Created);
            await (await api.Http.PostJson($"/api/jobs/{before}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
            await (await api.Http.PostJson($"/api/jobs/{before}/progress", new { workerId = "w1", progress = 10 })).Expect(HttpStatusCode.OK);

            own.Stop();
            // The grain is active and applies the change in memory first: the failed write must not leave it there.
            await (await api.Http.PostJson($"/api/jobs/{before}/progress", new { workerId = "w1", progress = 50 }))
                .ExpectProblem(HttpStatusCode.ServiceUnavailable, "storage_unavailable");
            var started = DateTime.UtcNow;
            await (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId = Ids.New("during") }))
                .ExpectProblem(HttpStatusCode.ServiceUnavailable, "storage_unavailable");
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "a request during the outage must fail fast");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await api.Http.GetAsync("/health/ready")).StatusCode);

            await own.StartAsync();
            var after = Ids.New("after");
            await Eventually.Poll(
                async () => (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId = after })).StatusCode,
                s => s == HttpStatusCode.Created, TimeSpan.FromSeconds(30), "writes succeed again after Redis returns");
            await Eventually.Poll(async () => (await api.Http.GetAsync("/health/ready")).StatusCode,
                s => s == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "ready again after Redis returns");
            var job = await (await api.Http.GetAsync($"/api/jobs/{before}")).Expect(HttpStatusCode.OK);
            Assert.Equal(10, job.GetProperty("progress").GetDouble());
            Assert.False(api.HasExited);
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    [RedisFact]
    public async Task With_an_event_stream_open_a_failed_write_answers_every_later_request_at_once()
    {
        var own = RedisServer.Durable();
        await own.InitializeAsync();
        try
        {
            var serviceId = Ids.New("fail-fast");
            await using var api = await HostProcess.StartApiAsync(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Redis"] = own.ConnectionString,
                ["Orleans:ServiceId"] = serviceId,
                ["Orleans:ClusterId"] = serviceId,
            });
            var jobId = Ids.New("watched");
            await (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
            await (await api.Http.PostJson($"/api/jobs/{jobId}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
            using var sse = new HttpClient { BaseAddress = api.Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
            using var stream = await sse.GetAsync($"/api/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);

            own.Stop();
            foreach (var progress in new[] { 20, 30 })
            {
                var started = System.Diagnostics.Stopwatch.StartNew();
                await (await api.Http.PostJson($"/api/jobs/{jobId}/progress", new { workerId = "w1", progress }))
                    .ExpectProblem(HttpStatusCode.ServiceUnavailable, "storage_unavailable");
                Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"report {progress} answered after {started.Elapsed.TotalSeconds:0.0} s");
            }
        }
        finally
        {
            await own.DisposeAsync();
        }
    }
}
