using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting.Kubernetes;

namespace Lectures.Grains.Hosting;

/// <summary>
/// A silo in a Kubernetes pod (deploy/kubernetes): Orleans' Kubernetes hosting advertises the pod's IP (POD_IP) and
/// listens on every address, names the silo after its pod, takes the cluster identity from the pod's labels
/// (ORLEANS_SERVICE_ID, ORLEANS_CLUSTER_ID) and watches the pods of the cluster, so a deleted pod's silo is declared dead
/// at once instead of after missed probes. A loopback address (the default) would be wrong there.
/// </summary>
public static class KubernetesMode
{
    public static readonly string[] DownwardApiVariables =
    [
        KubernetesHostingOptions.PodNameEnvironmentVariable, KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
        KubernetesHostingOptions.PodIPEnvironmentVariable,
    ];

    /// <summary><c>Orleans:Kubernetes</c> when set; otherwise on when every downward API variable is set.</summary>
    public static bool IsOn(IConfiguration configuration, ClusterOptions cluster) =>
        cluster.Kubernetes ?? DownwardApiVariables.All(v => !string.IsNullOrWhiteSpace(configuration[v]));

    public static ISiloBuilder UseProductKubernetesHosting(this ISiloBuilder silo, IConfiguration configuration, ClusterOptions cluster)
    {
        // The service id also prefixes the product's own Redis keys (Data Protection): the pod's labels and the
        // product's settings must name the same cluster, or two parts of one silo would disagree about it.
        foreach (var (variable, key, value) in new[]
                 {
                     (KubernetesHostingOptions.ServiceIdEnvironmentVariable, $"{ClusterOptions.Section}:ServiceId", cluster.ServiceId),
                     (KubernetesHostingOptions.ClusterIdEnvironmentVariable, $"{ClusterOptions.Section}:ClusterId", cluster.ClusterId),
                 })
        {
            if (configuration[variable] is { Length: > 0 } fromPod && fromPod != value)
            {
                throw new OptionsValidationException(ClusterOptions.Section, typeof(ClusterOptions),
                    [$"{variable} ({fromPod}) and {key} ({value}) must name the same cluster: set both from the pod's label."]);
            }
        }

        // Ports from the product's settings, the pod's IP as the address (Orleans' own default would otherwise pick one
        // of the host's addresses before the Kubernetes hosting gets to it); listening on every address.
        var podIp = configuration[KubernetesHostingOptions.PodIPEnvironmentVariable];
        silo.Configure<EndpointOptions>(o =>
        {
            o.SiloPort = cluster.SiloPort;
            o.GatewayPort = cluster.GatewayPort;
            if (IPAddress.TryParse(podIp, out var address))
            {
                o.AdvertisedIPAddress = address;
            }
        });
        return silo.UseKubernetesHosting();
    }
}
