namespace Lectures.Grains.Common;

/// <summary>
/// An <c>If-Match</c> condition as the grain sees it (RFC 9110): the resource versions the client accepts (a list
/// matches when any entry does), or <see cref="Any"/> for <c>*</c>, which matches an existing resource only. The API
/// leaves it out when there is no header; an entry we never issued matches nothing.
/// </summary>
[GenerateSerializer, Immutable, Alias("common.if-match")]
public sealed record IfMatch([property: Id(0)] IReadOnlyList<long> Versions, [property: Id(1)] bool Any = false)
{
    /// <summary><c>If-Match: *</c>.</summary>
    public static readonly IfMatch Star = new([], Any: true);

    public bool Matches(long version, bool exists = true) => exists && (Any || Versions.Contains(version));

    /// <summary>
    /// Refuses with <see cref="RefusalKind.PreconditionFailed"/> unless the condition holds for <paramref name="current"/>;
    /// a resource that does not exist (<paramref name="exists"/> false: a request that would create it) matches nothing.
    /// </summary>
    public static void Ensure(IfMatch? condition, long current, bool exists = true)
    {
        if (condition is not null && !condition.Matches(current, exists))
        {
            throw DomainException.PreconditionFailed(current);
        }
    }
}
