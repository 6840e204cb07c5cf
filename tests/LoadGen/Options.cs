using System.Globalization;

namespace LoadGen;

public sealed record Options(Uri Target, string Scenario, int Clients, TimeSpan Duration, int Keys, TimeSpan Warmup, string Label, TimeSpan HeartbeatTimeout)
{
    /// <summary>The product's default <c>Jobs:HeartbeatTimeout</c>; pass the target's value when it differs.</summary>
    public static readonly TimeSpan DefaultHeartbeatTimeout = TimeSpan.FromSeconds(15);

    public const string Usage =
        "usage: LoadGen --target http://127.0.0.1:8080 --scenario jobs-progress|jobs-heartbeat|lectures-start|mixed|rooms-chat|sessions-chat " +
        "[--clients 64] [--duration 15s] [--keys 1000] [--warmup 2s] [--label name] [--heartbeat-timeout 15s (the target's Jobs:HeartbeatTimeout)]\n" +
        "       LoadGen --report results.jsonl   (medians per label and scenario, and the product/baseline ratios)\n" +
        "       LoadGen --fanout http://127.0.0.1:8080 CLIENTS RATE SECONDS [SERVER_PID]   (SSE fan-out: delay, grain calls and CPU per event)";

    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"unexpected argument '{args[i]}'\n{Usage}");
            }

            values[args[i][2..]] = args[++i];
        }

        string Get(string name, string fallback) => values.TryGetValue(name, out var v) ? v : fallback;
        return new Options(
            new Uri(Get("target", "http://127.0.0.1:8080")),
            Get("scenario", "jobs-progress"),
            int.Parse(Get("clients", "64"), CultureInfo.InvariantCulture),
            ParseDuration(Get("duration", "15s")),
            int.Parse(Get("keys", "1000"), CultureInfo.InvariantCulture),
            ParseDuration(Get("warmup", "2s")),
            Get("label", "target"),
            values.TryGetValue("heartbeat-timeout", out var timeout) ? ParseDuration(timeout) : DefaultHeartbeatTimeout);
    }

    private static TimeSpan ParseDuration(string text) => text switch
    {
        _ when text.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(double.Parse(text[..^2], CultureInfo.InvariantCulture)),
        _ when text.EndsWith('s') => TimeSpan.FromSeconds(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
        _ when text.EndsWith('m') => TimeSpan.FromMinutes(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
        _ => TimeSpan.Parse(text, CultureInfo.InvariantCulture),
    };
}
