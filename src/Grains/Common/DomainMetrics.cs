using System.Diagnostics.Metrics;

namespace Lectures.Grains.Common;

/// <summary>The domain counters exported on /metrics next to the Orleans and ASP.NET Core meters.</summary>
public static class DomainMetrics
{
    public const string MeterName = "Lectures.Backend";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> SessionsStarted = Meter.CreateCounter<long>("lectures.sessions.started", description: "Lecture sessions started");
    public static readonly Counter<long> DuplicatesPrevented = Meter.CreateCounter<long>("requests.duplicates.prevented", description: "Repeated requests answered with the original result instead of a second effect");
    public static readonly Counter<long> AgentReplies = Meter.CreateCounter<long>("rooms.agent.replies", description: "Agent replies stored in rooms");
    public static readonly Counter<long> AgentFailures = Meter.CreateCounter<long>("rooms.agent.failures", description: "Triggered agent replies that ended as failed (tag error: timeout, responder_failed, interrupted)");
    public static readonly Counter<long> JobsStalled = Meter.CreateCounter<long>("jobs.stalled", description: "Processing jobs failed by stall detection");
    public static readonly Counter<long> JobProgressIgnored = Meter.CreateCounter<long>("jobs.progress.ignored", description: "Progress reports lower than the stored value, not applied");
}
