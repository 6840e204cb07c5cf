using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace Lectures.Grains.Common;

/// <summary>
/// Generates the requests of one slot (see <see cref="IGenerationWorkerGrain"/>), one at a time, outside any turn: its
/// own methods only swap the running generation, so a cancel is served at once. The generation ends at the request's
/// deadline (counted from the owner's mark) and its result is reported until the request's report deadline, through
/// reactivations and failed writes of the owner. A generation the owner ended is not reported; one cut short by this
/// activation going away (the silo stopping) is reported as <see cref="GenerationOutcome.Interrupted"/>.
/// </summary>
public sealed class GenerationWorkerGrain(IServiceProvider services, TimeProvider clock, ILogger<GenerationWorkerGrain> logger)
    : Grain, IGenerationWorkerGrain
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromSeconds(2);
    // How long a new generation waits for the one it replaced, and for the slot's last model call, to stop.
    private static readonly TimeSpan ReplacedGrace = TimeSpan.FromSeconds(5);
    // Deltas are hints: a stream that does not take them promptly never delays the reply's report by more than this.
    private static readonly TimeSpan DeltaFlushLimit = TimeSpan.FromSeconds(1);
    // Three pulling periods of the live streams' queues (ProductSilo): the reply's last pieces reach the API silos
    // before its message event. Paid only by replies somebody watches, against a generation of seconds.
    private static readonly TimeSpan DeltaSettle = TimeSpan.FromMilliseconds(150);

    private Running? _current;
    // The model call of the slot's latest generation. It can outlive its generation: a cancelled call unwinds a moment
    // after the generation gave up on it, and a responder that ignores cancellation runs on until it answers.
    private Task _lastCall = Task.CompletedTask;

    public Task StartAsync(GenerationRequest request)
    {
        if (_current?.RequestId == request.RequestId)
        {
            // Handed over again by a new activation of the owner: this generation goes on and reports to it.
            return Task.CompletedTask;
        }

        if (request.ResumeOnly)
        {
            // Not generating it (its silo died, or it ended and a late hand-over arrived): say so, and never displace
            // the generation that is running (a newer request of the slot).
            _ = ReportAsync(request, new GenerationResult(GenerationOutcome.Interrupted, ""), new Running(request.RequestId));
            return Task.CompletedTask;
        }

        var previous = _current;
        previous?.Cancel.Cancel();
        var running = new Running(request.RequestId);
        _current = running;
        // The activation collector must not take the worker away while it generates or reports.
        DelayDeactivation(request.ReportUntil - clock.GetUtcNow() + TimeSpan.FromSeconds(5));
        running.Done = RunAsync(request, previous, running);
        return Task.CompletedTask;
    }

    public Task CancelAsync(string requestId)
    {
        if (_current is { } running && running.RequestId == requestId)
        {
            running.Cancel.Cancel();
        }

        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_current is { } running)
        {
            running.Interrupted = true;
            running.Cancel.Cancel();
            // Its report (interrupted) is made, and its model call has ended, before the activation goes, within the
            // deactivation's time: a next activation's generation never runs beside it.
            await SlotQuietAsync(running).WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Current);
        }
    }

    private async Task RunAsync(GenerationRequest request, Running? previous, Running running)
    {
        try
        {
            // At most one generation per slot: the replaced one stops, and the last model call ends, before this one
            // calls the model (or the grace passes: a responder that ignores cancellation cannot block the slot for good).
            await SlotQuietAsync(previous).WaitAsync(ReplacedGrace, clock).ContinueWith(_ => { }, TaskScheduler.Current);

            var result = await GenerateAsync(request, running);
            if (result is not null)
            {
                await ReportAsync(request, result, running);
            }
        }
        finally
        {
            running.Cancel.Dispose();
            if (_current == running)
            {
                _current = null;
            }
        }
    }

    /// <summary>The result to report; null when the owner ended the request (it has recorded the outcome).</summary>
    private async Task<GenerationResult?> GenerateAsync(GenerationRequest request, Running running)
    {
        var chat = services.GetRequiredKeyedService<IChatClient>(request.Responder);
        using var timeout = new CancellationTokenSource(Max(request.Deadline - clock.GetUtcNow(), TimeSpan.Zero), clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, running.Cancel.Token);
        var deltas = request is { Streaming: true, DeltaStream: { } ns }
            ? new ReplyDeltaPublisher(this.GetStreamProvider(LiveStreams.Provider).GetStream<ReplyDelta>(StreamId.Create(ns, request.Owner.Key.ToString()!)),
                request.Slot, request.RequestId, request.MaxChars, clock, logger)
            : null;
        try
        {
            var prompt = request.Prompt.Select(ToChatMessage).ToList();
            var call = request.Streaming ? StreamAsync(chat, prompt, deltas, linked.Token) : chat.GetResponseAsync(prompt, cancellationToken: linked.Token);
            _lastCall = call;
            // WaitAsync: a responder that ignores its token is abandoned at the deadline all the same.
            var response = await call.WaitAsync(linked.Token);
            var text = response.Text.Trim();
            if (deltas is { Published: true })
            {
                // The last pieces are on their way before the reply is reported. The reply's event travels on another
                // stream, so it could overtake them: a few pulling periods of the stream queues let the pieces arrive
                // first (clients still take the stored message as the reply's text whatever the order).
                await deltas.FlushAsync().WaitAsync(DeltaFlushLimit, clock).ContinueWith(_ => { }, TaskScheduler.Current);
                await Task.Delay(DeltaSettle, clock);
            }

            if (text.Length == 0)
            {
                logger.LogWarning("The responder gave {Owner} an empty reply for {Slot}/{RequestId}", request.Owner, request.Slot, request.RequestId);
                return new GenerationResult(GenerationOutcome.Failed, "");
            }

            return new GenerationResult(GenerationOutcome.Reply, Cut(text, request.MaxChars, request.CutMarker));
        }
        catch (OperationCanceledException) when (running.Cancel.IsCancellationRequested)
        {
            return running.Interrupted ? new GenerationResult(GenerationOutcome.Interrupted, "") : null;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new GenerationResult(GenerationOutcome.Timeout, "");
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "The responder failed for {Owner}, {Slot}/{RequestId}", request.Owner, request.Slot, request.RequestId);
            return new GenerationResult(GenerationOutcome.Failed, "");
        }
        finally
        {
            // A responder abandoned at its deadline may still produce text: none of it is sent.
            deltas?.Close();
        }
    }

    /// <summary>Completes when <paramref name="previous"/> (if any) has ended and the slot's last model call with it.</summary>
    private async Task SlotQuietAsync(Running? previous)
    {
        if (previous is not null)
        {
            await previous.Done;
        }

        await _lastCall;
    }

    /// <summary>The streamed reply assembled as one response; each chunk's text also goes to the watchers as it comes.</summary>
    private static async Task<ChatResponse> StreamAsync(IChatClient chat, List<ChatMessage> prompt, ReplyDeltaPublisher? deltas, CancellationToken cancellationToken)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(prompt, cancellationToken: cancellationToken).WithCancellation(cancellationToken))
        {
            updates.Add(update);
            deltas?.Add(update.Text);
        }

        return updates.ToChatResponse();
    }

    /// <summary>Reports until it is taken or the report deadline passes (then the owner's loss check ends the request).</summary>
    private async Task ReportAsync(GenerationRequest request, GenerationResult result, Running running)
    {
        var owner = GrainFactory.GetGrain<IGenerationOwner>(request.Owner);
        var delay = FirstRetry;
        while (true)
        {
            try
            {
                await owner.CompleteGenerationAsync(request.Slot, request.RequestId, result);
                return;
            }
            catch (Exception ex) when (!running.Interrupted && clock.GetUtcNow() + delay < request.ReportUntil)
            {
                // Safe to repeat: the owner takes each request's result once.
                logger.LogWarning(ex, "Reporting {Slot}/{RequestId} to {Owner} failed; trying again in {Delay}", request.Slot, request.RequestId, request.Owner, delay);
                await Task.Delay(delay, clock);
                delay = Min(delay * 2, LongestRetry);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Reporting {Slot}/{RequestId} to {Owner} failed; its loss check ends it", request.Slot, request.RequestId, request.Owner);
                return;
            }
        }
    }

    /// <summary>A reply longer than <paramref name="maxChars"/> is cut and ends with <paramref name="marker"/>.</summary>
    public static string Cut(string text, int maxChars, string marker) =>
        text.Length <= maxChars ? text : string.Concat(text.AsSpan(0, Math.Max(0, maxChars - marker.Length)), marker);

    private static ChatMessage ToChatMessage(PromptMessage m) => new(m.Role switch
    {
        PromptRole.System => ChatRole.System,
        PromptRole.Assistant => ChatRole.Assistant,
        _ => ChatRole.User,
    }, m.Text);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private sealed class Running(string requestId)
    {
        public string RequestId { get; } = requestId;
        public CancellationTokenSource Cancel { get; } = new();
        public Task Done { get; set; } = Task.CompletedTask;
        /// <summary>Cut short by this activation going away, not by the owner: reported as interrupted.</summary>
        public bool Interrupted { get; set; }
    }
}
