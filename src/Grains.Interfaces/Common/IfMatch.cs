namespace Lectures.Grains.Common;

/// <summary>
/// An <c>If-Match</c> condition as the grain sees it: the resource versions the client accepts (RFC 9110: a list
/// matches when any entry does). The API leaves it out for no header or <c>*</c>; an entry we never issued matches nothing.
/// </summary>
[GenerateSerializer, Immutable, Alias("common.if-match")]
public sealed record IfMatch([property: Id(0)] IReadOnlyList<long> Versions)
{
    public bool Matches(long version) => Versions.Contains(version);

    /// <summary>Refuses with <see cref="RefusalKind.PreconditionFailed"/> unless the condition holds for <paramref name="current"/>.</summary>
    public static void Ensure(IfMatch? condition, long current)
    {
        if (condition is not null && !condition.Matches(current))
        {
            throw DomainException.PreconditionFailed(current);
        }
    }
}
