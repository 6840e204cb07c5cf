using YamlDotNet.RepresentationModel;

namespace Lectures.Cluster.Tests.Operations;

/// <summary>
/// deploy/kubernetes against what Orleans' Kubernetes hosting and the product need of it: the cluster labels and the
/// downward API variables, a service account that may watch pods, probes on the health routes, a grace period longer
/// than a silo's bounded stop, ports that match the product's settings, and secrets for the Redis connection and keys.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly IReadOnlyList<Node> Documents = Load();

    private static IEnumerable<Node> OfKind(string kind) => Documents.Where(d => d["kind"].Text == kind);
    private static Node Deployment(string name) => OfKind("Deployment").Single(d => d["metadata"]["name"].Text == name);
    private static Node Container(Node deployment) => deployment["spec"]["template"]["spec"]["containers"].Items.Single();

    public static TheoryData<string> Deployments => new() { "lectures-api", "lectures-silo" };

    [Theory]
    [MemberData(nameof(Deployments))]
    public void Each_silo_pod_carries_the_cluster_labels_and_gets_its_identity_from_the_downward_API(string name)
    {
        var template = Deployment(name)["spec"]["template"];
        var labels = template["metadata"]["labels"];
        Assert.Equal("lectures", labels["orleans/serviceId"].Text);
        Assert.Equal("lectures", labels["orleans/clusterId"].Text);

        var env = Env(Container(Deployment(name)));
        Assert.Equal("metadata.name", env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"].Text);
        Assert.Equal("metadata.namespace", env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"].Text);
        Assert.Equal("status.podIP", env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"].Text);
        // Orleans (ORLEANS_*) and the product (Orleans__*) read one identity: the labels the pod watcher selects by.
        foreach (var variable in new[] { "ORLEANS_SERVICE_ID", "Orleans__ServiceId" })
        {
            Assert.Equal("metadata.labels['orleans/serviceId']", env[variable]["valueFrom"]["fieldRef"]["fieldPath"].Text);
        }

        foreach (var variable in new[] { "ORLEANS_CLUSTER_ID", "Orleans__ClusterId" })
        {
            Assert.Equal("metadata.labels['orleans/clusterId']", env[variable]["valueFrom"]["fieldRef"]["fieldPath"].Text);
        }
    }

    [Theory]
    [MemberData(nameof(Deployments))]
    public void Each_silo_pod_exposes_the_ports_it_is_configured_with_and_reads_Redis_from_a_secret(string name)
    {
        var container = Container(Deployment(name));
        var env = Env(container);
        var ports = container["ports"].Items.ToDictionary(p => p["name"].Text, p => p["containerPort"].Text);
        Assert.Equal(env["Orleans__SiloPort"]["value"].Text, ports["silo"]);
        Assert.Equal(env["Orleans__GatewayPort"]["value"].Text, ports["gateway"]);
        Assert.Equal("lectures-secrets", env["ConnectionStrings__Redis"]["valueFrom"]["secretKeyRef"]["name"].Text);
        Assert.False(env["ConnectionStrings__Redis"].Has("value"));
    }

    [Theory]
    [MemberData(nameof(Deployments))]
    public void Each_silo_may_stop_gracefully_and_is_rolled_out_and_disrupted_one_pod_at_a_time(string name)
    {
        var deployment = Deployment(name);
        // A silo's stop is bounded at 25 s (BoundedShutdown.HardLimit): Kubernetes must not kill it before that.
        Assert.True(int.Parse(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].Text) >= 30);
        Assert.Equal("0", deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].Text);
        var selector = deployment["spec"]["selector"]["matchLabels"];
        var budget = OfKind("PodDisruptionBudget").Single(p => Same(p["spec"]["selector"]["matchLabels"], selector));
        Assert.Equal("1", budget["spec"]["maxUnavailable"].Text);
    }

    [Fact]
    public void The_API_silo_is_probed_on_its_health_routes_served_by_a_Service_and_keyed_from_a_secret()
    {
        var api = Deployment("lectures-api");
        var container = Container(api);
        var env = Env(container);
        var http = container["ports"].Items.Single(p => p["name"].Text == "http")["containerPort"].Text;
        Assert.Equal($"http://0.0.0.0:{http}", env["ASPNETCORE_URLS"]["value"].Text);
        Assert.Equal("/health/ready", container["readinessProbe"]["httpGet"]["path"].Text);
        Assert.Equal("/health/live", container["livenessProbe"]["httpGet"]["path"].Text);
        Assert.All(new[] { "readinessProbe", "livenessProbe" }, probe => Assert.Equal("http", container[probe]["httpGet"]["port"].Text));

        var keys = env.Keys.Where(k => k.StartsWith("Auth__Keys__", StringComparison.Ordinal) && k.EndsWith("__Key", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(keys);
        Assert.All(keys, k => Assert.Equal("lectures-secrets", env[k]["valueFrom"]["secretKeyRef"]["name"].Text));

        var service = OfKind("Service").Single(s => s["metadata"]["name"].Text == "lectures-api");
        Assert.True(Same(service["spec"]["selector"], api["spec"]["selector"]["matchLabels"]));
        Assert.Equal("http", service["spec"]["ports"].Items.Single()["targetPort"].Text);
    }

    [Fact]
    public void The_headless_silo_is_probed_on_its_silo_port()
    {
        var container = Container(Deployment("lectures-silo"));
        Assert.Equal("silo", container["readinessProbe"]["tcpSocket"]["port"].Text);
        Assert.Equal("silo", container["livenessProbe"]["tcpSocket"]["port"].Text);
    }

    [Fact]
    public void The_silos_service_account_may_get_list_and_watch_pods_in_its_namespace()
    {
        var accounts = OfKind("Deployment").Select(d => d["spec"]["template"]["spec"]["serviceAccountName"].Text).Distinct().ToList();
        var account = Assert.Single(accounts);
        Assert.Contains(OfKind("ServiceAccount"), a => a["metadata"]["name"].Text == account);

        var binding = OfKind("RoleBinding").Single(b => b["subjects"].Items.Any(s => s["kind"].Text == "ServiceAccount" && s["name"].Text == account));
        Assert.Equal("Role", binding["roleRef"]["kind"].Text);
        var role = OfKind("Role").Single(r => r["metadata"]["name"].Text == binding["roleRef"]["name"].Text);
        var pods = role["rules"].Items.Single(r => r["resources"].Items.Any(x => x.Text == "pods"));
        Assert.Equal([""], pods["apiGroups"].Items.Select(g => g.Text));
        Assert.Equal(["get", "list", "watch"], pods["verbs"].Items.Select(v => v.Text).Order());
        Assert.All(OfKind("Deployment").Append(role).Append(binding), d => Assert.Equal("lectures", d["metadata"]["namespace"].Text));
    }

    private static Dictionary<string, Node> Env(Node container) => container["env"].Items.ToDictionary(e => e["name"].Text);

    private static bool Same(Node a, Node b) =>
        a.Keys.Order().SequenceEqual(b.Keys.Order()) && a.Keys.All(k => a[k].Text == b[k].Text);

    private static List<Node> Load()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir.FullName, "Orleans.sln")))
        {
            dir = dir.Parent ?? throw new InvalidOperationException("Orleans.sln not found above the test's folder");
        }

        var documents = new List<Node>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(dir.FullName, "deploy", "kubernetes"), "*.yaml"))
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(file)));
            documents.AddRange(stream.Documents.Select(d => new Node(d.RootNode)));
        }

        return documents;
    }

    /// <summary>A YAML node read by key or as a list; a missing key fails the test with its name.</summary>
    private sealed record Node(YamlNode Yaml)
    {
        public Node this[string key] => ((YamlMappingNode)Yaml).Children.TryGetValue(new YamlScalarNode(key), out var child)
            ? new Node(child)
            : throw new Xunit.Sdk.XunitException($"no '{key}' in {Yaml.Start}");

        public bool Has(string key) => ((YamlMappingNode)Yaml).Children.ContainsKey(new YamlScalarNode(key));
        public IEnumerable<string> Keys => ((YamlMappingNode)Yaml).Children.Keys.Select(k => ((YamlScalarNode)k).Value!);
        public IEnumerable<Node> Items => ((YamlSequenceNode)Yaml).Children.Select(c => new Node(c));
        public string Text => ((YamlScalarNode)Yaml).Value ?? "";
    }
}
