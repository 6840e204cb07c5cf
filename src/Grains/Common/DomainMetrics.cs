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
    public static readonly Counter<long> SessionRequests = Meter.CreateCounter<long>("sessions.requests", description: "Chatbot messages accepted (processing or queued)");
    public static readonly Counter<long> SessionBusyRefusals = Meter.CreateCounter<long>("sessions.busy.refusals", description: "Chatbot messages refused because the user had one in flight (reason: busy, queue_full)");
    public static readonly Counter<long> SessionTimeouts = Meter.CreateCounter<long>("sessions.timeouts", description: "Chatbot replies cancelled by Sessions:ResponseTimeout");
    public static readonly Counter<long> SessionFailures = Meter.CreateCounter<long>("sessions.failures", description: "Chatbot requests failed (responder error, or lost with its silo)");
    public static readonly Counter<long> SessionCancellations = Meter.CreateCounter<long>("sessions.cancellations", description: "Chatbot requests cancelled in flight (by: cancel, clear)");
    public static readonly Counter<long> GlobalLeases = Meter.CreateCounter<long>("ratelimit.global.leases", description: "Calls from a silo to the cluster-wide bucket grain (each leases a batch of tokens)");
    public static readonly Counter<long> RateLimitRejections = Meter.CreateCounter<long>("ratelimit.rejections", description: "Messages refused by a token bucket (scope: user, global)");
}
