using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Hosting;

/// <summary>
/// The dashboard's grain-call profiler, at no cost while nobody watches. Orleans' dashboard records every grain call
/// (count, failures, latency per grain and method) only while a dashboard is open (its profiler is switched on and off
/// by the dashboard grain), but its call filter awaits every call either way: an async state machine, and the
/// filter's continuation queued on the activation's scheduler as one more turn, on every grain call
/// (docs/benchmarks.md, issue 23). This gate calls the dashboard's own filter while its profiler is on, so the
/// dashboard shows what it always showed, and otherwise passes the call straight through.
/// </summary>
/// <remarks>
/// The dashboard's filter and profiler are internal types: they are found by name once, at start. If a version of
/// the dashboard renames them, the dashboard's filter stays installed as it came, and a warning says so.
/// </remarks>
public sealed class DashboardProfilerGate(IIncomingGrainCallFilter profilerFilter, Func<bool> profilerIsOn) : IIncomingGrainCallFilter
{
    private const string FilterTypeName = "Orleans.Dashboard.Implementation.GrainProfilerFilter";
    private const string ProfilerTypeName = "Orleans.Dashboard.Metrics.IGrainProfiler";

    public Task Invoke(IIncomingGrainCallContext context) => profilerIsOn() ? profilerFilter.Invoke(context) : context.Invoke();

    /// <summary>Replaces the dashboard's call filter with a gate around it; call after <c>AddDashboard</c>.</summary>
    public static void Install(IServiceCollection services, ILogger? startupLog)
    {
        var registered = services.FirstOrDefault(d => d.ServiceType == typeof(IIncomingGrainCallFilter) && d.ImplementationType?.FullName == FilterTypeName);
        var filterType = registered?.ImplementationType;
        var profilerType = filterType?.Assembly.GetType(ProfilerTypeName);
        var isOn = profilerType?.GetProperty("IsEnabled", BindingFlags.Public | BindingFlags.Instance)?.GetMethod;
        if (registered is null || filterType is null || profilerType is null || isOn is null || isOn.ReturnType != typeof(bool))
        {
            startupLog?.LogWarning("The dashboard's grain-call profiler was not found by name: its filter stays as it came, and every grain call pays for it");
            return;
        }

        services.Remove(registered);
        services.AddSingleton<IIncomingGrainCallFilter>(sp => new DashboardProfilerGate(
            (IIncomingGrainCallFilter)ActivatorUtilities.CreateInstance(sp, filterType),
            isOn.CreateDelegate<Func<bool>>(sp.GetRequiredService(profilerType))));
    }
}
