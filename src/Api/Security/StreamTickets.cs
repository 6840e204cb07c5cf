using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Lectures.Api.Infrastructure;
using Lectures.Api.Validation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.Options;

namespace Lectures.Api.Security;

/// <summary>Marks a <c>GET .../events</c> route: it also accepts <c>?ticket=</c> from <see cref="StreamTickets"/>.</summary>
public sealed class EventStreamRoute
{
    public static readonly EventStreamRoute Instance = new();
}

/// <summary>
/// Stream tickets: a browser's <c>EventSource</c> cannot send a key header, so a key asks for a ticket that opens one
/// event stream path (as <c>?ticket=</c>) with the key's role and subject until it expires. A ticket is the path, the
/// role, the subject and the key's index, sealed with a time-limited Data Protection protector: nothing is stored, any
/// API silo sharing the key ring reads it, and a changed or expired one does not unprotect. Neither keys nor tickets
/// are logged (the request log lines that carry the query string are filtered out, see <see cref="BrowserAccess"/>).
/// </summary>
public sealed class StreamTickets(IDataProtectionProvider protection, IOptions<AuthOptions> auth, TimeProvider clock)
{
    public const string QueryName = "ticket";

    private readonly ITimeLimitedDataProtector _protector = protection.CreateProtector("Lectures.Api.StreamTickets.v1").ToTimeLimitedDataProtector();

    public (string Ticket, DateTimeOffset ExpiresAt) Issue(string path, ClaimsPrincipal user)
    {
        var expiresAt = clock.GetUtcNow() + auth.Value.StreamTicketLifetime;
        var payload = new Payload(path, user.FindFirst(ClaimTypes.Role)?.Value ?? "", Access.Subject(user), ApiKeyAuthentication.PartitionKey(new DefaultHttpContext { User = user }));
        return (_protector.Protect(JsonSerializer.Serialize(payload), expiresAt), expiresAt);
    }

    /// <summary>The principal a ticket stands for on <paramref name="path"/>; null when it is forged, expired, or for another path.</summary>
    public ClaimsPrincipal? Read(string ticket, string path)
    {
        Payload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<Payload>(_protector.Unprotect(ticket, out _));
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or JsonException)
        {
            return null;
        }

        if (payload is null || !string.Equals(payload.Path, path, StringComparison.Ordinal))
        {
            return null;
        }

        var claims = new List<Claim> { new(ClaimTypes.Role, payload.Role) };
        if (payload.Subject is { } subject)
        {
            claims.Add(new Claim(ApiKeyAuthentication.SubjectClaim, subject));
        }

        if (payload.KeyId is { } keyId)
        {
            claims.Add(new Claim(ApiKeyAuthentication.KeyIdClaim, keyId));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, ApiKeyAuthentication.SchemeName));
    }

    private sealed record Payload(string Path, string Role, string? Subject, string? KeyId);
}

public static class StreamTicketApi
{
    public static IEndpointRouteBuilder MapStreamTicketApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/stream-tickets", Create).WithTags("Stream tickets").RequireAuthorization(Access.AnyKey).Describe("createStreamTicket",
            "A ticket that opens one event stream (path: a GET .../events route the key may read, as the route renders it) as ?ticket= " +
            "for Auth:StreamTicketLifetime, any number of times, on any API silo, with this key's role and subject: for a browser's " +
            "EventSource, which cannot send a key header. url is the stream's address with the ticket",
            [.. OpenApiConventions.Body]);
        return routes;
    }

    public static async Task<Created<StreamTicketResponse>> Create(StreamTicketRequest body, HttpContext http, EndpointDataSource endpoints,
        IAuthorizationService authorization, IAuthorizationPolicyProvider policies, StreamTickets tickets)
    {
        var path = body.Path!;
        var (endpoint, values) = Match(endpoints, path)
            ?? throw Grains.Common.DomainException.Invalid("path", "path must be the path of a GET .../events route, such as /api/rooms/{roomCode}/events.");

        // The stream route's own policy, decided for this key as if it asked for the stream itself.
        var target = new DefaultHttpContext { RequestServices = http.RequestServices, User = http.User };
        target.Request.Method = HttpMethods.Get;
        target.Request.Path = path;
        target.Request.RouteValues = values;
        var policy = await AuthorizationPolicy.CombineAsync(policies, endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>(),
            endpoint.Metadata.GetOrderedMetadata<AuthorizationPolicy>());
        if (policy is not null && !(await authorization.AuthorizeAsync(http.User, target, policy)).Succeeded)
        {
            throw Grains.Common.DomainException.Forbidden("forbidden", "This API key may not read that event stream.");
        }

        // A player reads only the rooms it is a player of: refused here as its stream would be (checked again when opened).
        if (values["roomCode"] is string roomCode && !await Rooms.RoomApi.MayReadAsync(http, roomCode))
        {
            throw Grains.Common.DomainException.Forbidden("forbidden", "A player key may read only the rooms it is a player of.");
        }

        var (ticket, expiresAt) = tickets.Issue(path, http.User);
        var url = UriHelper.BuildAbsolute(http.Request.Scheme, http.Request.Host, http.Request.PathBase, path, QueryString.Create(StreamTickets.QueryName, ticket));
        return TypedResults.Created((string?)null, new StreamTicketResponse(ticket, url, expiresAt));
    }

    /// <summary>The event stream route <paramref name="path"/> names, with its route values; null for anything else.</summary>
    private static (RouteEndpoint Endpoint, RouteValueDictionary Values)? Match(EndpointDataSource endpoints, string path)
    {
        // As the route renders it: one exact path, so a ticket never opens a second spelling of it.
        if (!path.StartsWith("/api/", StringComparison.Ordinal) || path.EndsWith('/') || path.Contains("//", StringComparison.Ordinal))
        {
            return null;
        }

        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<EventStreamRoute>() is null)
            {
                continue;
            }

            var values = new RouteValueDictionary();
            if (new TemplateMatcher(new RouteTemplate(endpoint.RoutePattern), []).TryMatch(path, values)
                && values.Values.All(v => v is string id && IdValidation.IsValid(id)))
            {
                return (endpoint, values);
            }
        }

        return null;
    }
}

public sealed record StreamTicketRequest([property: Required, StringLength(1024)] string? Path);

public sealed record StreamTicketResponse(string Ticket, string Url, DateTimeOffset ExpiresAt);
