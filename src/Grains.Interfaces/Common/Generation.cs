using Orleans.Concurrency;

namespace Lectures.Grains.Common;

/// <summary>
/// Seconds-long generation (an AI reply) outside its owner's turns, the one mechanism rooms and sessions share. The
/// owner (a room, a user's session) marks a request in one turn and one write, then hands it to the worker of the
/// request's slot (an agent of a room, the user), which generates it with the request's deadline and reports back
/// through <see cref="IGenerationOwner.CompleteGenerationAsync"/>, idempotent per request. One worker per slot runs at
/// most one generation: a new request, or the owner ending the old one, cancels the old one.
/// </summary>
public interface IGenerationWorkerGrain : IGrainWithStringKey
{
    /// <summary>
    /// One-way: generates <paramref name="request"/> unless it is the one already running (a repeated hand-over after the
    /// owner was reactivated). Any other generation of the slot is cancelled first and finishes before this one starts.
    /// </summary>
    [OneWay]
    Task StartAsync(GenerationRequest request);

    /// <summary>One-way: cancels the generation of <paramref name="requestId"/> if it is the one running; its owner has ended it.</summary>
    [OneWay]
    Task CancelAsync(string requestId);
}

/// <summary>A grain that hands generations to workers and takes their results.</summary>
public interface IGenerationOwner : IGrain
{
    /// <summary>
    /// Ends request <paramref name="requestId"/> of <paramref name="slot"/> with <paramref name="result"/>. Idempotent:
    /// a request that has already ended (a repeated report, or one the owner ended itself) changes nothing and answers
    /// false. Throws when the result could not be stored; the worker tries again until the request's report deadline.
    /// </summary>
    Task<bool> CompleteGenerationAsync(string slot, string requestId, GenerationResult result);
}

public enum PromptRole { System, User, Assistant }

public enum GenerationOutcome { Reply, Timeout, Failed, Interrupted }

[GenerateSerializer, Immutable, Alias("generation.prompt-message")]
public sealed record PromptMessage([property: Id(0)] PromptRole Role, [property: Id(1)] string Text);

/// <summary>
/// One request to generate. <see cref="Deadline"/> counts from the owner's mark, so the time a hand-over takes is
/// part of it; the worker reports until <see cref="ReportUntil"/>, the moment the owner's loss check may end the
/// request itself, so a reply generated in time is never lost to a slow or failing report. <see cref="ResumeOnly"/> is
/// the hand-over of a new activation of the owner: a worker still generating the request goes on, one that does not
/// have it (its silo died) reports it <see cref="GenerationOutcome.Interrupted"/> at once. With <see cref="DeltaStream"/>
/// set (a streamed request whose owner is watched), the worker publishes the text as it is produced, as
/// <see cref="ReplyDelta"/> hints on that namespace's stream of the owner's key.
/// </summary>
[GenerateSerializer, Immutable, Alias("generation.request")]
public sealed record GenerationRequest(
    [property: Id(0)] GrainId Owner,
    [property: Id(1)] string Slot,
    [property: Id(2)] string RequestId,
    [property: Id(3)] PromptMessage[] Prompt,
    [property: Id(4)] DateTimeOffset Deadline,
    [property: Id(5)] DateTimeOffset ReportUntil,
    [property: Id(6)] string Responder,
    [property: Id(7)] bool Streaming,
    [property: Id(8)] int MaxChars,
    [property: Id(9)] string CutMarker,
    [property: Id(10)] bool ResumeOnly = false,
    [property: Id(11)] string? DeltaStream = null);

/// <summary>What a generation produced: the reply's text, or why there is none.</summary>
[GenerateSerializer, Immutable, Alias("generation.result")]
public sealed record GenerationResult([property: Id(0)] GenerationOutcome Outcome, [property: Id(1)] string Text);

/// <summary>
/// A piece of a reply while it is generated: a hint for live watchers, never stored or replayed. The pieces of one
/// request, joined in order, are its stored text when none was lost and the reply was not cut.
/// </summary>
[GenerateSerializer, Immutable, Alias("generation.reply-delta")]
public sealed record ReplyDelta([property: Id(0)] string Slot, [property: Id(1)] string RequestId, [property: Id(2)] string Text);

public static class GenerationKeys
{
    /// <summary>The worker of <paramref name="slot"/> of <paramref name="owner"/>: one per slot, so one generation per slot.</summary>
    public static string Worker(GrainId owner, string slot) => $"{owner}|{slot}";
}
