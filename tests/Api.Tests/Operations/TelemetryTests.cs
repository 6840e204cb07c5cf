using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Trace;

namespace Lectures.Api.Tests.Operations;

/// <summary>
/// The API silo in-process with OTLP turned on (the endpoint is a closed loopback port): what it would export is also
/// handed to an in-memory exporter (spans) and a capturing processor (log records).
/// </summary>
public sealed class TracedHostFixture : IAsyncLifetime
{
    public const string Key = "telemetry-admin-key-5f1c9e";
    private WebApplicationFactory<Program>? _factory;

    public ConcurrentQueue<Activity> Spans { get; } = new();
    public ConcurrentQueue<string> Logs { get; } = new();
    public HttpClient Http { get; private set; } = null!;

    public Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>(ApiFixture.Settings)
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{FreePort.Next()}",
            // What Aspire sets for every project: the instrumentation's own redaction of query values is then off.
            ["OTEL_DOTNET_EXPERIMENTAL_ASPNETCORE_DISABLE_URL_QUERY_REDACTION"] = "true",
            ["Orleans:SiloPort"] = FreePort.Next().ToString(),
            ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Auth:Keys:0:Key"] = Key,
            ["Auth:Keys:0:Role"] = "admin",
        };
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }

            web.ConfigureServices(services => services
                .ConfigureOpenTelemetryTracerProvider(t => t.AddProcessor(new SimpleActivityExportProcessor(new QueueExporter<Activity>(Spans.Enqueue))))
                .ConfigureOpenTelemetryLoggerProvider(l => l.AddProcessor(new SimpleLogRecordExportProcessor(new QueueExporter<LogRecord>(r => Logs.Enqueue(Text(r)))))));
        });
        Http = _factory.CreateClient();
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }

    /// <summary>Everything of a log record that an exporter sends (records are pooled, so it is read at once).</summary>
    private static string Text(LogRecord record) => string.Join(" | ", new[] { record.CategoryName, record.FormattedMessage, record.Body, record.Exception?.ToString() }
        .Concat(record.Attributes?.Select(a => $"{a.Key}={a.Value}") ?? []));

    private sealed class QueueExporter<T>(Action<T> add) : BaseExporter<T> where T : class
    {
        public override ExportResult Export(in Batch<T> batch)
        {
            foreach (var item in batch)
            {
                add(item);
            }

            return ExportResult.Success;
        }
    }
}

public sealed class TelemetryTests(TracedHostFixture host) : IClassFixture<TracedHostFixture>
{
    [Fact]
    public async Task One_progress_report_is_one_trace_holding_its_HTTP_span_and_its_grain_call_span()
    {
        var jobId = Ids.New("traced");
        (await host.Http.PostAsJsonAsync("/api/jobs", new { kind = "k", jobId })).EnsureSuccessStatusCode();
        (await host.Http.PostAsJsonAsync($"/api/jobs/{jobId}/start", new { workerId = "w" })).EnsureSuccessStatusCode();
        (await host.Http.PostAsJsonAsync($"/api/jobs/{jobId}/progress", new { workerId = "w", progress = 40 })).EnsureSuccessStatusCode();

        var path = $"/api/jobs/{jobId}/progress";
        var http = await Eventually.Poll(() => Task.FromResult(host.Spans.FirstOrDefault(s =>
                s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore" && (string?)s.GetTagItem("url.path") == path)),
            s => s is not null, TimeSpan.FromSeconds(10), "the progress request's server span");
        Assert.Equal("POST", (string?)http!.GetTagItem("http.request.method"));
        Assert.Equal(200, Convert.ToInt32(http.GetTagItem("http.response.status_code")));

        // The grain spans end before the request's span does, so they are all exported by now.
        var trace = host.Spans.Where(s => s.TraceId == http.TraceId).ToList();
        var call = Assert.Single(trace, s => s.Kind == ActivityKind.Client && s.Source.Name == "Microsoft.Orleans.Application");
        Assert.EndsWith(".IJobGrain/ReportProgressAsync", (string?)call.GetTagItem("rpc.method"));
        Assert.Equal(http.SpanId, Ancestors(call, trace).Last().SpanId);
        var served = Assert.Single(trace, s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.Orleans.Application");
        Assert.Equal(call.SpanId, served.ParentSpanId);
        // The grain store's write (Redis in cluster mode) is a span of the same trace, inside the grain call.
        var write = Assert.Single(trace, s => s.Source.Name == "Microsoft.Orleans.Storage" && s.DisplayName.Contains("write", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(served.SpanId, Ancestors(write, trace).Select(s => s.SpanId));
    }

    [Fact]
    public async Task Neither_keys_nor_stream_tickets_appear_in_spans_or_logs()
    {
        var jobId = Ids.New("ticketed");
        (await host.Http.PostAsJsonAsync("/api/jobs", new { kind = "k", jobId })).EnsureSuccessStatusCode();
        var issued = await host.Http.PostAsJsonAsync("/api/stream-tickets", new { path = $"/api/jobs/{jobId}/events" });
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var body = await issued.Content.ReadFromJsonAsync<JsonElement>();
        var ticket = body.GetProperty("ticket").GetString()!;
        // The ticket opens the stream (the client also sends its key in a header: neither may be recorded).
        using (var stream = await host.Http.GetAsync($"{body.GetProperty("url").GetString()}&wait=true", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        }

        var events = $"/api/jobs/{jobId}/events";
        var streamSpan = await Eventually.Poll(() => Task.FromResult(host.Spans.FirstOrDefault(s => (string?)s.GetTagItem("url.path") == events)),
            s => s is not null, TimeSpan.FromSeconds(10), "the event stream's server span");
        Assert.Equal("ticket=Redacted&wait=Redacted", (string?)streamSpan!.GetTagItem("url.query"));

        foreach (var span in host.Spans)
        {
            var text = string.Join(" ", new[] { span.DisplayName, span.StatusDescription }
                .Concat(span.TagObjects.Select(t => $"{t.Key}={t.Value}"))
                .Concat(span.Events.SelectMany(e => e.Tags.Select(t => $"{t.Key}={t.Value}"))));
            Assert.DoesNotContain(ticket, text);
            Assert.DoesNotContain(TracedHostFixture.Key, text);
        }

        Assert.NotEmpty(host.Logs);
        Assert.DoesNotContain(host.Logs, line => line.Contains(ticket) || line.Contains(TracedHostFixture.Key));
    }

    /// <summary>The span's parent, its parent's parent, ... as far as the trace holds them.</summary>
    private static IEnumerable<Activity> Ancestors(Activity span, IReadOnlyList<Activity> trace)
    {
        for (var parent = trace.FirstOrDefault(s => s.SpanId == span.ParentSpanId); parent is not null;
             parent = trace.FirstOrDefault(s => s.SpanId == parent.ParentSpanId))
        {
            yield return parent;
        }
    }
}
