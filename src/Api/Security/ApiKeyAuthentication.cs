using Lectures.Api.Errors;
using System.Buffers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Lectures.Api.Security;

/// <summary>
/// The API-key scheme: a key sent as <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key</c> becomes a principal
/// with the key's role and subject. Keys are compared as SHA-256 digests in constant time, against every configured
/// key, so neither a key nor which key matched leaks through timing; no key text is ever logged. With no key
/// configured every request is the anonymous operator (allowed only on loopback, see <see cref="AnonymousAccess"/>).
/// 401 and 403 are problem documents (<c>unauthorized</c>, <c>forbidden</c>).
/// </summary>
public sealed class ApiKeyAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyAuthentication.KeyDigests digests, StreamTickets tickets) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    public const string SubjectClaim = "sub";
    /// <summary>The configured index of the key (<c>Auth:Keys:{n}</c>): names its rate-limit partition, never the key.</summary>
    public const string KeyIdClaim = "kid";

    private static readonly Task<AuthenticateResult> Anonymous = Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(
        new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, Roles.Admin)], "anonymous-loopback")), SchemeName)));

    private readonly (byte[] Digest, Task<AuthenticateResult> Result)[] _keys = digests.Keys;

    /// <summary>
    /// The configured keys' digests and what each authenticates as, made once (a handler is created per request).
    /// A key's principal is the same on every request: nothing in this host adds to a principal or writes to a
    /// ticket's properties, so one result per key is shared, as the anonymous principal always was.
    /// </summary>
    public sealed class KeyDigests(IOptions<AuthOptions> auth)
    {
        public (byte[] Digest, Task<AuthenticateResult> Result)[] Keys { get; } = auth.Value.Keys.Select((k, n) => (Digest(k.Key!), Authenticated(k, n))).ToArray();

        private static Task<AuthenticateResult> Authenticated(ApiKey key, int index)
        {
            var keyId = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Claim[] claims = key.Subject is { } subject
                ? [new(ClaimTypes.Role, key.Role!), new(KeyIdClaim, keyId), new(SubjectClaim, subject)]
                : [new(ClaimTypes.Role, key.Role!), new(KeyIdClaim, keyId)];
            var identity = new ApiKeyIdentity(claims, EdgeProtection.KeyPartition(keyId));
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (_keys.Length == 0)
        {
            return Anonymous;
        }

        // The key is read, encoded and hashed in place: no copy of it is made per request.
        if (!TryDigestPresented(Request, out var digest))
        {
            return Task.FromResult(TicketResult());
        }

        Task<AuthenticateResult>? match = null;
        foreach (var (candidate, result) in _keys)
        {
            // Every key is compared, whatever matched before.
            if (CryptographicOperations.FixedTimeEquals(digest, candidate))
            {
                match = result;
            }
        }

        return match ?? Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
    }

    /// <summary>An event stream opened with <c>?ticket=</c> (a browser's EventSource sends no key header).</summary>
    private AuthenticateResult TicketResult()
    {
        if (!HttpMethods.IsGet(Request.Method) || !Request.Query.TryGetValue(StreamTickets.QueryName, out var ticket) || ticket.Count != 1)
        {
            return AuthenticateResult.NoResult();
        }

        return tickets.Read(ticket.ToString(), Request.PathBase + Request.Path) is { } principal
            ? AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName))
            : AuthenticateResult.Fail("The stream ticket is not valid for this path, or it has expired.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        await Problems.WriteAsync(Context, 401, "unauthorized", "Unauthorized",
            $"Send a valid API key as 'Authorization: Bearer <key>' or '{HeaderName}: <key>' (an event stream also takes ?{StreamTickets.QueryName}= " +
            "from POST /api/stream-tickets, for the path it was issued for, until it expires).");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await Problems.WriteAsync(Context, 403, "forbidden", "Forbidden", "This API key's role or subject does not allow this request.");

    /// <summary>The index of the key that authenticated the request (for rate-limit partitions), or null.</summary>
    public static string? PartitionKey(HttpContext http) => http.User.FindFirst(KeyIdClaim)?.Value;

    /// <summary>The SHA-256 digest of the presented key, or false when the request presents none.</summary>
    private static bool TryDigestPresented(HttpRequest request, out KeyDigest digest)
    {
        ReadOnlySpan<char> presented;
        var authorization = request.Headers.Authorization;
        if (authorization.Count == 1 && authorization[0] is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = header.AsSpan(7).Trim();
        }
        else if (authorization.Count <= 1 && request.Headers.TryGetValue(HeaderName, out var value) && value.Count == 1 && value[0] is { } key)
        {
            presented = key;
        }
        else
        {
            digest = default;
            return false;
        }

        digest = default;
        // A long header (up to Kestrel's limit) is encoded into a pooled buffer, cleared before it is returned.
        var maxBytes = Encoding.UTF8.GetMaxByteCount(presented.Length);
        byte[]? rented = maxBytes > 512 ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        Span<byte> utf8 = rented is null ? stackalloc byte[512] : rented;
        var length = Encoding.UTF8.GetBytes(presented, utf8);
        SHA256.HashData(utf8[..length], digest);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }

        return true;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>A SHA-256 digest on the stack.</summary>
    [System.Runtime.CompilerServices.InlineArray(SHA256.HashSizeInBytes)]
    private struct KeyDigest
    {
        private byte _first;
    }
}
