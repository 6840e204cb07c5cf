using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.LoadGen;

/// <summary>Keeps the load generator from rotting: a few seconds of every scenario against the real host, invariants checked.</summary>
[Collection(ApiCollection.Name)]
public sealed class LoadGenSmokeTests(ApiFixture api)
{
    [Theory]
    [InlineData("mixed", 50)]
    [InlineData("jobs-progress", 1)]
    [InlineData("rooms-chat", 5)]
    [InlineData("sessions-chat", 200)]
    public async Task A_short_load_run_passes_its_invariant_checks(string scenario, int keys)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            HostProcess.Binary("tests", "LoadGen"), "--target", api.Http.BaseAddress!.ToString(), "--scenario", scenario,
            "--clients", "8", "--duration", "2s", "--warmup", "0s", "--keys", keys.ToString(), "--label", "smoke",
            // The fixture's stall timeout: a heartbeated job may be failed as stalled only after this long without a heartbeat.
            "--heartbeat-timeout", ApiFixture.HeartbeatTimeout.ToString("c", CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{stdout}\n{await stderr}");
        var summary = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.True(summary.GetProperty("invariantOk").GetBoolean(), stdout);
        Assert.True(summary.GetProperty("requests").GetInt64() > 0, stdout);
        Assert.Equal(scenario, summary.GetProperty("scenario").GetString());
    }

    [Fact]
    public async Task A_run_that_cannot_reach_its_target_fails()
    {
        // Nothing listens on the discard port: the generator must not report success for a run it could not make.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { HostProcess.Binary("tests", "LoadGen"), "--target", "http://127.0.0.1:9", "--scenario", "jobs-progress", "--duration", "1s" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.NotEqual(0, process.ExitCode);
    }
}
