using System.Net;
using Lectures.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;
using Orleans.Configuration;
using ProductCluster = Lectures.Grains.Hosting.ClusterOptions;

namespace Lectures.Grains.Tests.Hosting;

/// <summary>What <see cref="ProductSilo"/> registers, read from a built (never started) host.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class ProductSiloHostingTests
{
    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo => silo.ConfigureProductSilo(builder.Configuration));
        return builder.Build();
    }

    private static Dictionary<string, string?> Cluster(params (string Key, string? Value)[] more)
    {
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = "127.0.0.1:1", ["Orleans:SiloPort"] = "11500", ["Orleans:GatewayPort"] = "30500" };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    [Fact]
    public void Without_an_OTLP_endpoint_no_tracer_provider_and_no_grain_call_filter_exist()
    {
        using var host = Build(Cluster());

        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.DoesNotContain(host.Services.GetServices<IIncomingGrainCallFilter>(), IsActivityPropagation);
        Assert.DoesNotContain(host.Services.GetServices<IOutgoingGrainCallFilter>(), IsActivityPropagation);
    }

    [Fact]
    public void With_an_OTLP_endpoint_traces_are_collected_and_grain_calls_carry_their_activity()
    {
        using var host = Build(Cluster((ProductTelemetry.EndpointKey, "http://127.0.0.1:4318")));

        Assert.NotNull(host.Services.GetService<TracerProvider>());
        Assert.Contains(host.Services.GetServices<IIncomingGrainCallFilter>(), IsActivityPropagation);
        Assert.Contains(host.Services.GetServices<IOutgoingGrainCallFilter>(), IsActivityPropagation);
    }

    [Fact]
    public void Grains_and_Orleans_run_on_the_silo_clock()
    {
        using var host = Build(Cluster());

        Assert.Same(SiloClock.Instance, host.Services.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void The_dashboards_grain_call_profiler_runs_behind_the_gate()
    {
        using var host = Build(Cluster());

        var filters = host.Services.GetServices<IIncomingGrainCallFilter>().ToList();
        Assert.Single(filters, f => f is DashboardProfilerGate);
        Assert.DoesNotContain(filters, f => f.GetType().FullName == "Orleans.Dashboard.Implementation.GrainProfilerFilter");
    }

    private static bool IsActivityPropagation(object filter) => filter.GetType().Name.StartsWith("ActivityPropagation", StringComparison.Ordinal);

    [Fact]
    public void Off_Kubernetes_a_silo_advertises_its_configured_address()
    {
        using var host = Build(Cluster());

        var endpoints = host.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
        Assert.Equal(IPAddress.Loopback, endpoints.AdvertisedIPAddress);
        Assert.Equal(11500, endpoints.SiloPort);
    }

    [Fact]
    public void Kubernetes_is_on_when_the_downward_API_variables_are_set_or_configuration_says_so()
    {
        var pod = new Dictionary<string, string?> { ["POD_NAME"] = "api-0", ["POD_NAMESPACE"] = "lectures", ["POD_IP"] = "10.1.2.3" };
        var defaults = new ProductCluster();

        Assert.True(KubernetesMode.IsOn(new ConfigurationBuilder().AddInMemoryCollection(pod).Build(), defaults));
        Assert.False(KubernetesMode.IsOn(new ConfigurationBuilder().AddInMemoryCollection(pod.Take(2)).Build(), defaults));
        Assert.False(KubernetesMode.IsOn(new ConfigurationBuilder().AddInMemoryCollection(pod).Build(), new ProductCluster { Kubernetes = false }));
        Assert.True(KubernetesMode.IsOn(new ConfigurationBuilder().Build(), new ProductCluster { Kubernetes = true }));
    }

    [Fact]
    public void On_Kubernetes_the_pod_gives_the_silo_its_address_name_and_identity_and_the_product_its_ports()
    {
        using var pod = new PodEnvironment(("POD_NAME", "lectures-api-7d9f-x2k"), ("POD_NAMESPACE", "lectures"), ("POD_IP", "10.244.1.17"),
            ("ORLEANS_SERVICE_ID", "lectures"), ("ORLEANS_CLUSTER_ID", "prod"));
        using var host = Build(Cluster(("POD_NAME", "lectures-api-7d9f-x2k"), ("POD_NAMESPACE", "lectures"), ("POD_IP", "10.244.1.17"),
            ("Orleans:ServiceId", "lectures"), ("Orleans:ClusterId", "prod")));

        var endpoints = host.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
        Assert.Equal(IPAddress.Parse("10.244.1.17"), endpoints.AdvertisedIPAddress);
        Assert.Equal(new IPEndPoint(IPAddress.Any, 11500), endpoints.SiloListeningEndpoint);
        Assert.Equal(new IPEndPoint(IPAddress.Any, 30500), endpoints.GatewayListeningEndpoint);
        var cluster = host.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterOptions>>().Value;
        Assert.Equal(("prod", "lectures"), (cluster.ClusterId, cluster.ServiceId));
        Assert.Equal("lectures-api-7d9f-x2k", host.Services.GetRequiredService<IOptions<SiloOptions>>().Value.SiloName);
    }

    [Fact]
    public void On_Kubernetes_a_pod_label_that_names_another_cluster_than_the_products_settings_stops_the_silo()
    {
        var settings = Cluster(("Orleans:Kubernetes", "true"), ("ORLEANS_SERVICE_ID", "other"), ("Orleans:ServiceId", "lectures"));

        var error = Assert.Throws<OptionsValidationException>(() => Build(settings));
        Assert.Contains("ORLEANS_SERVICE_ID (other) and Orleans:ServiceId (lectures)", error.Message);
    }

    [Fact]
    public void Kubernetes_without_Redis_stops_the_silo_with_a_message()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Build(new() { ["Orleans:Kubernetes"] = "true" }));
        Assert.Contains("ConnectionStrings:Redis", error.Message);
    }

    /// <summary>Orleans' Kubernetes hosting reads the process environment itself: set for one test, then restored.</summary>
    private sealed class PodEnvironment : IDisposable
    {
        private readonly (string Name, string? Old)[] _saved;

        public PodEnvironment(params (string Name, string Value)[] variables)
        {
            _saved = [.. variables.Select(v => (v.Name, Environment.GetEnvironmentVariable(v.Name)))];
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach (var (name, old) in _saved)
            {
                Environment.SetEnvironmentVariable(name, old);
            }
        }
    }
}

/// <summary>Tests that set process environment variables run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "process environment";
}
