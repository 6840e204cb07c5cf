using System.Text.RegularExpressions;

namespace Lectures.Api.Validation;

/// <summary>
/// Path ids become grain keys and Redis keys. Every route parameter of the API is an id, so one filter per route
/// group checks them before any handler runs; ids inside bodies use <see cref="Pattern"/> in their DataAnnotations.
/// </summary>
public static partial class IdValidation
{
    /// <summary>The documented pattern (API.md, OpenAPI).</summary>
    public const string DocumentedPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

    // \z, not $: in .NET "$" also matches before a final newline, which would let "id\n" through.
    public const string Pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\z";

    public const string Message = "must match " + DocumentedPattern + ".";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex IdRegex();

    public static bool IsValid(string? id) => id is not null && IdRegex().IsMatch(id);

    /// <summary>Refuses a request whose route parameters are not valid ids with 400 <c>validation</c>.</summary>
    public static TBuilder ValidateIds<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter((context, next) =>
        {
            var routeValues = context.HttpContext.Request.RouteValues;
            foreach (var (_, value) in routeValues)
            {
                if (!IsValid(value as string))
                {
                    var errors = routeValues.Where(r => !IsValid(r.Value as string)).ToDictionary(r => r.Key, r => new[] { $"{r.Key} {Message}" });
                    return ValueTask.FromResult<object?>(TypedResults.ValidationProblem(errors, "The path names an invalid id."));
                }
            }

            return next(context);
        });
}

/// <summary>Documented maximum lengths (API.md, Conventions).</summary>
public static class Limits
{
    public const int MaxTextChars = 8_000;
    public const int MaxNameChars = 200;
    public const int MaxJsonFieldChars = 64 * 1024;
}
