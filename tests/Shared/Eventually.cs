namespace Lectures.Testing;

/// <summary>Shared by the test projects (linked as source): waiting on a condition with a deadline.</summary>
public static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds, failing at the deadline: never a blind sleep.</summary>
    public static async Task<T> Poll<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        T value;
        do
        {
            value = await read();
            if (condition(value))
            {
                return value;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < until);

        throw new Xunit.Sdk.XunitException($"Not within {deadline}: {what}. Last value: {value}");
    }
}
