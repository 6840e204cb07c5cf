namespace Lectures.Grains.Common;

/// <summary>One change of a resource, as published to its live event stream (SSE).</summary>
/// <param name="Id">Monotonically increasing per resource; clients resume with it (Last-Event-ID).</param>
/// <param name="Type">The SSE event type, for example <c>progress</c> or <c>status</c>.</param>
/// <param name="Data">A snapshot of the resource after the change, so the latest event alone is enough to be current.</param>
[GenerateSerializer, Immutable, Alias("common.change-event`1")]
public sealed record ChangeEvent<T>([property: Id(0)] long Id, [property: Id(1)] string Type, [property: Id(2)] T Data);

/// <summary>The events after a client's last seen id. When the grain no longer holds the gap, it returns a snapshot instead.</summary>
[GenerateSerializer, Immutable, Alias("common.event-batch`1")]
public sealed record EventBatch<T>([property: Id(0)] IReadOnlyList<ChangeEvent<T>> Events);
