using Lectures.Api.Errors;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
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
public static partial class OpenApiConventions
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

        return builder.WithMetadata(new ProblemCodes(all))
            .WithDescription("Problem codes: " + string.Join(", ", all.Select(p => $"{p[..3]} `{p[4..]}`")) + ".");
    }

    /// <summary>The problems an operation can answer, as <c>"404 job.not_found"</c>.</summary>
    public sealed record ProblemCodes(IReadOnlyList<string> Entries);

    /// <summary>A Server-Sent Events route: the 200 is <c>text/event-stream</c>; no request timeout; open streams capped per key.</summary>
    public static RouteHandlerBuilder EventStream(this RouteHandlerBuilder builder)
    {
        builder.Produces<string>(StatusCodes.Status200OK, "text/event-stream").AsEventStream().WithMetadata(EventStreamRoute.Instance);
        return builder;
    }

    public static IServiceCollection AddProductOpenApi(this IServiceCollection services) => services.AddOpenApi(o =>
    {
        o.CreateSchemaReferenceId = UniqueSchemaNames();
        o.AddOperationTransformer((operation, context, _) =>
        {
            DeclareRetryAfter(operation);
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<ProblemCodes>().LastOrDefault() is { } codes)
            {
                DeclareProblemCodes(operation, codes);
            }

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
        });
        o.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            NullableAsAnyOf(document);
            DescribeProblems(document);
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
                new() { Name = "User sessions", Description = "Chatbot sessions: one request in flight per user, cancel, clear, rate limits." },
                new() { Name = "Stream tickets", Description = "For browsers: open an event stream with ?ticket= instead of a key header." },
            };
            return Task.CompletedTask;
        });
    });

    /// <summary>
    /// A schema name per type: the framework names a schema after its type's short name, so two records of one name
    /// (a lecture's <c>SessionResponse</c> and a chatbot's) shared one schema and one of them was documented with the
    /// other's fields. A second type under a taken name gets its full name instead.
    /// </summary>
    public static Func<JsonTypeInfo, string?> UniqueSchemaNames()
    {
        var owners = new ConcurrentDictionary<string, Type>();
        return info =>
        {
            var name = OpenApiOptions.CreateDefaultSchemaReferenceId(info);
            if (name is null || owners.GetOrAdd(name, info.Type) == info.Type)
            {
                return name;
            }

            var full = (info.Type.FullName ?? name).Replace("Lectures.Api.", "", StringComparison.Ordinal).Replace('+', '.');
            return SchemaNameChars().Replace(full, "");
        };
    }

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex SchemaNameChars();

    /// <summary>
    /// The framework documents a nullable value as <c>oneOf: [{type: null}, X]</c>. When X admits null itself (a free
    /// JSON value, an enum that lists null), null matches both and <c>oneOf</c> refuses it: every job with a null input
    /// was invalid. <c>anyOf</c> says what is meant (null, or an X).
    /// </summary>
    private static void NullableAsAnyOf(OpenApiDocument document)
    {
        var seen = new HashSet<OpenApiSchema>(ReferenceEqualityComparer.Instance);
        foreach (var schema in document.Components?.Schemas?.Values ?? [])
        {
            Visit(schema);
        }

        foreach (var operation in document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
        {
            foreach (var parameter in operation.Parameters ?? [])
            {
                Visit(parameter.Schema);
            }

            var bodies = new[] { operation.RequestBody?.Content }.Concat(operation.Responses?.Values.Select(r => r.Content) ?? []);
            foreach (var media in bodies.SelectMany(c => c?.Values.AsEnumerable() ?? []))
            {
                Visit(media.Schema);
            }
        }

        void Visit(IOpenApiSchema? candidate)
        {
            // References are visited where they are defined, in the components.
            if (candidate is not OpenApiSchema schema || !seen.Add(schema))
            {
                return;
            }

            if (schema.OneOf is { Count: > 0 } oneOf && oneOf.Any(s => s is OpenApiSchema { Type: JsonSchemaType.Null }))
            {
                schema.AnyOf = oneOf;
                schema.OneOf = null;
            }

            foreach (var child in new[] { schema.Items, schema.AdditionalProperties }
                         .Concat(schema.Properties?.Values ?? []).Concat(schema.AllOf ?? []).Concat(schema.AnyOf ?? []).Concat(schema.OneOf ?? []))
            {
                Visit(child);
            }
        }
    }

    /// <summary>
    /// The problem document every error is: RFC 9457's fields plus the stable <c>code</c> (always present), the field
    /// <c>errors</c> of a 400, and the extensions some refusals carry.
    /// </summary>
    private static void DescribeProblems(OpenApiDocument document)
    {
        if (document.Components?.Schemas?.TryGetValue(nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), out var found) != true
            || found is not OpenApiSchema problem)
        {
            return;
        }

        problem.Description = "An RFC 9457 problem document; `code` is stable and machine-readable (README, Errors).";
        problem.Required = new HashSet<string> { "status", "title", "code" };
        problem.Properties ??= new Dictionary<string, IOpenApiSchema>();
        problem.Properties["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The stable code, e.g. `job.terminal`." };
        problem.Properties["errors"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object, Description = "400 `validation`: the messages per field (its JSON path as sent).",
            AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
        };
        problem.Properties["requestId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The chatbot request a wait-mode refusal is about." };
        problem.Properties["currentETag"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "412: the resource's current ETag." };
        problem.Properties["state"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "409 `lecture.invalid_transition`: the run's state." };
        problem.Properties["command"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "409 `lecture.invalid_transition`: the refused command." };
    }

    /// <summary>
    /// Each problem response lists the codes it can carry, in its description and as an <c>enum</c> of its <c>code</c>,
    /// so a validator refuses a code the document does not name.
    /// </summary>
    private static void DeclareProblemCodes(OpenApiOperation operation, ProblemCodes codes)
    {
        foreach (var byStatus in codes.Entries.GroupBy(e => e[..3], e => e[4..]))
        {
            if (operation.Responses is null || !operation.Responses.TryGetValue(byStatus.Key, out var declared)
                || declared is not OpenApiResponse response || response.Content is null
                || !response.Content.TryGetValue("application/problem+json", out var media) || media.Schema is not { } problem)
            {
                continue;
            }

            var names = byStatus.Distinct().ToList();
            response.Description = $"{response.Description}: {string.Join(", ", names.Select(n => $"`{n}`"))}";
            media.Schema = new OpenApiSchema
            {
                AllOf =
                [
                    problem,
                    new OpenApiSchema
                    {
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = names.Select(n => (JsonNode)JsonValue.Create(n)).ToList() },
                        },
                    },
                ],
            };
        }
    }

    /// <summary>Every 429 and 503 says when to retry.</summary>
    private static void DeclareRetryAfter(OpenApiOperation operation)
    {
        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (status is "429" or "503" && response is OpenApiResponse concrete)
            {
                concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                concrete.Headers["Retry-After"] = new OpenApiHeader
                {
                    Description = "Seconds to wait before retrying.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                };
            }
        }
    }
}
