using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Rooms;

public sealed class RoomOptionsTests
{
    [Theory]
    [InlineData("Agents:ResponseTimeout", "00:00:00", "Agents:ResponseTimeout")]
    [InlineData("Agents:ContextMessages", "0", "Agents:ContextMessages")]
    [InlineData("Rooms:MaxMessages", "0", "Rooms:MaxMessages")]
    [InlineData("Rooms:IdempotencyWindow", "00:00:00", "Rooms:IdempotencyWindow")]
    [InlineData("Rooms:IdempotencyWindow", "00:00:60", "Rooms:IdempotencyWindow")]
    [InlineData("Agents:Responder", "OpenAI", "Agents:Endpoint")]
    public async Task A_bad_room_or_agent_setting_stops_the_host_at_start_naming_the_key(string key, string value, string named)
    {
        await using var host = HostProcess.Launch("Api", new Dictionary<string, string?> { [key] = value });

        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitCode is not null and not 0, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains(named, host.Output);
        Assert.DoesNotContain("Orleans Silo started", host.Output);
    }
}
