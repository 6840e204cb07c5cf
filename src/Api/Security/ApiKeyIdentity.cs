using System.Security.Claims;

namespace Lectures.Api.Security;

/// <summary>
/// The identity of one configured API key, made once at start and shared by every request with that key. A request
/// asks it for its role, subject and key index several times (authorization, the own-subject filter, the rate-limit
/// partition); the base class answers each by enumerating its claims through a boxed enumerator. Here they are looked
/// up in an array. Nothing in this host adds claims to a key's identity, so the array stays the identity's claims.
/// </summary>
internal sealed class ApiKeyIdentity : ClaimsIdentity
{
    private readonly Claim[] _claims;

    public ApiKeyIdentity(Claim[] claims, string partition) : base(claims, ApiKeyAuthentication.SchemeName)
    {
        _claims = claims;
        Partition = partition;
    }

    /// <summary>The key's rate-limit partition (by its index, never the key).</summary>
    public string Partition { get; }

    // Same comparisons as the base class: claim types ignore case, values are ordinal.
    public override Claim? FindFirst(string type)
    {
        foreach (var claim in _claims)
        {
            if (string.Equals(claim.Type, type, StringComparison.OrdinalIgnoreCase))
            {
                return claim;
            }
        }

        return null;
    }

    public override bool HasClaim(string type, string value)
    {
        foreach (var claim in _claims)
        {
            if (string.Equals(claim.Type, type, StringComparison.OrdinalIgnoreCase) && string.Equals(claim.Value, value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
