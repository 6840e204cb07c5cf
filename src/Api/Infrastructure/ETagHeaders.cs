using Lectures.Grains.Common;

namespace Lectures.Api.Infrastructure;

public static class ETagHeaders
{
    public static void SetETag(this HttpResponse response, long version) => response.Headers.ETag = ETags.Format(version);

    /// <summary>
    /// The version a mutation requires, from <c>If-Match</c>: none when the header is absent or <c>*</c>;
    /// an ETag we never issued can match nothing, so it requires a version no resource has (the grain answers 412).
    /// </summary>
    public static long? ExpectedVersion(this HttpRequest request)
    {
        var ifMatch = request.Headers.IfMatch.ToString();
        if (string.IsNullOrWhiteSpace(ifMatch) || ifMatch.Trim() == "*")
        {
            return null;
        }

        return ETags.TryParse(ifMatch, out var version) ? version : -1;
    }
}
