using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lectures.Api.Infrastructure;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Platform;

/// <summary>The live OpenAPI document describes every operation so client generators and Redocly's recommended rules accept it.</summary>
[Collection(ApiCollection.Name)]
public sealed partial class OpenApiTests(ApiFixture api)
{
    [Fact]
    public async Task Every_operation_has_a_unique_camelCase_operationId_a_summary_and_its_problems()
    {
        var document = await (await api.Http.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        var ids = new List<string>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "put" or "post" or "delete"))
            {
                var where = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                Assert.True(operation.Value.TryGetProperty("operationId", out var id), $"{where} has no operationId");
                Assert.Matches(CamelCase(), id.GetString());
                ids.Add(id.GetString()!);
                Assert.False(string.IsNullOrWhiteSpace(operation.Value.GetProperty("summary").GetString()), $"{where} has no summary");
                var responses = operation.Value.GetProperty("responses");
                Assert.True(responses.TryGetProperty("400", out _) && responses.TryGetProperty("503", out _), $"{where} lists no 400/503 problems");
                if (path.Name.EndsWith("/events", StringComparison.Ordinal))
                {
                    Assert.True(responses.GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _), $"{where} is not text/event-stream");
                }
            }
        }

        Assert.NotEmpty(ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal("Lectures backend API", document.GetProperty("info").GetProperty("title").GetString());
        Assert.False(string.IsNullOrWhiteSpace(document.GetProperty("info").GetProperty("description").GetString()));
    }

    [Fact]
    public async Task Every_declared_tag_has_operations_and_no_nullable_value_is_a_oneOf_that_null_matches_twice()
    {
        var text = await api.Http.GetStringAsync("/openapi/v1.json");
        var document = JsonDocument.Parse(text).RootElement;
        var used = document.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject())
            .SelectMany(o => o.Value.GetProperty("tags").EnumerateArray().Select(t => t.GetString())).ToHashSet();
        Assert.All(document.GetProperty("tags").EnumerateArray(), t => Assert.Contains(t.GetProperty("name").GetString(), used));
        // A oneOf that lists null beside a schema that admits null too (a free JSON value, an enum with null) refuses null.
        Assert.DoesNotContain("\"oneOf\":[{\"type\":\"null\"}", text.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("UserSessionResponse").GetProperty("properties").TryGetProperty("history", out _));
        Assert.True(schemas.GetProperty("SessionResponse").GetProperty("properties").TryGetProperty("contents", out _));
    }

    [Fact]
    public void Two_types_of_one_name_get_a_schema_name_each()
    {
        var names = OpenApiConventions.UniqueSchemaNames();
        var options = JsonSerializerOptions.Default;

        var first = names(options.GetTypeInfo(typeof(Lecturing.Same)));
        var second = names(options.GetTypeInfo(typeof(Chatting.Same)));

        Assert.Equal("Same", first);
        Assert.NotNull(second);
        Assert.NotEqual(first, second);
        Assert.Matches("^[A-Za-z0-9._-]+$", second);
        Assert.Equal(first, names(options.GetTypeInfo(typeof(Lecturing.Same))));
    }

    private static class Lecturing
    {
        public sealed record Same(string Contents);
    }

    private static class Chatting
    {
        public sealed record Same(string History);
    }

    [Fact]
    public async Task The_live_document_lints_with_no_errors_under_Redocly_recommended_rules()
    {
        var redocly = FindRedocly();
        if (redocly is null)
        {
            Assert.False(RedisServer.IsCi, "CI must install @redocly/cli (see .ci/run)");
            return;
        }

        var folder = Directory.CreateTempSubdirectory("openapi-lint");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "openapi.json"), await api.Http.GetStringAsync("/openapi/v1.json"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Platform", "redocly.yaml"), Path.Combine(folder.FullName, "redocly.yaml"));
            var start = new ProcessStartInfo(redocly.Value.File) { WorkingDirectory = folder.FullName, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in redocly.Value.Args.Concat(["lint", "openapi.json", "--format=summary"]))
            {
                start.ArgumentList.Add(arg);
            }

            using var lint = Process.Start(start)!;
            var output = await lint.StandardOutput.ReadToEndAsync() + await lint.StandardError.ReadToEndAsync();
            await lint.WaitForExitAsync();
            Assert.True(lint.ExitCode == 0, output);
            Assert.DoesNotContain("error ", output);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The installed <c>redocly</c> (CI installs it), else npx with the pinned version, else none.</summary>
    private static (string File, string[] Args)? FindRedocly()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator);
        if (path.Select(p => Path.Combine(p, "redocly")).FirstOrDefault(File.Exists) is { } installed)
        {
            return (installed, []);
        }

        return path.Select(p => Path.Combine(p, "npx")).FirstOrDefault(File.Exists) is { } npx
            ? (npx, ["--yes", "@redocly/cli@2.77.0"])
            : null;
    }

    [GeneratedRegex("^[a-z][A-Za-z0-9]*$")]
    private static partial Regex CamelCase();
}
