using System.Globalization;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace LoadGen;

/// <summary>
/// Reads a trace of the runtime's allocation samples (<c>dotnet-trace collect --profile gc-verbose</c>: one
/// <c>GCAllocationTick</c> event per about 100 KB allocated, naming the type that crossed the mark) and prints the share
/// of sampled bytes per type, and per type the frames it was most often allocated from (the first frames outside the
/// runtime's own libraries), so a profile can say what allocates and where from.
/// </summary>
internal static class AllocationReport
{
    private static readonly string[] RuntimeModules = ["System.Private.CoreLib", "System.Runtime", "System.Collections", "System.Linq",
        "System.Threading", "System.Text.Json", "System.Memory"];

    public static int Print(string tracePath, int top)
    {
        var etlx = TraceLog.CreateFromEventPipeDataFile(tracePath);
        using var log = new TraceLog(etlx);
        var bytesByType = new Dictionary<string, long>();
        var framesByType = new Dictionary<string, Dictionary<string, long>>();
        long total = 0;
        foreach (var e in log.Events)
        {
            if (e is not GCAllocationTickTraceData tick)
            {
                continue;
            }

            var type = tick.TypeName is { Length: > 0 } name ? name : "(unnamed)";
            var bytes = tick.AllocationAmount64;
            total += bytes;
            bytesByType[type] = bytesByType.GetValueOrDefault(type) + bytes;
            var where = FirstOwnFrames(e.CallStack());
            var frames = framesByType.TryGetValue(type, out var f) ? f : framesByType[type] = new Dictionary<string, long>();
            frames[where] = frames.GetValueOrDefault(where) + bytes;
        }

        if (total == 0)
        {
            Console.Error.WriteLine($"no allocation samples in {tracePath}");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{total / 1024.0 / 1024:F1} MB sampled; share of sampled bytes by type, then where from"));
        foreach (var (type, bytes) in bytesByType.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{100.0 * bytes / total,6:F1} %  {type}"));
            foreach (var (where, whereBytes) in framesByType[type].OrderByDescending(p => p.Value).Take(3))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"           {100.0 * whereBytes / bytes,5:F0} % of it from {where}"));
            }
        }

        return 0;
    }

    // The allocating frame and the first two frames above it that are not the runtime's libraries.
    private static string FirstOwnFrames(TraceCallStack? stack)
    {
        var frames = new List<string>();
        for (var s = stack; s is not null && frames.Count < 3; s = s.Caller)
        {
            var method = s.CodeAddress.FullMethodName;
            if (string.IsNullOrEmpty(method))
            {
                continue;
            }

            var module = s.CodeAddress.ModuleName;
            if (frames.Count == 0 || !RuntimeModules.Any(m => module.StartsWith(m, StringComparison.OrdinalIgnoreCase)))
            {
                frames.Add(Shorten(method));
            }
        }

        return frames.Count == 0 ? "(no stack)" : string.Join(" < ", frames);
    }

    private static string Shorten(string method)
    {
        var paren = method.IndexOf('(', StringComparison.Ordinal);
        return paren > 0 ? method[..paren] : method;
    }
}
