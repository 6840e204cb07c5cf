using System.ComponentModel.DataAnnotations;

namespace Lectures.Grains.Ai;

public enum ResponderKind { Builtin, OpenAI }

/// <summary>
/// Which <c>IChatClient</c> produces replies. A feature's options (<c>Agents</c>, <c>Sessions</c>) derive from this, so
/// every feature configures its responder with the same keys under its own section.
/// </summary>
public abstract class ResponderOptions : IValidatableObject
{
    /// <summary>The configuration section, used to name keys in validation messages.</summary>
    protected abstract string SectionName { get; }

    public ResponderKind Responder { get; set; } = ResponderKind.Builtin;

    /// <summary>OpenAI-compatible base address; the client posts to <c>{Endpoint}/chat/completions</c>.</summary>
    public Uri? Endpoint { get; set; }

    public string? Model { get; set; }

    /// <summary>Sent as the bearer token. Never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>How long the built-in offline responder takes to answer.</summary>
    public TimeSpan BuiltinLatency { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Ask the responder for a streamed reply (the OpenAI path uses the streaming API) and send its text to live
    /// watchers as <c>delta</c> events while it is generated; the stored reply is the same either way.
    /// </summary>
    public bool Streaming { get; set; } = true;

    public virtual IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (BuiltinLatency < TimeSpan.Zero || BuiltinLatency > TimeSpan.FromMinutes(10))
        {
            yield return new($"{SectionName}:BuiltinLatency must be from 00:00:00 to 00:10:00.", [nameof(BuiltinLatency)]);
        }

        if (Responder == ResponderKind.OpenAI)
        {
            if (Endpoint is not { IsAbsoluteUri: true } || Endpoint.Scheme is not ("http" or "https"))
            {
                yield return new($"{SectionName}:Endpoint must be an absolute http(s) address when {SectionName}:Responder is OpenAI.", [nameof(Endpoint)]);
            }

            if (string.IsNullOrWhiteSpace(Model))
            {
                yield return new($"{SectionName}:Model is required when {SectionName}:Responder is OpenAI.", [nameof(Model)]);
            }
        }
    }
}
