using Lectures.Grains.Common;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Lectures.Grains.Rooms;

/// <summary>
/// Generates the replies of one agent in one room, outside the room's turns (see <see cref="RoomGrain"/>), with a
/// deadline of <c>Agents:ResponseTimeout</c>, and reports every outcome to the room. The room's completion is
/// idempotent per (agent, seq), so a repeated report never stores a second message.
/// </summary>
// Reentrant, safe by inspection: the worker holds no state; each generation is independent, and a new one never
// waits behind an abandoned one.
[Reentrant]
public sealed class AgentWorkerGrain(
    IServiceProvider services,
    IOptions<AgentOptions> options,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<AgentWorkerGrain> logger) : Grain, IAgentWorkerGrain
{
    public const int MaxReplyChars = 8_000;

    private readonly AgentOptions _options = options.Value;
    private readonly IChatClient _chat = services.GetRequiredKeyedService<IChatClient>(AgentOptions.Section);

    public async Task GenerateAsync(ReplyRequest request)
    {
        var (text, error) = await GenerateReplyAsync(request);
        var room = GrainFactory.GetGrain<IRoomGrain>(request.RoomCode);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await room.CompleteReplyAsync(request.Agent.AgentId, request.Seq, text, error);
                return;
            }
            catch (Exception ex) when (attempt < 3 && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                // Safe to repeat (idempotent per pair). If every attempt fails, the room's reminder ends the pair.
                logger.LogWarning(ex, "Reporting the reply of agent {AgentId} to room {RoomCode} failed; retrying", request.Agent.AgentId, request.RoomCode);
                await Task.Delay(TimeSpan.FromSeconds(attempt), clock);
            }
        }
    }

    private async Task<(string Text, string? Error)> GenerateReplyAsync(ReplyRequest request)
    {
        using var timeout = new CancellationTokenSource(_options.ResponseTimeout, clock);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, lifetime.ApplicationStopping);
        try
        {
            // WaitAsync: a responder that ignores its token is abandoned at the deadline all the same.
            var text = (await ReplyAsync(Prompt(request), cancel.Token).WaitAsync(cancel.Token)).Trim();
            if (text.Length == 0)
            {
                logger.LogWarning("The responder gave agent {AgentId} of room {RoomCode} an empty reply", request.Agent.AgentId, request.RoomCode);
                return ("", RoomErrors.ResponderFailed);
            }

            return (text.Length > MaxReplyChars ? text[..MaxReplyChars] : text, null);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return ("", RoomErrors.Timeout);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return ("", RoomErrors.Interrupted);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "The responder failed for agent {AgentId} of room {RoomCode}", request.Agent.AgentId, request.RoomCode);
            return ("", RoomErrors.ResponderFailed);
        }
    }

    private async Task<string> ReplyAsync(List<ChatMessage> prompt, CancellationToken cancellationToken)
    {
        var response = _options.Streaming
            ? await _chat.GetStreamingResponseAsync(prompt, cancellationToken: cancellationToken).ToChatResponseAsync(cancellationToken)
            : await _chat.GetResponseAsync(prompt, cancellationToken: cancellationToken);
        return response.Text;
    }

    /// <summary>The agent's persona (first line, as the system prompt), then the room's recent messages, oldest first.</summary>
    public static List<ChatMessage> Prompt(ReplyRequest request)
    {
        var agent = request.Agent;
        var prompt = new List<ChatMessage>
        {
            new(ChatRole.System,
                $"{agent.Persona}\nYou are {agent.Name}, an AI participant in the group chat room '{request.RoomCode}'. " +
                "Each user message starts with its sender's id. Reply to the last message, briefly and in character."),
        };
        foreach (var message in request.Context)
        {
            prompt.Add(message.SenderKind == SenderKind.Agent && message.SenderId == agent.AgentId
                ? new ChatMessage(ChatRole.Assistant, message.Text)
                : new ChatMessage(ChatRole.User, $"{message.SenderId}: {message.Text}"));
        }

        return prompt;
    }
}
