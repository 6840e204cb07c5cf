using System.Text.Json;

namespace Lectures.Grains.Tests.Infrastructure;

public static class Same
{
    /// <summary>Structural equality for records that hold lists (record equality compares list references).</summary>
    public static void Equal<T>(T expected, T actual) => Assert.Equal(JsonSerializer.Serialize(expected), JsonSerializer.Serialize(actual));
}
