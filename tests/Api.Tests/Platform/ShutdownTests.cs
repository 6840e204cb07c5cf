using System.Net;
using System.Net.Http.Headers;
using Lectures.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Lectures.Api.Tests.Platform;

/// <summary>A host asked to stop (SIGTERM) stops, gracefully and in bounded time: with clients connected and with Redis down.</summary>
[Collection(RedisCollection.Name)]
public sealed class ShutdownTests(ITestOutputHelper output)
{
    // Orleans logs its graceful/non-graceful stop at Debug.
    private static readonly Dictionary<string, string?> Verbose = new() { ["Logging:LogLevel:Orleans.Runtime.Silo"] = "Debug" };

    [Fact]
    public async Task A_host_with_an_open_event_stream_stops_gracefully_within_5_seconds()
    {
        var host = await HostProcess.StartApiAsync(Verbose);
        await using (host)
        {
            var jobId = Ids.New("sse-stop");
            await (await host.Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/jobs/{jobId}/events");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var sse = new HttpClient { BaseAddress = host.Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
            using var response = await sse.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var stream = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("id:", await stream.ReadLineAsync());

            var stopped = await host.TerminateAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"stop with an open SSE client: {stopped?.TotalSeconds:0.00} s");

            Assert.True(stopped < TimeSpan.FromSeconds(5), $"stopped after {stopped?.TotalSeconds:0.0} s (null: still running after 30 s)\n{host.Output}");
            Assert.Contains("Silo shutdown completed (graceful)", host.Output);
            // The stream was ended by the server, not cut by the process dying mid-write.
            while (await stream.ReadLineAsync() is not null)
            {
            }
        }
    }

    [RedisFact]
    public async Task A_host_stops_within_30_seconds_while_Redis_is_down()
    {
        var own = RedisServer.Durable();
        await own.InitializeAsync();
        try
        {
            var serviceId = Ids.New("stop-redis-down");
            var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>(Verbose)
            {
                ["ConnectionStrings:Redis"] = own.ConnectionString,
                ["Orleans:ServiceId"] = serviceId,
                ["Orleans:ClusterId"] = serviceId,
            });
            await using (host)
            {
                var jobId = Ids.New("job");
                await (await host.Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
                own.Stop();

                var stopped = await host.TerminateAsync(TimeSpan.FromSeconds(45));
                output.WriteLine($"stop with Redis down: {stopped?.TotalSeconds:0.00} s");

                Assert.True(stopped < TimeSpan.FromSeconds(30), $"stopped after {stopped?.TotalSeconds:0.0} s (null: still running after 45 s)\n{host.Output}");
            }
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("Api", "Jobs:HeartbeatTimeout", "00:00:60")]
    [InlineData("Api", "Jobs:HeartbeatTimeout", "00:00:00")]
    [InlineData("Api", "Jobs:HeartbeatTimeout", "-00:00:05")]
    [InlineData("Silo", "Jobs:HeartbeatTimeout", "00:00:60")]
    [InlineData("Api", "Orleans:SiloPort", "eleven")]
    [InlineData("Api", "Api:MaxBodyBytes", "0")]
    public async Task A_bad_option_stops_the_host_at_start_naming_the_key(string project, string key, string value)
    {
        await using var host = HostProcess.Launch(project, new Dictionary<string, string?> { [key] = value });

        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitCode is not null and not 0, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains(key, host.Output);
        // Refused before the silo joined the cluster: it never started.
        Assert.DoesNotContain("Orleans Silo started", host.Output);
    }
}
