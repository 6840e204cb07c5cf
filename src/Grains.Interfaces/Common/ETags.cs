namespace Lectures.Grains.Common;

/// <summary>ETags are the quoted version of a resource: one format for every grain and the API.</summary>
public static class ETags
{
    public static string Format(long version) => $"\"{version}\"";

    public static bool TryParse(string? value, out long version)
    {
        version = 0;
        var trimmed = value?.Trim();
        if (trimmed is null || trimmed.StartsWith("W/", StringComparison.Ordinal))
        {
            return false;
        }

        return long.TryParse(trimmed.Trim('"'), out version);
    }
}
