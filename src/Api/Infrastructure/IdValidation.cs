using System.Text.RegularExpressions;

namespace Lectures.Api.Infrastructure;

/// <summary>
/// Path ids become grain keys and Redis keys, so they are checked once, before any endpoint runs:
/// every route value named like an id must match <see cref="Pattern"/>, else 400 <c>validation</c>.
/// </summary>
public static partial class IdValidation
{
    public const string Pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

    // \z, not $: in .NET "$" also matches before a final newline, which would let "id\n" through.
    private const string StrictPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\z";

    private static readonly HashSet<string> IdNames =
        ["lectureId", "robotId", "sessionId", "roomCode", "playerId", "agentId", "userId", "jobId", "workerId"];

    [GeneratedRegex(StrictPattern, RegexOptions.CultureInvariant)]
    private static partial Regex IdRegex();

    public static bool IsValid(string? id) => id is not null && IdRegex().IsMatch(id);

    public static IApplicationBuilder UseIdValidation(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        foreach (var (name, value) in http.Request.RouteValues)
        {
            if (IdNames.Contains(name) && !IsValid(value as string))
            {
                await Problems.WriteValidationAsync(http, name, $"{name} must match {Pattern}.");
                return;
            }
        }

        await next(http);
    });
}
