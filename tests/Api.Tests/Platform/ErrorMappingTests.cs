using Lectures.Api.Errors;
using System.Text.Json;
using Lectures.Grains.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Persistence.Redis;
using Orleans.Runtime;

namespace Lectures.Api.Tests.Platform;

/// <summary>The one place that turns exceptions into problem documents: kinds to statuses, failures by exception type.</summary>
public sealed class ErrorMappingTests
{
    public static TheoryData<string, Exception, int, string> Cases => new()
    {
        { "not found", DomainException.NotFound("job.not_found", "no"), 404, "job.not_found" },
        { "conflict", DomainException.Conflict("job.terminal", "done"), 409, "job.terminal" },
        { "invalid", DomainException.Invalid("progress", "bad"), 400, "validation" },
        { "precondition", DomainException.PreconditionFailed(7), 412, "precondition_failed" },
        { "store", new StorageUnavailableException("down"), 503, "storage_unavailable" },
        { "redis provider", new RedisStorageException("down"), 503, "storage_unavailable" },
        { "wrapped store", new OrleansException("call failed", new RedisStorageException("down")), 503, "storage_unavailable" },
        { "timeout", new TimeoutException("late"), 503, "unavailable" },
        { "wrapped timeout", new OrleansException("call failed", new TimeoutException("late")), 503, "unavailable" },
        { "aggregate timeout", new AggregateException(new TimeoutException("late")), 503, "unavailable" },
        { "silo gone", new SiloUnavailableException("gone"), 503, "unavailable" },
        { "bug", new InvalidOperationException("secret internals"), 500, "internal" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_failure_maps_to_its_status_and_code(string name, Exception exception, int status, string code)
    {
        var http = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging()
                .AddProblemDetails(o => o.CustomizeProblemDetails = Problems.AddCode).BuildServiceProvider(),
        };
        http.Response.Body = new MemoryStream();

        Assert.True(await new ApiExceptionHandler(NullLogger<ApiExceptionHandler>.Instance).TryHandleAsync(http, exception, default), name);

        Assert.Equal(status, http.Response.StatusCode);
        http.Response.Body.Position = 0;
        var problem = JsonDocument.Parse(http.Response.Body).RootElement;
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.DoesNotContain("secret", problem.ToString());
        if (status == 412)
        {
            Assert.Equal("\"7\"", problem.GetProperty("currentETag").GetString());
        }
    }
}
