using System.Globalization;
using Lectures.Grains.Common;
using Microsoft.Net.Http.Headers;

namespace Lectures.Api.Infrastructure;

/// <summary>ETags are the quoted version of a resource. The only place that turns versions into header text and back.</summary>
public static class ETagHeaders
{
    public static string Format(long version) => string.Create(CultureInfo.InvariantCulture, $"\"{version}\"");

    public static void SetETag(this HttpResponse response, long version) => response.Headers.ETag = Format(version);

    /// <summary>
    /// The <c>If-Match</c> condition (RFC 9110) from the framework's typed header: none when the header is absent,
    /// <see cref="Grains.Common.IfMatch.Star"/> for <c>*</c> (an existing resource only); otherwise the versions of its
    /// strong ETags. An ETag we never issued (weak, not a number) matches nothing.
    /// </summary>
    public static IfMatch? IfMatch(this HttpRequest request)
    {
        if (!request.Headers.ContainsKey(HeaderNames.IfMatch))
        {
            return null;
        }

        var tags = request.GetTypedHeaders().IfMatch;
        if (tags.Any(t => t.Equals(EntityTagHeaderValue.Any)))
        {
            return Grains.Common.IfMatch.Star;
        }

        var versions = new List<long>();
        foreach (var tag in tags)
        {
            var value = tag.Tag.AsSpan().Trim('"');
            if (!tag.IsWeak && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                versions.Add(version);
            }
        }

        return new IfMatch(versions);
    }
}
