using System.Collections.Concurrent;
using Orleans.Metadata;

namespace Lectures.Api.Infrastructure;

/// <summary>
/// Grain references for the endpoints. <c>IGrainFactory.GetGrain&lt;T&gt;(key)</c> resolves the interface's grain type
/// through attribute reflection on every call (a visible share of a request's CPU in the profile, see
/// docs/benchmarks.md); this resolves it once per interface and then only builds the id.
/// </summary>
public sealed class GrainLookup(IGrainFactory grains, GrainInterfaceTypeResolver interfaces, GrainInterfaceTypeToGrainTypeResolver types)
{
    private readonly ConcurrentDictionary<Type, (GrainInterfaceType Interface, GrainType Grain)> _resolved = new();

    public T Get<T>(string key) where T : IGrainWithStringKey
    {
        var (grainInterface, grainType) = _resolved.GetOrAdd(typeof(T), type =>
        {
            var resolved = interfaces.GetGrainInterfaceType(type);
            return (resolved, types.GetGrainType(resolved));
        });
        return (T)grains.GetGrain(GrainId.Create(grainType, key), grainInterface);
    }
}
