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
}
