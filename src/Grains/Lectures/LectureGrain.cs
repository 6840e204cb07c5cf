using Lectures.Grains.Common;
using Microsoft.Extensions.Logging;

namespace Lectures.Grains.Lectures;

[GenerateSerializer, Alias("lectures.run-record")]
public sealed class LectureRunRecord
{
    [Id(0)] public LectureRunState State { get; set; } = LectureRunState.Idle;
    [Id(1)] public string? TopicId { get; set; }
    [Id(2)] public int Position { get; set; }
    /// <summary>How many content items the current topic has (from the session that set the topic).</summary>
    [Id(3)] public int ContentCount { get; set; }
    [Id(4)] public List<LectureSessionView> Sessions { get; set; } = [];
    /// <summary>Idempotency-Key -> session id, so a repeated start returns the first session.</summary>
    [Id(5)] public Dictionary<string, string> IdempotencyKeys { get; set; } = [];
    [Id(6)] public long Version { get; set; }
    [Id(7)] public bool RegisteredWithLecture { get; set; }
}

/// <summary>
/// One robot's run of one lecture. The grain is not reentrant: concurrent starts, commands and session ends on the
/// same run are serialized, and a start that awaits the lecture's topic holds the turn, so a repeated
/// Idempotency-Key always finds the first start's session.
/// </summary>
public sealed class LectureGrain(
    [PersistentState("run")] IPersistentState<LectureRunRecord> state,
    IGrainFactory grains,
    TimeProvider clock,
    ILogger<LectureGrain> logger) : Grain, ILectureGrain
{
    private EventLog<LectureChange> _events = null!;
    // The run as last written: event streams interleave with writes and must never show a change that is not durable.
    private LectureRunView? _durable;
    private LectureRunRecord S => state.State;
    private string LectureId => LectureKeys.Parse(this.GetPrimaryKeyString()).LectureId;
    private string RobotId => LectureKeys.Parse(this.GetPrimaryKeyString()).RobotId;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _events = this.CreateEventLog<LectureChange>(LiveStreams.Lectures, logger);
        _durable = View();
        return Task.CompletedTask;
    }

    public async Task<StartSessionResult> StartSessionAsync(string topicId, string language, string? idempotencyKey)
    {
        if (idempotencyKey is not null && S.IdempotencyKeys.TryGetValue(idempotencyKey, out var existingId))
        {
            DomainMetrics.DuplicatesPrevented.Add(1);
            return new StartSessionResult(false, FindSession(existingId), S.Version);
        }

        var lecture = grains.GetGrain<ILectureCatalogGrain>(LectureId);
        var topic = await lecture.GetTopicAsync(topicId);
        if (!S.RegisteredWithLecture)
        {
            // Before the session is stored, so a run never exists that its lecture does not list.
            await lecture.RegisterRobotAsync(RobotId);
        }

        var session = new LectureSessionView(
            Guid.NewGuid().ToString("N"), LectureId, RobotId, topic.TopicId, language,
            [.. topic.Contents], [.. topic.TimeList], IsActive: true, clock.GetUtcNow());
        S.RegisteredWithLecture = true;
        S.Sessions.Add(session);
        if (idempotencyKey is not null)
        {
            S.IdempotencyKeys[idempotencyKey] = session.SessionId;
        }

        var restarts = S.State is LectureRunState.Idle or LectureRunState.Ended;
        if (restarts)
        {
            S.State = LectureRunState.Presenting;
            S.TopicId = topic.TopicId;
            S.Position = 0;
            S.ContentCount = topic.Contents.Count;
        }

        await CommitAsync(new LectureChange(null, session), restarts);
        DomainMetrics.SessionsStarted.Add(1);
        return new StartSessionResult(true, session, S.Version);
    }

    public Task<LectureRunView> GetAsync()
    {
        EnsureRunExists();
        return Task.FromResult(View());
    }

    public Task<LectureSessionView> GetSessionAsync(string sessionId) => Task.FromResult(FindSession(sessionId));

    public async Task<LectureSessionView> EndSessionAsync(string sessionId)
    {
        var session = FindSession(sessionId);
        if (!session.IsActive)
        {
            return session;
        }

        var ended = session with { IsActive = false };
        S.Sessions[S.Sessions.IndexOf(session)] = ended;
        await CommitAsync(new LectureChange(null, ended), stateChanged: false);
        return ended;
    }

    public async Task<LectureRunView> CommandAsync(LectureCommand command, IfMatch? ifMatch = null)
    {
        EnsureRunExists();
        IfMatch.Ensure(ifMatch, S.Version);

        (S.State, S.Position) = Transition(S.State, S.Position, S.ContentCount, command)
            ?? throw DomainException.Conflict(LectureErrors.InvalidTransition,
                $"Command '{Name(command)}' is not allowed in state '{Name(S.State)}'.",
                new Dictionary<string, string> { ["state"] = Name(S.State), ["command"] = Name(command) });
        await CommitAsync(null, stateChanged: true);
        return View();
    }

    // Runs interleaved with a start or command that is awaiting its write: reads only the durable view.
    public Task<EventBatch<LectureChange>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default)
    {
        var durable = _durable!;
        if (durable.Sessions.Count == 0)
        {
            throw DomainException.NotFound(LectureErrors.RunNotFound, $"Robot '{RobotId}' has no run of lecture '{LectureId}'.");
        }

        return Task.FromResult(_events.After(afterId, () => new ChangeEvent<LectureChange>(durable.Version, "state", new LectureChange(durable, null))));
    }

    /// <summary>The state machine of API.md; null when the command is not allowed in the state.</summary>
    public static (LectureRunState, int)? Transition(LectureRunState state, int position, int contentCount, LectureCommand command) =>
        (state, command) switch
        {
            (LectureRunState.Presenting, LectureCommand.Advance) => position + 1 >= contentCount
                ? (LectureRunState.Ended, position)
                : (LectureRunState.Presenting, position + 1),
            (LectureRunState.Presenting, LectureCommand.Pause) => (LectureRunState.Paused, position),
            (LectureRunState.Paused, LectureCommand.Resume) => (LectureRunState.Presenting, position),
            (LectureRunState.Presenting, LectureCommand.Question) => (LectureRunState.Qna, position),
            (LectureRunState.Qna, LectureCommand.Answer) => (LectureRunState.Presenting, position),
            (not LectureRunState.Ended, LectureCommand.End) => (LectureRunState.Ended, position),
            _ => null,
        };

    private async Task CommitAsync(LectureChange? sessionChange, bool stateChanged)
    {
        // Every event gets its own version (a start that restarts the run makes two), so a client resuming with
        // Last-Event-ID after the first of them still gets the second.
        var first = S.Version + 1;
        S.Version += (sessionChange is null ? 0 : 1) + (stateChanged ? 1 : 0);
        await state.SaveAsync(this, logger);
        _durable = View();
        if (sessionChange is not null)
        {
            _events.Append(first++, "session", sessionChange);
        }

        if (stateChanged)
        {
            _events.Append(first, "state", new LectureChange(View(), null));
        }
    }

    private LectureSessionView FindSession(string sessionId) =>
        S.Sessions.Find(s => s.SessionId == sessionId)
        ?? throw DomainException.NotFound(LectureErrors.SessionNotFound, $"Robot '{RobotId}' has no session '{sessionId}' in lecture '{LectureId}'.");

    private void EnsureRunExists()
    {
        if (S.Sessions.Count == 0)
        {
            throw DomainException.NotFound(LectureErrors.RunNotFound, $"Robot '{RobotId}' has no run of lecture '{LectureId}'.");
        }
    }

    private LectureRunView View() => new(LectureId, RobotId, S.State, S.TopicId, S.Position, S.Sessions.ToList(), S.Version);

    private static string Name<T>(T value) where T : Enum => value.ToString().ToLowerInvariant();
}
