using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Validation;

namespace Lectures.Api.Validation;

#pragma warning disable ASP0029 // The resolver API is marked experimental in .NET 10.
/// <summary>
/// Remembers what the validation resolvers (the source-generated one first) answer per type and parameter. The
/// generated resolver builds new type and property descriptions on every call, that is on every request with a body
/// (docs/benchmarks.md); they depend only on the type, so one per type is enough.
/// </summary>
internal sealed class ValidationCache(IValidatableInfoResolver inner) : IValidatableInfoResolver
{
    private readonly ConcurrentDictionary<Type, IValidatableInfo?> _types = new();
    private readonly ConcurrentDictionary<ParameterInfo, IValidatableInfo?> _parameters = new();

    public static void Install(IServiceCollection services) =>
        services.PostConfigure<ValidationOptions>(o =>
        {
            for (var i = 0; i < o.Resolvers.Count; i++)
            {
                o.Resolvers[i] = o.Resolvers[i] as ValidationCache ?? new ValidationCache(o.Resolvers[i]);
            }
        });

    public bool TryGetValidatableTypeInfo(Type type, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IValidatableInfo? validatableInfo) =>
        (validatableInfo = _types.GetOrAdd(type, static (t, r) => r.TryGetValidatableTypeInfo(t, out var info) ? info : null, inner)) is not null;

    public bool TryGetValidatableParameterInfo(ParameterInfo parameterInfo, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IValidatableInfo? validatableInfo) =>
        (validatableInfo = _parameters.GetOrAdd(parameterInfo, static (p, r) => r.TryGetValidatableParameterInfo(p, out var info) ? info : null, inner)) is not null;
}
#pragma warning restore ASP0029
