using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Security;

/// <summary>A keyed host with one allowed browser origin, short stream tickets and every request line a log may hold switched on.</summary>
public sealed class BrowserHostFixture : IAsyncLifetime
{
    public const string Origin = "http://127.0.0.1:47001";
    public static readonly TimeSpan TicketLifetime = TimeSpan.FromSeconds(3);
    private HostProcess? _host;

    public HostProcess Host => _host!;

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>(ApiFixture.Settings)
        {
            ["Api:Cors:Origins:0"] = Origin,
            ["Auth:StreamTicketLifetime"] = TicketLifetime.ToString(),
            // What an operator hunting a problem might set: the request lines would then carry every query string.
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
        };
        _host = await HostProcess.StartApiAsync(HostProcess.WithKeys(settings, (KeyedHostFixture.Admin, "admin", null), (KeyedHostFixture.Client, "client", null), (KeyedHostFixture.Player, "player", "p1"),
            (KeyedHostFixture.Outsider, "player", "p9"), (KeyedHostFixture.User, "user", "u1")));
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

public sealed class BrowserAccessTests(BrowserHostFixture browser) : IClassFixture<BrowserHostFixture>
{
    private HttpClient Http => browser.Host.Http;

    private static HttpRequestMessage Request(HttpMethod method, string path, string? key, object? body = null, string? origin = BrowserHostFixture.Origin)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return request;
    }

    private async Task<string> RoomWithPlayerAsync()
    {
        var room = Ids.New("browser");
        await (await Http.SendAsync(Request(HttpMethod.Put, $"/api/rooms/{room}", KeyedHostFixture.Client,
            new { agents = new[] { new { agentId = "a1", name = "Ada", persona = "A patient tutor" } } }))).Expect(HttpStatusCode.OK);
        await (await Http.SendAsync(Request(HttpMethod.Put, $"/api/rooms/{room}/players/p1", KeyedHostFixture.Client))).Expect(HttpStatusCode.OK);
        return room;
    }

    private async Task<JsonElement> TicketAsync(string path, string key, HttpStatusCode expected = HttpStatusCode.Created) =>
        await (await Http.SendAsync(Request(HttpMethod.Post, "/api/stream-tickets", key, new { path }))).Expect(expected);

    private async Task<HttpResponseMessage> OpenAsync(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("Origin", BrowserHostFixture.Origin);
        return await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    [Fact]
    public async Task A_preflight_from_an_allowed_origin_is_answered_with_the_contracts_headers()
    {
        var request = Request(HttpMethod.Options, "/api/rooms/any", key: null);
        request.Headers.Add("Access-Control-Request-Method", "PUT");
        request.Headers.Add("Access-Control-Request-Headers", "authorization, x-api-key, content-type, if-match, idempotency-key, last-event-id");

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(BrowserHostFixture.Origin, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
        var allowed = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
        foreach (var header in new[] { "authorization", "x-api-key", "content-type", "if-match", "idempotency-key", "last-event-id" })
        {
            Assert.Contains(header, allowed);
        }

        Assert.Contains("PUT", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Methods")));
    }

    [Fact]
    public async Task Answers_to_an_allowed_origin_carry_CORS_headers_also_on_errors_and_expose_ETag_Location_and_Retry_After()
    {
        var room = await RoomWithPlayerAsync();
        using var ok = await Http.SendAsync(Request(HttpMethod.Get, $"/api/rooms/{room}", KeyedHostFixture.Client));
        using var notFound = await Http.SendAsync(Request(HttpMethod.Get, $"/api/rooms/{Ids.New("none")}", KeyedHostFixture.Client));
        using var unauthorized = await Http.SendAsync(Request(HttpMethod.Get, $"/api/rooms/{room}", key: null));

        foreach (var (response, status) in new[] { (ok, HttpStatusCode.OK), (notFound, HttpStatusCode.NotFound), (unauthorized, HttpStatusCode.Unauthorized) })
        {
            Assert.Equal(status, response.StatusCode);
            Assert.Equal(BrowserHostFixture.Origin, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
            var exposed = string.Join(",", response.Headers.GetValues("Access-Control-Expose-Headers"));
            Assert.Equal(["ETag", "Location", "Retry-After"], exposed.Split(',').Select(h => h.Trim()).Order());
        }
    }

    [Fact]
    public async Task Another_origin_gets_no_CORS_headers()
    {
        var preflight = Request(HttpMethod.Options, "/api/rooms/any", key: null, origin: "http://127.0.0.1:47002");
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        using var refused = await Http.SendAsync(preflight);
        using var get = await Http.SendAsync(Request(HttpMethod.Get, "/api/rooms/any", KeyedHostFixture.Client, origin: "http://127.0.0.1:47002"));

        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(get.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task A_ticket_opens_its_stream_any_number_of_times_with_the_keys_role_and_nothing_else()
    {
        var room = await RoomWithPlayerAsync();
        var path = $"/api/rooms/{room}/events";
        var ticket = await TicketAsync(path, KeyedHostFixture.Player);
        var url = ticket.GetProperty("url").GetString()!;
        var expiresAt = ticket.GetProperty("expiresAt").GetDateTimeOffset();

        Assert.Equal($"{Http.BaseAddress!.ToString().TrimEnd('/')}{path}?ticket={ticket.GetProperty("ticket").GetString()}", url);
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.Zero, BrowserHostFixture.TicketLifetime + TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(KeyedHostFixture.Player, url);
        for (var i = 0; i < 2; i++)
        {
            using var opened = await OpenAsync(url);
            Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
            Assert.Equal("text/event-stream", opened.Content.Headers.ContentType?.MediaType);
            Assert.Equal(BrowserHostFixture.Origin, Assert.Single(opened.Headers.GetValues("Access-Control-Allow-Origin")));
        }

        // The ticket opens that one path: not another room, not another spelling of it, not another route.
        var other = await RoomWithPlayerAsync();
        var query = new Uri(url).Query;
        foreach (var elsewhere in new[] { $"/api/rooms/{other}/events{query}", $"{path}/{query}", $"/api/rooms/{room}{query}", $"/api/rooms/{room}/messages{query}" })
        {
            using var refused = await OpenAsync(elsewhere);
            await refused.ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        }

        // Forged: one character changed.
        var text = ticket.GetProperty("ticket").GetString()!;
        var forged = text[..^3] + (text[^3] == 'A' ? 'B' : 'A') + text[^2..];
        using var forgedAnswer = await OpenAsync($"{path}?ticket={forged}");
        await forgedAnswer.ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task An_expired_ticket_is_refused_with_401()
    {
        var room = await RoomWithPlayerAsync();
        var url = (await TicketAsync($"/api/rooms/{room}/events", KeyedHostFixture.Client)).GetProperty("url").GetString()!;
        using (var first = await OpenAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var status = await Eventually.Poll(async () =>
        {
            using var answer = await OpenAsync(url);
            return answer.StatusCode;
        }, s => s == HttpStatusCode.Unauthorized, BrowserHostFixture.TicketLifetime + TimeSpan.FromSeconds(10), "the ticket expires");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task A_key_gets_tickets_only_for_event_streams_it_may_read()
    {
        var room = await RoomWithPlayerAsync();
        await (await Http.SendAsync(Request(HttpMethod.Post, "/api/stream-tickets", key: null, new { path = $"/api/rooms/{room}/events" })))
            .ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        foreach (var notAStream in new[] { $"/api/rooms/{room}", $"/api/rooms/{room}/events/", "/api/rooms/bad%20id/events", "https://elsewhere/api/rooms/x/events", "" })
        {
            await (await Http.SendAsync(Request(HttpMethod.Post, "/api/stream-tickets", KeyedHostFixture.Client, new { path = notAStream })))
                .ExpectProblem(HttpStatusCode.BadRequest, "validation");
        }

        await TicketAsync("/api/users/u2/events", KeyedHostFixture.User, HttpStatusCode.Forbidden);
        await TicketAsync("/api/jobs/j1/events", KeyedHostFixture.Player, HttpStatusCode.Forbidden);
        await TicketAsync("/api/users/u1/events", KeyedHostFixture.User);
        await TicketAsync("/api/jobs/j1/events", KeyedHostFixture.Client);
        await TicketAsync("/api/lectures/l1/robots/r1/events", KeyedHostFixture.Admin);

        // A player gets no ticket for a room it is not in (403, as its key gets for the stream itself).
        await TicketAsync($"/api/rooms/{room}/events", KeyedHostFixture.Outsider, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Neither_keys_nor_tickets_appear_in_the_log_even_with_request_logging_on()
    {
        var room = await RoomWithPlayerAsync();
        var tickets = new List<string>();
        foreach (var key in new[] { KeyedHostFixture.Client, KeyedHostFixture.Player })
        {
            var ticket = await TicketAsync($"/api/rooms/{room}/events", key);
            tickets.Add(ticket.GetProperty("ticket").GetString()!);
            using var opened = await OpenAsync(ticket.GetProperty("url").GetString()!);
            using var wrongPath = await OpenAsync($"/api/rooms/{room}/messages?ticket={tickets[^1]}");
        }

        // The host does log requests at this level (the lines are there, only without their query strings).
        await Eventually.Poll(() => Task.FromResult(browser.Host.Output), log => log.Contains("/api/stream-tickets", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "request paths in the log");
        var output = browser.Host.Output;
        foreach (var secret in tickets.Concat([KeyedHostFixture.Client, KeyedHostFixture.Player]))
        {
            for (var i = 0; i + 12 <= secret.Length; i += 4)
            {
                Assert.DoesNotContain(secret.Substring(i, 12), output);
            }
        }
    }
}

[Collection(RedisCollection.Name)]
public sealed class ClusterTicketTests(RedisServer redis)
{
    [RedisFact]
    public async Task A_ticket_from_one_API_silo_opens_its_stream_on_another_through_the_key_ring_in_Redis()
    {
        var serviceId = Ids.New("tickets");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Orleans:ServiceId"] = serviceId,
            ["Orleans:ClusterId"] = serviceId,
            ["Auth:Keys:0:Key"] = KeyedHostFixture.Client,
            ["Auth:Keys:0:Role"] = "client",
        };
        await using var first = await HostProcess.StartApiAsync(settings);
        await using var second = await HostProcess.StartApiAsync(settings);
        var jobId = Ids.New("job");
        var create = new HttpRequestMessage(HttpMethod.Post, "/api/jobs") { Content = JsonContent.Create(new { kind = "video", jobId }) };
        create.Headers.Add("X-Api-Key", KeyedHostFixture.Client);
        await (await first.Http.SendAsync(create)).Expect(HttpStatusCode.Created);

        foreach (var (issuer, reader) in new[] { (first, second), (second, first) })
        {
            var ask = new HttpRequestMessage(HttpMethod.Post, "/api/stream-tickets") { Content = JsonContent.Create(new { path = $"/api/jobs/{jobId}/events" }) };
            ask.Headers.Add("X-Api-Key", KeyedHostFixture.Client);
            var ticket = (await (await issuer.Http.SendAsync(ask)).Expect(HttpStatusCode.Created)).GetProperty("ticket").GetString();

            using var opened = await reader.Http.GetAsync($"/api/jobs/{jobId}/events?ticket={ticket}", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        }

        // One key ring for both: the key the first silo created, in Redis.
        await using var connection = await redis.ConnectAsync();
        Assert.Equal(1, await connection.GetDatabase().ListLengthAsync($"{serviceId}/data-protection-keys"));
    }
}
