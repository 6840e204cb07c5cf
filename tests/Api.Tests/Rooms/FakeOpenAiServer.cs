using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Rooms;

/// <summary>
/// A real OpenAI-compatible HTTP server on loopback (HttpListener): <c>POST /v1/chat/completions</c>, answered as one
/// JSON completion or, when the request asks for <c>stream: true</c>, as <c>text/event-stream</c> chunks ending with
/// <c>data: [DONE]</c>. A last user message containing <c>[fail]</c> gets a 500. Every request is recorded.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public FakeOpenAiServer()
    {
        Port = FreePort.Next();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }
    public Uri Endpoint => new($"http://127.0.0.1:{Port}/v1");
    public ConcurrentQueue<(string Path, string? Authorization, JsonElement Body)> Requests { get; } = new();

    public static string ReplyTo(string lastUserText) => $"Fake model says: I heard '{lastUserText}'.";

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var response = context.Response;
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone();
        Requests.Enqueue((context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"], body));
        var lastUser = body.GetProperty("messages").EnumerateArray().Last(m => m.GetProperty("role").GetString() == "user");
        var question = Text(lastUser);
        if (question.Contains("[fail]", StringComparison.Ordinal))
        {
            await WriteAsync(response, 500, "application/json", """{"error":{"message":"the fake model is down","type":"server_error"}}""");
            return;
        }

        var reply = ReplyTo(question);
        var model = body.GetProperty("model").GetString();
        if (body.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            var text = new StringBuilder();
            var pieces = new[] { reply[..(reply.Length / 2)], reply[(reply.Length / 2)..] };
            foreach (var (piece, i) in pieces.Select((p, i) => (p, i)))
            {
                var delta = i == 0 ? new Dictionary<string, object> { ["role"] = "assistant", ["content"] = piece } : new Dictionary<string, object> { ["content"] = piece };
                text.Append("data: ").Append(JsonSerializer.Serialize(Chunk(model, delta, null))).Append("\n\n");
            }

            text.Append("data: ").Append(JsonSerializer.Serialize(Chunk(model, new Dictionary<string, object>(), "stop"))).Append("\n\n");
            text.Append("data: [DONE]\n\n");
            await WriteAsync(response, 200, "text/event-stream", text.ToString());
            return;
        }

        var completion = new
        {
            id = "chatcmpl-fake",
            @object = "chat.completion",
            created = 1_700_000_000,
            model,
            choices = new[] { new { index = 0, message = new { role = "assistant", content = reply }, finish_reason = "stop" } },
            usage = new { prompt_tokens = 10, completion_tokens = 10, total_tokens = 20 },
        };
        await WriteAsync(response, 200, "application/json", JsonSerializer.Serialize(completion));
    }

    private static object Chunk(string? model, Dictionary<string, object> delta, string? finish) => new
    {
        id = "chatcmpl-fake",
        @object = "chat.completion.chunk",
        created = 1_700_000_000,
        model,
        choices = new[] { new { index = 0, delta, finish_reason = finish } },
    };

    /// <summary>A message's text, whether its content is a string or a list of parts.</summary>
    public static string Text(JsonElement message)
    {
        var content = message.GetProperty("content");
        return content.ValueKind == JsonValueKind.String
            ? content.GetString()!
            : string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""));
    }

    private static async Task WriteAsync(HttpListenerResponse response, int status, string contentType, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }
}
