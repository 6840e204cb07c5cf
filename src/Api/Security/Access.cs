using Lectures.Api.Errors;
using System.Net;
using System.Security.Claims;
using Lectures.Grains.Hosting;
using Microsoft.AspNetCore.Authorization;

namespace Lectures.Api.Security;

/// <summary>
/// Who may do what (API.md, Authentication): one policy per capability, each a list of roles and, for roles that act
/// as somebody, the route value that must be their own subject. Bodies that name an actor (a worker's workerId, a
/// player's senderId) are checked by <see cref="RequireOwnSubject"/>. Routes declare their policy where they are mapped.
/// </summary>
public static class Access
{
    public const string Admin = "admin";
    public const string Client = "client";
    public const string ReadJobs = "read-jobs";
    public const string Worker = "worker";
    public const string ReadLectures = "read-lectures";
    public const string ReadRuns = "read-runs";
    public const string Robot = "robot";
    public const string Player = "player";
    public const string ReadRooms = "read-rooms";
    public const string User = "user";
    /// <summary>Any valid key (what it may then do is decided per resource).</summary>
    public const string AnyKey = "any-key";

    public static WebApplicationBuilder AddApiSecurity(this WebApplicationBuilder builder, ILogger startupLog)
    {
        var auth = StartupOptions.Read<AuthOptions>(builder.Configuration, AuthOptions.Section);
        AnonymousAccess.Check(builder.Configuration, auth);
        if (auth.Keys.Count == 0)
        {
            startupLog.LogWarning("No API keys configured (Auth:Keys): every request is accepted without a key, which is allowed only " +
                "because the API listens on loopback addresses. Configure keys before exposing it (README, Authentication).");
        }

        builder.Services.AddValidatedOptions<AuthOptions>(builder.Configuration, AuthOptions.Section);
        // Registered, so the per-request handler comes from a compiled factory instead of reflection (ActivatorUtilities).
        builder.Services.AddSingleton<ApiKeyAuthentication.KeyDigests>().AddTransient<ApiKeyAuthentication>();
        builder.Services.AddAuthentication(ApiKeyAuthentication.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
        builder.Services.AddSingleton<IAuthorizationHandler, AccessHandler>();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Admin, Allow())
            .AddPolicy(Client, Allow((Roles.Client, null)))
            .AddPolicy(ReadJobs, Allow((Roles.Client, null), (Roles.Worker, null)))
            .AddPolicy(Worker, Allow((Roles.Worker, null)))
            .AddPolicy(ReadLectures, Allow((Roles.Client, null), (Roles.Robot, null)))
            .AddPolicy(ReadRuns, Allow((Roles.Client, null), (Roles.Robot, "robotId")))
            .AddPolicy(Robot, Allow((Roles.Robot, "robotId")))
            .AddPolicy(Player, Allow((Roles.Player, null)))
            .AddPolicy(ReadRooms, Allow((Roles.Client, null), (Roles.Player, null)))
            .AddPolicy(User, Allow((Roles.User, "userId")))
            .AddPolicy(AnyKey, Allow([.. Roles.All.Select(r => (r!, (string?)null))]))
            // A route that forgot to declare its policy is admin-only, never open.
            .SetFallbackPolicy(Allow());
        return builder;
    }

    /// <summary>Refuses with 403 when a caller of <paramref name="role"/> names somebody else in the body.</summary>
    public static RouteHandlerBuilder RequireOwnSubject<TBody>(this RouteHandlerBuilder builder, string role, Func<TBody, string?> actor) =>
        builder.AddEndpointFilter((context, next) =>
        {
            var user = context.HttpContext.User;
            if (user.IsInRole(role) && context.Arguments.OfType<TBody>().FirstOrDefault() is { } body && actor(body) != Subject(user))
            {
                return RefuseAsync(context.HttpContext, role);
            }

            // No state machine on the way through: this runs on every worker, robot, player and user request.
            return next(context);
        });

    private static async ValueTask<object?> RefuseAsync(HttpContext http, string role)
    {
        await Problems.WriteAsync(http, 403, "forbidden", "Forbidden", $"A {role} key may act only as its own subject.");
        return Results.Empty;
    }

    public static string? Subject(ClaimsPrincipal user) => (user.Identity is ApiKeyIdentity key ? key.FindFirst(ApiKeyAuthentication.SubjectClaim) : user.FindFirst(ApiKeyAuthentication.SubjectClaim))?.Value;

    // The policies name no scheme: the API-key scheme is the default, so the authentication middleware's principal is
    // used as is (naming it here authenticated every request a second time and merged the principals anew).
    private static AuthorizationPolicy Allow(params (string Role, string? OwnRouteValue)[] grants) =>
        new AuthorizationPolicyBuilder().RequireAuthenticatedUser()
            .AddRequirements(new AccessRequirement([(Roles.Admin, null), .. grants])).Build();

    private sealed record AccessRequirement(IReadOnlyList<(string Role, string? OwnRouteValue)> Grants) : IAuthorizationRequirement;

    private sealed class AccessHandler : AuthorizationHandler<AccessRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AccessRequirement requirement)
        {
            var route = (context.Resource as HttpContext)?.Request.RouteValues;
            foreach (var (role, own) in requirement.Grants)
            {
                if (context.User.IsInRole(role) && (own is null || (route?[own] as string) == Subject(context.User)))
                {
                    context.Succeed(requirement);
                    break;
                }
            }

            return Task.CompletedTask;
        }
    }
}

/// <summary>Without keys the product is easy to try, but only where nobody else can reach it.</summary>
public static class AnonymousAccess
{
    public static void Check(IConfiguration configuration, AuthOptions auth)
    {
        if (auth.Keys.Count > 0)
        {
            return;
        }

        var urls = (configuration[WebHostDefaults.ServerUrlsKey] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"] ?? ""))
            .Concat((configuration["HTTP_PORTS"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => $"http://*:{p}"))
            .Concat((configuration["HTTPS_PORTS"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => $"https://*:{p}"));
        if (urls.FirstOrDefault(url => !IsLoopback(url)) is { } exposed)
        {
            throw new InvalidOperationException(
                $"No API keys are configured (Auth:Keys) and the API would listen on {exposed}, which is not a loopback address. " +
                "Configure API keys (README, Authentication) or listen on 127.0.0.1 only.");
        }
    }

    private static bool IsLoopback(string url)
    {
        var host = url.Split("://", 2) is [_, var rest] ? rest.Split('/')[0] : url;
        host = host.StartsWith('[') ? host[1..host.IndexOf(']')] : host.Split(':')[0];
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }
}
