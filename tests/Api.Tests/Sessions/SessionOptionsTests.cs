using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Sessions;

public sealed class SessionOptionsTests
{
    [Theory]
    [InlineData("Sessions:MaxQueue", "0", "Sessions:MaxQueue")]
    [InlineData("Sessions:ResponseTimeout", "00:00:00", "Sessions:ResponseTimeout")]
    [InlineData("Sessions:IdleExpiry", "-00:00:01", "Sessions:IdleExpiry")]
    [InlineData("RateLimits:Global:TokensPerPeriod", "0", "RateLimits:Global:TokensPerPeriod")]
    [InlineData("RateLimits:User:ReplenishmentPeriod", "00:00:00", "RateLimits:User:ReplenishmentPeriod")]
    public async Task A_bad_session_or_rate_limit_setting_stops_the_host_with_a_message_naming_the_key(string key, string value, string named)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => HostProcess.StartApiAsync(new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(named, failure.Message);
    }

    [Fact]
    public async Task A_queue_that_could_keep_a_wait_mode_message_longer_than_ten_minutes_stops_the_host_naming_the_keys()
    {
        // (20 + 1) x 30 s + 15 s = 10 min 45 s.
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Sessions:BusyPolicy"] = "Queue",
            ["Sessions:MaxQueue"] = "20",
            ["Sessions:ResponseTimeout"] = "00:00:30",
        }));
        Assert.Contains("Sessions:MaxQueue", failure.Message);
        Assert.Contains("Sessions:ResponseTimeout", failure.Message);
    }
}
