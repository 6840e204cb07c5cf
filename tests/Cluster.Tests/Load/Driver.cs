using System.Net.Http.Json;
using System.Text.Json;

namespace Lectures.Cluster.Tests.Load;

public sealed record Reply(Outcome Outcome, int Status, string? Code, JsonElement Body)
{
    public bool IsAck => Outcome == Outcome.Ack;
    /// <summary>The request did not take effect for sure or its answer was lost: a client retries it with the same id.</summary>
    public bool ShouldRetry => Outcome is Outcome.Unavailable or Outcome.Unreachable or Outcome.Hang;
}

/// <summary>Sends a request through the API silo, classifies the answer and records it in the <see cref="Ledger"/>.</summary>
public sealed class Driver(HttpClient http, Ledger ledger, TimeSpan hangAfter)
{
    public Ledger Ledger => ledger;

    public Task<Reply> GetAsync(string operation, string path, params string[] refusals) =>
        SendAsync(operation, HttpMethod.Get, path, null, null, refusals);

    public Task<Reply> PostAsync(string operation, string path, object? body, params string[] refusals) =>
        SendAsync(operation, HttpMethod.Post, path, body, null, refusals);

    public async Task<Reply> SendAsync(string operation, HttpMethod method, string path, object? body,
        IReadOnlyDictionary<string, string>? headers, params string[] refusals)
    {
        var phase = ledger.Current;
        var started = ledger.Now;
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        Reply reply;
        using var hang = new CancellationTokenSource(hangAfter);
        try
        {
            using var response = await http.SendAsync(request, hang.Token);
            var text = await response.Content.ReadAsStringAsync(hang.Token);
            var json = Parse(text);
            var status = (int)response.StatusCode;
            var code = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("code", out var c) ? c.GetString() : null;
            var outcome = status switch
            {
                >= 200 and < 300 => Outcome.Ack,
                503 when code is "unavailable" or "storage_unavailable" => Outcome.Unavailable,
                >= 500 => Outcome.ServerError,
                >= 400 when code is not null && refusals.Contains(code) => Outcome.Refused,
                _ => Outcome.Unexpected,
            };
            reply = new Reply(outcome, status, code ?? (outcome == Outcome.Unexpected ? Truncate(text) : null), json);
        }
        catch (OperationCanceledException) when (hang.IsCancellationRequested)
        {
            reply = new Reply(Outcome.Hang, 0, "hang", default);
        }
        catch (HttpRequestException e)
        {
            reply = new Reply(Outcome.Unreachable, 0, e.HttpRequestError.ToString(), default);
        }

        ledger.Record(new Attempt(phase, operation, path.Split('?')[0], started, ledger.Now, reply.Outcome, reply.Status, reply.Code));
        return reply;
    }

    private static JsonElement Parse(string text)
    {
        try
        {
            return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200];
}
