using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Lectures.Api.Errors;

/// <summary>
/// Writes a problem document whatever the request's <c>Accept</c> says. The framework's own writer only answers clients
/// that accept JSON, and a browser's EventSource sends <c>Accept: text/event-stream</c> alone: without this writer a
/// refusal of such a request (a 404 on an events route) found no writer, and the exception handler's failure became an
/// empty 500. Registered after the framework's writer, so it only writes what that one declines.
/// </summary>
public sealed class ProblemJsonWriter(IOptions<ProblemDetailsOptions> problems, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        problems.Value.CustomizeProblemDetails?.Invoke(context);
        var problem = context.ProblemDetails;
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(
            problem, problem.GetType(), json.Value.SerializerOptions, "application/problem+json", context.HttpContext.RequestAborted));
    }
}
