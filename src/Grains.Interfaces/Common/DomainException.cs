namespace Lectures.Grains.Common;

/// <summary>
/// The one exception family grains use to refuse a request. It carries everything the API needs to
/// write the problem document (RFC 9457): the HTTP status, a stable machine-readable code and any
/// extension members (for example the current state of a state machine).
/// A grain throws it before it mutates anything, so a refused request never changes state.
/// </summary>
[GenerateSerializer, Alias("common.domain-exception")]
public sealed class DomainException : Exception
{
    public DomainException(int status, string code, string title, string? detail = null, IReadOnlyDictionary<string, string>? extensions = null)
        : base(detail ?? title)
    {
        Status = status;
        Code = code;
        Title = title;
        Detail = detail;
        Extensions = extensions is null ? null : new Dictionary<string, string>(extensions);
    }

    [Id(0)] public int Status { get; }
    [Id(1)] public string Code { get; }
    [Id(2)] public string Title { get; }
    [Id(3)] public string? Detail { get; }
    [Id(4)] public Dictionary<string, string>? Extensions { get; }

    public static DomainException NotFound(string code, string detail) => new(404, code, "Not found", detail);
    public static DomainException Conflict(string code, string detail, IReadOnlyDictionary<string, string>? extensions = null) =>
        new(409, code, "Conflict", detail, extensions);
    public static DomainException PreconditionFailed(string currentETag) =>
        new(412, "precondition_failed", "Precondition failed", "The resource changed since the ETag in If-Match was read.",
            new Dictionary<string, string> { ["currentETag"] = currentETag });
    public static DomainException Validation(string field, string message) =>
        new(400, "validation", "Validation failed", message, new Dictionary<string, string> { ["field"] = field });
}

/// <summary>
/// The grain store could not be read or written. Nothing was acknowledged; the grain has been
/// deactivated so the next call reloads what is really stored. Mapped to 503 <c>storage_unavailable</c>.
/// </summary>
[GenerateSerializer, Alias("common.storage-unavailable")]
public sealed class StorageUnavailableException(string message) : Exception(message);
