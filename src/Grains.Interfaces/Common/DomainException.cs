namespace Lectures.Grains.Common;

/// <summary>What kind of refusal a grain made. The API alone maps kinds to HTTP statuses.</summary>
public enum RefusalKind { NotFound, Conflict, PreconditionFailed, Invalid, Forbidden }

/// <summary>
/// The one exception family grains use to refuse a request: a <see cref="RefusalKind"/>, a stable machine-readable
/// code (for example <c>job.terminal</c>), a human-readable detail and, per kind, what the client needs to act on it:
/// the current version for a failed precondition, field errors for invalid input, extension members for a conflict
/// (for example the state of a state machine). It carries no HTTP status and no header text.
/// A grain throws it before it mutates anything, so a refused request never changes state.
/// </summary>
[GenerateSerializer, Alias("common.domain-exception")]
public sealed class DomainException : Exception
{
    public DomainException(RefusalKind kind, string code, string detail, IReadOnlyDictionary<string, string>? extensions = null,
        long? currentVersion = null, IReadOnlyDictionary<string, string[]>? errors = null)
        : base(detail)
    {
        Kind = kind;
        Code = code;
        Detail = detail;
        Extensions = extensions is null ? null : new Dictionary<string, string>(extensions);
        CurrentVersion = currentVersion;
        Errors = errors is null ? null : new Dictionary<string, string[]>(errors);
    }

    [Id(0)] public RefusalKind Kind { get; }
    [Id(1)] public string Code { get; }
    [Id(2)] public string Detail { get; }
    [Id(3)] public Dictionary<string, string>? Extensions { get; }
    /// <summary>For <see cref="RefusalKind.PreconditionFailed"/>: the stored version the client should read again.</summary>
    [Id(4)] public long? CurrentVersion { get; }
    /// <summary>For <see cref="RefusalKind.Invalid"/>: field (JSON path as the client sent it) to messages.</summary>
    [Id(5)] public Dictionary<string, string[]>? Errors { get; }

    public static DomainException NotFound(string code, string detail) => new(RefusalKind.NotFound, code, detail);

    public static DomainException Conflict(string code, string detail, IReadOnlyDictionary<string, string>? extensions = null) =>
        new(RefusalKind.Conflict, code, detail, extensions);

    public static DomainException PreconditionFailed(long currentVersion) =>
        new(RefusalKind.PreconditionFailed, "precondition_failed", "The resource changed since the ETag in If-Match was read.",
            currentVersion: currentVersion);

    /// <summary>The caller may not do this to the resource (for example a sender that is not a player of the room).</summary>
    public static DomainException Forbidden(string code, string detail) => new(RefusalKind.Forbidden, code, detail);

    public static DomainException Invalid(string field, string message) =>
        new(RefusalKind.Invalid, "validation", message, errors: new Dictionary<string, string[]> { [field] = [message] });
}

/// <summary>
/// The grain store could not be read or written. Nothing was acknowledged; the grain has been
/// deactivated so the next call reloads what is really stored. Mapped to 503 <c>storage_unavailable</c>.
/// </summary>
[GenerateSerializer, Alias("common.storage-unavailable")]
public sealed class StorageUnavailableException(string message) : Exception(message);
