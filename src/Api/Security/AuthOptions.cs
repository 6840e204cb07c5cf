using Lectures.Api.Validation;
using System.ComponentModel.DataAnnotations;

namespace Lectures.Api.Security;

/// <summary>API keys, bound from <c>Auth</c> (<c>Auth:Keys:{n}:Key</c>, <c>:Role</c>, <c>:Subject</c>). None: anonymous, loopback only.</summary>
public sealed class AuthOptions : IValidatableObject
{
    public const string Section = "Auth";

    public List<ApiKey> Keys { get; set; } = [];

    /// <summary>How long a stream ticket opens its stream (POST /api/stream-tickets).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Auth:StreamTicketLifetime must be from 00:00:01 to 01:00:00.")]
    public TimeSpan StreamTicketLifetime { get; set; } = TimeSpan.FromMinutes(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var n = 0; n < Keys.Count; n++)
        {
            var key = Keys[n];
            // Messages name the key's index and role, never the key.
            if (key.Key is not { Length: >= 16 and <= 512 })
            {
                yield return new($"Auth:Keys:{n}:Key must be 16 to 512 characters.", [nameof(Keys)]);
            }
            else if (!seen.Add(key.Key))
            {
                yield return new($"Auth:Keys:{n}:Key is the same as another key.", [nameof(Keys)]);
            }

            if (!Roles.All.Contains(key.Role))
            {
                yield return new($"Auth:Keys:{n}:Role must be one of {string.Join(", ", Roles.All)}.", [nameof(Keys)]);
            }
            else if (Roles.WithSubject.Contains(key.Role) && !IdValidation.IsValid(key.Subject))
            {
                yield return new($"Auth:Keys:{n}:Subject is required for role {key.Role} and {IdValidation.Message}", [nameof(Keys)]);
            }
        }
    }
}

public sealed class ApiKey
{
    public string? Key { get; set; }
    public string? Role { get; set; }
    /// <summary>The robotId, playerId, userId or workerId the key acts as.</summary>
    public string? Subject { get; set; }
}

/// <summary>The roles of API.md, Authentication.</summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Client = "client";
    public const string Robot = "robot";
    public const string Player = "player";
    public const string User = "user";
    public const string Worker = "worker";

    public static readonly HashSet<string?> All = [Admin, Client, Robot, Player, User, Worker];
    public static readonly HashSet<string?> WithSubject = [Robot, Player, User, Worker];
}
