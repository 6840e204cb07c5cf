using System.Net;
using System.Text;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Security;

/// <summary>
/// Hostile input on every route the OpenAPI document lists (so a new route is covered without editing this file): bad
/// ids, malformed, deeply nested and wrongly typed JSON, huge numbers, oversized bodies and fields, wrong content
/// types. Every case gets a 4xx problem document, the resources it aimed at read the same afterwards, and the host stays healthy.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class HostileInputTests(ApiFixture api)
{
    private static readonly string[] BadIds =
    [
        // ".." is resolved by the client's URI handling before it is sent; BadInputTests covers what reaches the server.
        "has%20space", "a%2Fb", "ctl%01char", "tab%09id", "-dash", new string('x', 200), "j%D0%BEb" /* Cyrillic o */,
        "semi;colon", "%E2%80%AEreversed", "nul%00", "quote%22", "star*",
    ];

    private static readonly (string Name, string Body, string ContentType)[] BadBodies =
    [
        ("malformed", "{\"a\":", "application/json"),
        ("not json", "hello", "application/json"),
        ("empty", "", "application/json"),
        ("array", "[1,2,3]", "application/json"),
        ("number", "42", "application/json"),
        ("null", "null", "application/json"),
        ("deeply nested", new string('[', 5000) + new string(']', 5000), "application/json"),
        ("deep object", string.Concat(Enumerable.Repeat("{\"a\":", 3000)) + "1" + new string('}', 3000), "application/json"),
        ("huge number", "{\"progress\":1e400,\"limit\":1e400}", "application/json"),
        ("oversized", "{\"text\":\"" + new string('a', 1024 * 1024) + "\"}", "application/json"),
        ("text/plain", "{}", "text/plain"),
        ("form", "a=b", "application/x-www-form-urlencoded"),
    ];

    [Fact]
    public async Task Every_route_answers_hostile_input_with_a_4xx_problem_and_changes_nothing()
    {
        var document = await (await api.Http.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        var ids = new Dictionary<string, string>
        {
            ["jobId"] = Ids.New("hj"), ["lectureId"] = Ids.New("hl"), ["robotId"] = "r1", ["sessionId"] = "s1", ["roomCode"] = Ids.New("hr"),
            ["playerId"] = "p1", ["userId"] = Ids.New("hu"),
        };
        await Seed(ids);
        var reads = document.GetProperty("paths").EnumerateObject()
            .Where(p => p.Value.TryGetProperty("get", out _) && !p.Name.EndsWith("/events", StringComparison.Ordinal))
            .Select(p => Fill(p.Name, ids)).ToList();
        var before = await ReadAll(reads);
        var cases = 0;
        var failures = new List<string>();

        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "put" or "post" or "delete"))
            {
                var method = new HttpMethod(operation.Name.ToUpperInvariant());
                var parameters = System.Text.RegularExpressions.Regex.Matches(path.Name, "{(\\w+)}").Select(m => m.Groups[1].Value).ToList();
                foreach (var parameter in parameters)
                {
                    foreach (var bad in BadIds)
                    {
                        var target = Fill(path.Name.Replace("{" + parameter + "}", bad), ids);
                        cases++;
                        await Check(method, target, operation.Name is "put" or "post" ? "{}" : null, "application/json", failures, allowNotFound: true);
                    }
                }

                if (operation.Value.TryGetProperty("requestBody", out var requestBody))
                {
                    var target = Fill(path.Name, ids);
                    foreach (var (name, body, contentType) in BadBodies)
                    {
                        cases++;
                        await Check(method, target, body, contentType, failures, allowNotFound: false, name);
                    }

                    cases++;
                    await Check(method, target, OversizedFields(document, requestBody), "application/json", failures, allowNotFound: false, "oversized fields");
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} cases failed:\n" + string.Join('\n', failures.Take(40)));
        Assert.Equal(before, await ReadAll(reads));
        await (await api.Http.GetAsync("/health/ready")).Expect(HttpStatusCode.OK);
    }

    private async Task Check(HttpMethod method, string target, string? body, string contentType, List<string> failures, bool allowNotFound, string what = "bad id")
    {
        using var request = new HttpRequestMessage(method, target);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new(contentType);
        }

        // The server may refuse an oversized body before it is sent: ask first, as a careful client does.
        request.Headers.ExpectContinue = body is { Length: > 64 * 1024 };
        HttpResponseMessage response;
        try
        {
            response = await api.Http.SendAsync(request);
        }
        catch (HttpRequestException) when (what == "oversized")
        {
            // Answered 413 and closed the connection while the client was still writing (BadInputTests reads that 413).
            return;
        }

        using var _ = response;
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        if (status == 400 && text.Length == 0 && target.Contains("%00", StringComparison.Ordinal))
        {
            // Kestrel refuses a NUL in the request line itself, before any middleware could write a problem document.
            return;
        }

        var ok = status is >= 400 and < 500 && (allowNotFound || status != 404 || text.Contains("\"code\"", StringComparison.Ordinal))
            && response.Content.Headers.ContentType?.MediaType == "application/problem+json" && text.Contains("\"code\"", StringComparison.Ordinal);
        if (!ok)
        {
            failures.Add($"{method} {target[..Math.Min(target.Length, 120)]} ({what}): {status} {text[..Math.Min(text.Length, 200)]}");
        }
    }

    /// <summary>Every string property of the body's schema set to 70,000 characters: over every documented maximum.</summary>
    private static string OversizedFields(JsonElement document, JsonElement requestBody)
    {
        var schema = requestBody.GetProperty("content").EnumerateObject().First().Value.GetProperty("schema");
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        var fields = new Dictionary<string, object>();
        if (schema.TryGetProperty("properties", out var properties))
        {
            foreach (var property in properties.EnumerateObject().Take(3))
            {
                fields[property.Name] = new string('z', 70_000);
            }
        }

        return JsonSerializer.Serialize(fields.Count == 0 ? new Dictionary<string, object> { ["x"] = new string('z', 70_000) } : fields);
    }

    private async Task Seed(Dictionary<string, string> ids)
    {
        await (await api.Http.PostJson("/api/jobs", new { kind = "video", jobId = ids["jobId"] })).Expect(HttpStatusCode.Created);
        await (await api.Http.PostJson($"/api/jobs/{ids["jobId"]}/start", new { workerId = "w1" })).Expect(HttpStatusCode.OK);
        await api.Http.PutAsync($"/api/lectures/{ids["lectureId"]}", HttpAssertions.Json(
            """{"title":"t","topics":[{"topicId":"t1","title":"T","contents":["a"],"timeList":[1]}]}"""));
        await api.Http.PostJson($"/api/lectures/{ids["lectureId"]}/robots/r1/sessions", new { topicId = "t1", language = "en" });
        await api.Http.PutAsync($"/api/rooms/{ids["roomCode"]}", HttpAssertions.Json("""{"agents":[{"agentId":"a1","name":"Ann","persona":"kind"}],"replyPolicy":"all"}"""));
        await api.Http.PutAsync($"/api/rooms/{ids["roomCode"]}/players/p1", null);
    }

    private async Task<List<string>> ReadAll(IEnumerable<string> paths)
    {
        var results = new List<string>();
        foreach (var path in paths)
        {
            using var response = await api.Http.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            // Read-only and time-independent: drop the trace id a problem document carries.
            results.Add($"{path} {(int)response.StatusCode} {System.Text.RegularExpressions.Regex.Replace(text, "\"traceId\":\"[^\"]*\"", "")}");
        }

        return results;
    }

    private static string Fill(string template, Dictionary<string, string> ids) =>
        ids.Aggregate(template, (path, id) => path.Replace("{" + id.Key + "}", id.Value));
}
