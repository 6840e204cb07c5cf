using Lectures.Api.Errors;
using System.Globalization;
using Microsoft.AspNetCore.OpenApi;
using Lectures.Api.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace Lectures.Api.Infrastructure;

/// <summary>
/// What the OpenAPI document says about each operation, declared next to its route: a camelCase operationId (client
/// generators name methods from it), a summary, and every problem it can answer with its stable code. The document
/// itself gets a title, a description, tag descriptions and one relative server (the host that serves it).
/// </summary>
public static class OpenApiConventions
{
    /// <summary>Problems every route of a feature can answer.</summary>
    public static readonly string[] Common =
        ["400 validation", "401 unauthorized", "403 forbidden", "429 rate_limited", "503 storage_unavailable", "503 unavailable"];

    /// <summary>Problems of a route that takes a JSON body.</summary>
    public static readonly string[] Body = ["413 payload_too_large", "415 unsupported_media_type"];

    public static RouteHandlerBuilder Describe(this RouteHandlerBuilder builder, string operationId, string summary, params string[] problems)
    {
        builder.WithName(operationId).WithSummary(summary);
        var all = problems.Concat(Common).ToList();
        foreach (var status in all.Select(p => int.Parse(p[..3], CultureInfo.InvariantCulture)).Distinct())
        {
            builder.ProducesProblem(status);
        }

        return builder.WithDescription("Problem codes: " + string.Join(", ", all.Select(p => $"{p[..3]} `{p[4..]}`")) + ".");
    }

    /// <summary>A Server-Sent Events route: the 200 is <c>text/event-stream</c>; no request timeout; open streams capped per key.</summary>
    public static RouteHandlerBuilder EventStream(this RouteHandlerBuilder builder)
    {
        builder.Produces<string>(StatusCodes.Status200OK, "text/event-stream").AsEventStream().WithMetadata(EventStreamRoute.Instance);
        return builder;
    }

    public static IServiceCollection AddProductOpenApi(this IServiceCollection services) => services.AddOpenApi(o => o
        .AddOperationTransformer((operation, context, _) =>
        {
            // Every route that requires a policy takes an API key, in either header.
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
            {
                operation.Security = [new() { [new OpenApiSecuritySchemeReference("apiKey", context.Document)] = [] },
                    new() { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] }];
                if (metadata.OfType<EventStreamRoute>().Any())
                {
                    operation.Security.Add(new() { [new OpenApiSecuritySchemeReference("streamTicket", context.Document)] = [] });
                }
            }

            return Task.CompletedTask;
        })
        .AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
            {
                ["apiKey"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = ApiKeyAuthentication.HeaderName,
                    Description = "An API key from Auth:Keys; its role and subject decide what it may do (README, Authentication).",
                },
                ["streamTicket"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Query, Name = StreamTickets.QueryName,
                    Description = "Event streams only: a ticket from POST /api/stream-tickets for this path (a browser's EventSource cannot send headers). " +
                        "It carries the role and subject of the key that asked for it and expires after Auth:StreamTicketLifetime.",
                },
                ["bearer"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "The same API key as 'Authorization: Bearer <key>'.",
                },
            };
            document.Info.Title = "Lectures backend API";
            document.Info.Description =
                "The stateful core of lecture robots, group chats with AI agents, a chatbot and a job service, on Microsoft Orleans. " +
                "Every error is an RFC 9457 problem document with a stable `code`; mutations accept `If-Match`; live updates are " +
                "Server-Sent Events resumable with `Last-Event-ID`.";
            document.Servers = [new OpenApiServer { Url = "/", Description = "The API silo that serves this document" }];
            document.Tags = new HashSet<OpenApiTag>
            {
                new() { Name = "Jobs", Description = "Long-running jobs: claim, progress, heartbeats, stall detection." },
                new() { Name = "Lectures", Description = "Lecture definitions and each robot's run, sessions and state machine." },
                new() { Name = "Rooms", Description = "Group chats with AI agents that answer exactly once per trigger." },
                new() { Name = "Sessions", Description = "Chatbot sessions: one request in flight per user, cancel, clear, rate limits." },
                new() { Name = "Stream tickets", Description = "For browsers: open an event stream with ?ticket= instead of a key header." },
            };
            return Task.CompletedTask;
        }));
}
