using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Lectures.Api.Tests.Infrastructure;

/// <summary>
/// A real OpenAI-compatible chat completions server on loopback (HttpListener), for driving the product's real OpenAI
/// client. It answers <c>POST /v1/chat/completions</c> as JSON, or as <c>text/event-stream</c> chunks ending with
/// <c>data: [DONE]</c> when <c>stream</c> is true. The last user message steers it: <c>[slow]</c> answers after a minute,
/// <c>[delay]</c> after 1.5 s, <c>[fail]</c> answers 500; anything else at once. Every request body is recorded.
/// </summary>
public sealed class FakeOpenAi : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public FakeOpenAi()
    {
        Port = FreePort.Next();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    /// <summary>The base address the product's <c>Sessions:Endpoint</c> points at.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}/v1";

    public ConcurrentQueue<JsonElement> Requests { get; } = new();

    /// <summary>Every request as it arrived: its path, its Authorization header and its body.</summary>
    public ConcurrentQueue<(string Path, string? Authorization, JsonElement Body)> Calls { get; } = new();

    /// <summary>The chat messages of every request whose last user message contains <paramref name="marker"/>.</summary>
    public List<JsonElement[]> RequestsContaining(string marker) => Requests
        .Select(r => r.GetProperty("messages").EnumerateArray().ToArray())
        .Where(m => LastUserText(m).Contains(marker, StringComparison.Ordinal))
        .ToList();

    private async Task AcceptAsync()
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

            _ = Task.Run(() => ServeAsync(context));
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        try
        {
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone();
            Requests.Enqueue(body);
            Calls.Enqueue((context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"], body));
            var messages = body.GetProperty("messages").EnumerateArray().ToArray();
            var question = LastUserText(messages);
            if (!context.Request.Url!.AbsolutePath.EndsWith("/chat/completions", StringComparison.Ordinal))
            {
                await WriteAsync(context, 404, "application/json", """{"error":{"message":"not found"}}""");
                return;
            }

            if (question.Contains("[fail]", StringComparison.Ordinal))
            {
                await WriteAsync(context, 500, "application/json", """{"error":{"message":"the model crashed","type":"server_error"}}""");
                return;
            }

            await Task.Delay(question.Contains("[slow]", StringComparison.Ordinal) ? TimeSpan.FromMinutes(1)
                : question.Contains("[delay]", StringComparison.Ordinal) ? TimeSpan.FromSeconds(1.5) : TimeSpan.Zero);
            var reply = $"fake reply to \"{question}\" with {messages.Length} messages";
            var stream = body.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            if (!stream)
            {
                await WriteAsync(context, 200, "application/json", JsonSerializer.Serialize(new
                {
                    id = "chatcmpl-fake", @object = "chat.completion", created = 1_700_000_000, model = "fake",
                    choices = new[] { new { index = 0, message = new { role = "assistant", content = reply }, finish_reason = "stop" } },
                    usage = new { prompt_tokens = 1, completion_tokens = 1, total_tokens = 2 },
                }));
                return;
            }

            var chunks = new StringBuilder();
            foreach (var word in reply.Split(' '))
            {
                chunks.Append("data: ").Append(JsonSerializer.Serialize(new
                {
                    id = "chatcmpl-fake", @object = "chat.completion.chunk", created = 1_700_000_000, model = "fake",
                    choices = new[] { new { index = 0, delta = new { content = word + " " }, finish_reason = (string?)null } },
                })).Append("\n\n");
            }

            chunks.Append("data: [DONE]\n\n");
            await WriteAsync(context, 200, "text/event-stream", chunks.ToString());
        }
        catch (Exception)
        {
            // The client went away (cancelled or timed out): nothing to answer.
        }
    }

    private static string LastUserText(JsonElement[] messages) =>
        messages.LastOrDefault(m => m.GetProperty("role").GetString() == "user") is { ValueKind: JsonValueKind.Object } last ? Text(last) : "";

    /// <summary>A message's text, whether its content is a string or a list of parts.</summary>
    public static string Text(JsonElement message)
    {
        var content = message.GetProperty("content");
        return content.ValueKind == JsonValueKind.String
            ? content.GetString()!
            : string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""));
    }

    private static async Task WriteAsync(HttpListenerContext context, int status, string contentType, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
