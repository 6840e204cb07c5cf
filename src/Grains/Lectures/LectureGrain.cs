using Lectures.Grains.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Providers;
using Orleans.Storage;

namespace Lectures.Grains.Lectures;

/// <summary>
/// One robot's run of one lecture. The grain is not reentrant: concurrent starts, commands and session ends on the
/// same run are serialized, and a start that awaits the lecture's topic holds the turn, so a repeated
/// Idempotency-Key always finds the first start's session. The run's record stays small: each session's snapshot of
/// its topic is written once, as a record of its own in the same store, before the run lists the session.
/// </summary>
public sealed class LectureGrain(
    [PersistentState("run")] IPersistentState<LectureRunRecord> state,
    IGrainFactory grains,
    IOptions<LectureOptions> options,
    TimeProvider clock,
    ILogger<LectureGrain> logger) : Grain, ILectureGrain
{
    private EventLog<LectureChange> _events = null!;
    private SessionSnapshots _snapshots = null!;
    // The run as last written: event streams interleave with writes and must never show a change that is not durable.
    private LectureRunView? _durable;
    // A write failed: the in-memory record may hold a change that is not stored, so nothing is answered from it.
    private bool _broken;
    private LectureRunRecord S => state.State;
    // Parsed once: every view and summary would otherwise hold its own copies of both ids.
    private (string LectureId, string RobotId)? _key;
    private string LectureId => (_key ??= LectureKeys.Parse(this.GetPrimaryKeyString())).LectureId;
    private string RobotId => (_key ??= LectureKeys.Parse(this.GetPrimaryKeyString())).RobotId;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _events = this.CreateEventLog<LectureChange>(LiveStreams.Lectures, logger);
        _snapshots = new SessionSnapshots(ServiceProvider.GetRequiredKeyedService<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME),
            this.GetGrainId(), logger);
        _durable = View(LectureRunView.DefaultLimit);
        return Task.CompletedTask;
    }

    public async Task<StartSessionResult> StartSessionAsync(string topicId, string language, string? idempotencyKey, IfMatch? ifMatch = null)
    {
        EnsureUsable();
        var now = clock.GetUtcNow();
        if (idempotencyKey is not null && S.IdempotentStarts.TryGetValue(idempotencyKey, out var seen) && seen.ExpiresAt > now)
        {
            DomainMetrics.DuplicatesPrevented.Add(1);
            return new StartSessionResult(false, await SessionViewAsync(FindSession(seen.SessionId)));
        }

        // A start creates the run when it has none: If-Match * (an existing run only) then matches nothing.
        IfMatch.Ensure(ifMatch, S.Version, exists: S.Sessions.Count > 0);
        var lecture = grains.GetGrain<ILectureCatalogGrain>(LectureId);
        var topic = await lecture.GetTopicAsync(topicId);
        if (!S.RegisteredWithLecture)
        {
            // Before the session is stored, so a run never exists that its lecture does not list.
            await lecture.RegisterRobotAsync(RobotId);
        }

        var session = new SessionRecord { SessionId = Guid.NewGuid().ToString("N"), TopicId = topic.TopicId, Language = language, IsActive = true, StartedAt = now };
        var snapshot = new SessionSnapshotRecord { Contents = [.. topic.Contents], TimeList = [.. topic.TimeList] };
        // Written before the run lists the session: a start that fails later leaves a snapshot nobody can reach,
        // never a listed session without its contents. A client sees the session only once the run is written.
        await _snapshots.WriteAsync(session.SessionId, snapshot);

        S.RegisteredWithLecture = true;
        S.Sessions.Add(session);
        session.Version = ++S.Version;
        ForgetExpiredKeys(now);
        if (idempotencyKey is not null)
        {
            S.IdempotentStarts[idempotencyKey] = new IdempotentStart { SessionId = session.SessionId, ExpiresAt = now + options.Value.IdempotencyWindow };
        }

        var restarts = S.State is LectureRunState.Idle or LectureRunState.Ended;
        if (restarts)
        {
            (S.State, S.TopicId, S.Position, S.ContentCount) = (LectureRunState.Presenting, topic.TopicId, 0, topic.Contents.Count);
            S.Version++;
        }

        await CommitAsync(Summary(session), restarts);
        DomainMetrics.SessionsStarted.Add(1);
        return new StartSessionResult(true, SessionView(session, snapshot));
    }

    public Task<LectureRunView> GetAsync(int limit = LectureRunView.DefaultLimit)
    {
        EnsureUsable();
        EnsureRunExists();
        return Task.FromResult(View(limit));
    }

    public Task<LectureSessionView> GetSessionAsync(string sessionId)
    {
        EnsureUsable();
        return SessionViewAsync(FindSession(sessionId));
    }

    public async Task<LectureSessionView> EndSessionAsync(string sessionId, IfMatch? ifMatch = null)
    {
        EnsureUsable();
        var session = FindSession(sessionId);
        IfMatch.Ensure(ifMatch, session.Version);
        if (session.IsActive)
        {
            session.IsActive = false;
            session.Version = ++S.Version;
            await CommitAsync(Summary(session), stateChanged: false);
        }

        return await SessionViewAsync(session);
    }

    public async Task<LectureRunView> CommandAsync(LectureCommand command, IfMatch? ifMatch = null)
    {
        EnsureUsable();
        EnsureRunExists();
        IfMatch.Ensure(ifMatch, S.Version);

        (S.State, S.Position) = Transition(S.State, S.Position, S.ContentCount, command)
            ?? throw DomainException.Conflict(LectureErrors.InvalidTransition,
                $"Command '{Name(command)}' is not allowed in state '{Name(S.State)}'.",
                new Dictionary<string, string> { ["state"] = Name(S.State), ["command"] = Name(command) });
        S.Version++;
        await CommitAsync(null, stateChanged: true);
        return _durable!;
    }

    // Runs interleaved with a start or command that is awaiting its write: reads only the durable view.
    public Task<EventBatch<LectureChange>> GetEventsAsync(long afterId, CancellationToken cancellationToken = default)
    {
        var durable = _durable!;
        if (durable.SessionCount == 0)
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

    /// <summary>Writes the run (its versions already bumped, one per event) and publishes the events.</summary>
    private async Task CommitAsync(LectureSessionSummary? session, bool stateChanged)
    {
        try
        {
            await state.SaveAsync(this, logger);
        }
        catch
        {
            _broken = true;
            throw;
        }

        _durable = View(LectureRunView.DefaultLimit);
        if (session is not null)
        {
            _events.Append(session.Version, "session", new LectureChange(null, session));
        }

        if (stateChanged)
        {
            _events.Append(S.Version, "state", new LectureChange(_durable, null));
        }
    }

    private async Task<LectureSessionView> SessionViewAsync(SessionRecord session) =>
        SessionView(session, await _snapshots.ReadAsync(session.SessionId));

    private void ForgetExpiredKeys(DateTimeOffset now)
    {
        foreach (var expired in S.IdempotentStarts.Where(k => k.Value.ExpiresAt <= now).Select(k => k.Key).ToList())
        {
            S.IdempotentStarts.Remove(expired);
        }
    }

    private void EnsureUsable()
    {
        if (_broken)
        {
            throw new StorageUnavailableException("The grain store could not be written; the change was not acknowledged.");
        }
    }

    private SessionRecord FindSession(string sessionId) =>
        S.Sessions.Find(s => s.SessionId == sessionId)
        ?? throw DomainException.NotFound(LectureErrors.SessionNotFound, $"Robot '{RobotId}' has no session '{sessionId}' in lecture '{LectureId}'.");

    private void EnsureRunExists()
    {
        if (S.Sessions.Count == 0)
        {
            throw DomainException.NotFound(LectureErrors.RunNotFound, $"Robot '{RobotId}' has no run of lecture '{LectureId}'.");
        }
    }

    private LectureRunView View(int limit) => new(LectureId, RobotId, S.State, S.TopicId, S.Position, S.Sessions.Count,
        S.Sessions.Skip(Math.Max(0, S.Sessions.Count - limit)).Select(Summary).ToList(), S.Version);

    private LectureSessionSummary Summary(SessionRecord s) => new(s.SessionId, LectureId, RobotId, s.TopicId, s.Language, s.IsActive, s.StartedAt, s.Version);

    private LectureSessionView SessionView(SessionRecord s, SessionSnapshotRecord snapshot) =>
        new(s.SessionId, LectureId, RobotId, s.TopicId, s.Language, [.. snapshot.Contents], [.. snapshot.TimeList], s.IsActive, s.StartedAt, s.Version);

    private static string Name<T>(T value) where T : Enum => value.ToString().ToLowerInvariant();
}
