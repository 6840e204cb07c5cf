using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Lectures.Cluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Lectures.Cluster.Tests.Operations;

/// <summary>The local cluster of src/AppHost, started as `dotnet run --project src/AppHost` starts it (without its dashboard).</summary>
public sealed class AppHostTests(ITestOutputHelper output)
{
    [FaultFact]
    public async Task The_AppHost_starts_redis_and_three_silos_that_serve_a_job_round_trip()
    {
        var clock = Stopwatch.StartNew();
        var data = Directory.CreateTempSubdirectory("apphost-redis-").FullName;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
                [$"LocalCluster:RedisData={data}"], timeout.Token);
            await using var app = await builder.BuildAsync(timeout.Token);
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceAsync("api", KnownResourceStates.Running, timeout.Token);
            using var http = app.CreateHttpClient("api");
            http.Timeout = TimeSpan.FromSeconds(10);

            // The API silo and both headless silos joined one cluster through the AppHost's redis-server.
            await Eventually.Poll(() => ActiveSilosAsync(http), n => n == 3, TimeSpan.FromMinutes(2), "three active silos in /health/ready");
            var started = clock.Elapsed;

            var created = await http.PostAsJsonAsync("/api/jobs", new { kind = "apphost", input = "round trip" }, timeout.Token);
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
            var jobId = (await created.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("jobId").GetString();
            var claimed = await http.PostAsJsonAsync($"/api/jobs/{jobId}/start", new { workerId = "w1" }, timeout.Token);
            Assert.Equal(System.Net.HttpStatusCode.OK, claimed.StatusCode);
            var completed = await http.PostAsJsonAsync($"/api/jobs/{jobId}/complete", new { workerId = "w1", result = "done" }, timeout.Token);
            Assert.Equal(System.Net.HttpStatusCode.OK, completed.StatusCode);
            var job = await http.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}", timeout.Token);
            Assert.Equal("completed", job.GetProperty("status").GetString());
            Assert.Equal("done", job.GetProperty("result").GetString());

            // Written through to the AppHost's Redis (append-only, fsync always): its file holds the job.
            Assert.Contains(Directory.EnumerateFiles(data, "*.aof", SearchOption.AllDirectories), f => File.ReadAllText(f).Contains(jobId!));
            output.WriteLine($"AppHost: three active silos after {started.TotalSeconds:F1} s; round trip done after {clock.Elapsed.TotalSeconds:F1} s");
            await app.StopAsync(timeout.Token);
            output.WriteLine($"AppHost stopped after {clock.Elapsed.TotalSeconds:F1} s in all");
        }
        finally
        {
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<int> ActiveSilosAsync(HttpClient http)
    {
        try
        {
            var ready = await http.GetFromJsonAsync<JsonElement>("/health/ready");
            return ready.GetProperty("checks").GetProperty("silo").TryGetProperty("data", out var data) &&
                   data.TryGetProperty("activeSilos", out var n) ? n.GetInt32() : 0;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return 0;
        }
    }
}
