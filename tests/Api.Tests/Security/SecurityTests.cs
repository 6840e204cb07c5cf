using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Security;

/// <summary>A host with API keys: who may act as which robot, player, user and worker; admin-only operations.</summary>
public sealed class KeyedHostFixture : IAsyncLifetime
{
    public const string Admin = "admin-key-Qw7RtYp2ZxK9mN4v";
    public const string Client = "client-key-Hj3KsLq8WzR5tVx1";
    public const string Worker = "worker-key-w1-Gm6NqPz4RsT8u";
    public const string Robot = "robot-key-r1-Kx2VyWz7QrSt5";
    public const string Player = "player-key-p1-Ln9MqRs3TuVw6";
    public const string Outsider = "player-key-p9-Yz4XwVu8TsRq2";
    public const string User = "user-key-u1-Pq5RsTu9VwXy3Z";
    public static readonly string[] All = [Admin, Client, Worker, Robot, Player, Outsider, User];

    private HostProcess? _host;

    public HostProcess Host => _host!;

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>(ApiFixture.Settings);
        _host = await HostProcess.StartApiAsync(HostProcess.WithKeys(settings, (Admin, "admin", null), (Client, "client", null), (Worker, "worker", "w1"), (Robot, "robot", "r1"),
            (Player, "player", "p1"), (Outsider, "player", "p9"), (User, "user", "u1")));
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

public sealed class SecurityTests(KeyedHostFixture keyed) : IClassFixture<KeyedHostFixture>
{
    private HttpClient Http => keyed.Host.Http;

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, string? key, object? body = null, bool bearer = true)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (key is not null && bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return Http.SendAsync(request);
    }

    [Fact]
    public async Task Requests_without_a_valid_key_get_401_and_health_and_the_document_stay_open()
    {
        await (await Send(HttpMethod.Get, "/api/jobs/any", null)).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        await (await Send(HttpMethod.Get, "/api/jobs/any", "forged-key-Jk8LmNo2PqRsTu")).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        await (await Send(HttpMethod.Get, "/api/jobs/any", KeyedHostFixture.Admin + "x")).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        await (await Send(HttpMethod.Post, "/api/users/u1/messages", null, new { text = "hi" })).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        await (await Http.GetAsync("/health/ready")).Expect(HttpStatusCode.OK);
        await (await Http.GetAsync("/health/live")).Expect(HttpStatusCode.OK);
        await (await Http.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/api-reference")).StatusCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_key_works_as_a_bearer_token_and_as_X_Api_Key(bool bearer)
    {
        var jobId = Ids.New("header");
        await (await Send(HttpMethod.Post, "/api/jobs", KeyedHostFixture.Client, new { kind = "video", jobId }, bearer)).Expect(HttpStatusCode.Created);
        await (await Send(HttpMethod.Get, $"/api/jobs/{jobId}", KeyedHostFixture.Worker, null, bearer)).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Workers_act_only_as_their_own_workerId_and_cannot_create_or_cancel()
    {
        var jobId = Ids.New("owned");
        await (await Send(HttpMethod.Post, "/api/jobs", KeyedHostFixture.Worker, new { kind = "video", jobId })).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, "/api/jobs", KeyedHostFixture.Client, new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/start", KeyedHostFixture.Worker, new { workerId = "w2" })).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/start", KeyedHostFixture.Client, new { workerId = "w1" })).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/start", KeyedHostFixture.Worker, new { workerId = "w1" })).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/progress", KeyedHostFixture.Worker, new { workerId = "w2", progress = 50 })).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/jobs/{jobId}/cancel", KeyedHostFixture.Worker)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");

        var job = await (await Send(HttpMethod.Get, $"/api/jobs/{jobId}", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);
        Assert.Equal(("processing", "w1", 0.0), (job.GetProperty("status").GetString(), job.GetProperty("workerId").GetString(), job.GetProperty("progress").GetDouble()));
    }

    [Fact]
    public async Task Robots_run_lectures_only_as_their_own_robotId()
    {
        var lectureId = Ids.New("lecture");
        var definition = new { title = "t", topics = new[] { new { topicId = "t1", title = "T", contents = new[] { "a" }, timeList = new[] { 1.0 } } } };
        await (await Send(HttpMethod.Put, $"/api/lectures/{lectureId}", KeyedHostFixture.Robot, definition)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Put, $"/api/lectures/{lectureId}", KeyedHostFixture.Client, definition)).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Get, $"/api/lectures/{lectureId}", KeyedHostFixture.Robot)).Expect(HttpStatusCode.OK);
        var start = new { topicId = "t1", language = "en" };
        await (await Send(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/r2/sessions", KeyedHostFixture.Robot, start)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/r1/sessions", KeyedHostFixture.Client, start)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/r1/sessions", KeyedHostFixture.Robot, start)).Expect(HttpStatusCode.Created);
        await (await Send(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/r2/commands", KeyedHostFixture.Robot, new { command = "end" })).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Get, $"/api/lectures/{lectureId}/robots/r1", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Get, $"/api/lectures/{lectureId}", KeyedHostFixture.Player)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Players_post_only_as_themselves_and_read_only_their_rooms()
    {
        var roomCode = Ids.New("room");
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}", KeyedHostFixture.Client,
            new { agents = new[] { new { agentId = "a1", name = "Ann", persona = "kind" } }, replyPolicy = "all" })).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}/players/p1", KeyedHostFixture.Player)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}/players/p1", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}/players/p2", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);

        await (await Send(HttpMethod.Post, $"/api/rooms/{roomCode}/messages", KeyedHostFixture.Player, new { senderId = "p2", text = "as p2", agentIds = Array.Empty<string>() }))
            .ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/rooms/{roomCode}/messages", KeyedHostFixture.Client, new { senderId = "p1", text = "as client", agentIds = Array.Empty<string>() }))
            .ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Post, $"/api/rooms/{roomCode}/messages", KeyedHostFixture.Player, new { senderId = "p1", text = "hello", agentIds = Array.Empty<string>() }))
            .Expect(HttpStatusCode.Created);
        await (await Send(HttpMethod.Get, $"/api/rooms/{roomCode}/messages", KeyedHostFixture.Player)).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Get, $"/api/rooms/{roomCode}", KeyedHostFixture.Outsider)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Get, $"/api/rooms/{roomCode}/messages", KeyedHostFixture.Outsider)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");

        var messages = await (await Send(HttpMethod.Get, $"/api/rooms/{roomCode}/messages", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);
        Assert.Equal(["hello"], messages.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task A_removed_players_open_event_stream_ends_within_a_second_of_its_removal()
    {
        var roomCode = Ids.New("room");
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}", KeyedHostFixture.Client,
            new { agents = new[] { new { agentId = "a1", name = "Ann", persona = "kind" } }, replyPolicy = "all" })).Expect(HttpStatusCode.OK);
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}/players/p1", KeyedHostFixture.Player)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send(HttpMethod.Put, $"/api/rooms/{roomCode}/players/p1", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);

        using var sse = new HttpClient { BaseAddress = Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/rooms/{roomCode}/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedHostFixture.Player);
        using var response = await sse.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("id: ", await reader.ReadLineAsync());

        await (await Send(HttpMethod.Delete, $"/api/rooms/{roomCode}/players/p1", KeyedHostFixture.Client)).Expect(HttpStatusCode.OK);
        var removedAt = System.Diagnostics.Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var seen = new List<string>();
        try
        {
            while (await reader.ReadLineAsync(deadline.Token) is { } line)
            {
                seen.Add(line);
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the stream was still open 5 s after the removal; it sent: {string.Join(" | ", seen)}");
        }

        Assert.True(removedAt.Elapsed < TimeSpan.FromSeconds(2), $"the stream ended {removedAt.Elapsed.TotalSeconds:F1} s after the removal");
        Assert.DoesNotContain(seen, l => l.Contains("\"players\":[]") || l.StartsWith("event: message"));
    }

    [Theory]
    [InlineData("/dashboard")]
    [InlineData("/dashboard/DashboardCounters")]
    [InlineData("/metrics")]
    public async Task The_dashboard_and_metrics_are_for_admin_keys_only(string path)
    {
        await (await Send(HttpMethod.Get, path, null)).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        await (await Send(HttpMethod.Get, path, KeyedHostFixture.Client)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        // Redirects (the dashboard's page) are not followed: HttpClient drops the key when it follows one.
        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Http.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedHostFixture.Admin);
        var status = (int)(await noRedirect.SendAsync(request)).StatusCode;
        Assert.True(status is >= 200 and < 400, $"admin got {status}");
    }

    [Fact]
    public async Task The_dashboards_live_log_stream_is_off_unless_configured()
    {
        // Even an admin gets no live log: it streams every log line of the silo.
        using var response = await Send(HttpMethod.Get, "/dashboard/Trace", KeyedHostFixture.Admin);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("disabled", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task No_key_appears_in_the_log_not_even_in_part()
    {
        await Send(HttpMethod.Get, "/api/jobs/any", "forged-key-Jk8LmNo2PqRsTu");
        foreach (var key in KeyedHostFixture.All)
        {
            await Send(HttpMethod.Get, "/metrics", key);
            await Send(HttpMethod.Get, "/api/jobs/none", key, bearer: false);
        }

        var log = keyed.Host.Output;
        foreach (var key in KeyedHostFixture.All.Append("forged-key-Jk8LmNo2PqRsTu"))
        {
            for (var i = 0; i + 8 <= key.Length; i++)
            {
                Assert.DoesNotContain(key.Substring(i, 8), log);
            }
        }
    }

    [Fact]
    public async Task The_document_declares_the_key_schemes_on_every_api_operation()
    {
        var document = await (await Http.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("X-Api-Key", schemes.GetProperty("apiKey").GetProperty("name").GetString());
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "put" or "post" or "delete"))
            {
                Assert.True(operation.Value.TryGetProperty("security", out _), $"{operation.Name} {path.Name} declares no security");
            }
        }
    }
}

/// <summary>Hosts that must refuse to start, or that limit the edge; each its own process.</summary>
public sealed class EdgeTests
{
    [Fact]
    public async Task Without_keys_a_host_refuses_to_listen_beyond_loopback()
    {
        await using var host = HostProcess.Launch("Api", new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Public:Url"] = $"http://0.0.0.0:{FreePort.Next()}",
        });

        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitCode is not null and not 0, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains("not a loopback address", host.Output);
        Assert.DoesNotContain("Orleans Silo started", host.Output);
    }

    [Fact]
    public async Task Without_keys_on_loopback_the_host_warns_and_serves_anonymously()
    {
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>());

        await (await host.Http.PostJson("/api/jobs", new { kind = "video", jobId = Ids.New("anon") })).Expect(HttpStatusCode.Created);
        Assert.Contains("No API keys configured", host.Output);
    }

    [Fact]
    public async Task A_key_over_its_request_rate_gets_429_with_Retry_After()
    {
        const string key = "client-key-rate-0123456789abcd";
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Auth:Keys:0:Key"] = key,
            ["Auth:Keys:0:Role"] = "client",
            ["Api:Edge:RequestsPerSecond"] = "5",
        });
        host.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => host.Http.GetAsync("/api/jobs/missing")));

        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.InRange(limited.Count, 20, 25);
        await limited[0].ExpectProblem(HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.True(limited[0].Headers.RetryAfter is not null, "Retry-After missing");
        Assert.All(responses.Except(limited), r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        // Health checks are never rate limited (orchestrators probe them).
        await (await host.Http.GetAsync("/health/live")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_key_gets_at_most_its_number_of_open_event_streams()
    {
        const string key = "client-key-sse-0123456789abcde";
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Auth:Keys:0:Key"] = key,
            ["Auth:Keys:0:Role"] = "client",
            ["Api:Edge:EventStreamsPerKey"] = "2",
        });
        host.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var jobId = Ids.New("sse");
        await (await host.Http.PostJson("/api/jobs", new { kind = "video", jobId })).Expect(HttpStatusCode.Created);
        using var sse = new HttpClient { BaseAddress = host.Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        sse.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        using var first = await sse.GetAsync($"/api/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead);
        using var second = await sse.GetAsync($"/api/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead);
        using var third = await sse.GetAsync($"/api/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        await third.ExpectProblem(HttpStatusCode.TooManyRequests, "rate_limited");
    }
}
