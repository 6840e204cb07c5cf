using StackExchange.Redis;

namespace Baselines;

[GenerateSerializer, Immutable]
public sealed record Job(string JobId, string Kind, string Status, double Progress, string? WorkerId);

/// <summary>An outcome: the job, or an HTTP status with a problem code (the same codes as the product).</summary>
[GenerateSerializer, Immutable]
public sealed record Outcome(Job? Job, int Status = 200, string? Code = null, bool? Applied = null)
{
    public IResult ToResult(int success = 200) => Job is null || Status >= 400
        ? Results.Problem(statusCode: Status, extensions: new Dictionary<string, object?> { ["code"] = Code })
        : Applied is { } applied ? Results.Json(new { applied, job = Job }, statusCode: Status) : Results.Json(Job, statusCode: Status == 200 ? success : Status);
}

public interface IJobStore
{
    Task<Outcome> CreateAsync(string jobId, string kind);
    Task<Outcome> GetAsync(string jobId);
    Task<Outcome> StartAsync(string jobId, string workerId);
    Task<Outcome> ProgressAsync(string jobId, string workerId, double progress);
    Task<Outcome> HeartbeatAsync(string jobId, string workerId);
    Task<Outcome> CompleteAsync(string jobId, string workerId);
}

/// <summary>The HTTP floor: one dictionary, one lock, the same rules.</summary>
public sealed class MemoryJobStore : IJobStore
{
    private readonly Dictionary<string, Job> _jobs = [];
    private readonly Lock _lock = new();

    public Task<Outcome> CreateAsync(string jobId, string kind) => Locked(() =>
    {
        if (_jobs.TryGetValue(jobId, out var existing))
        {
            return existing.Kind == kind ? new Outcome(existing) : new Outcome(null, 409, "job.exists");
        }

        return new Outcome(_jobs[jobId] = new Job(jobId, kind, "queued", 0, null), 201);
    });

    public Task<Outcome> GetAsync(string jobId) => Locked(() => _jobs.TryGetValue(jobId, out var job) ? new Outcome(job) : new Outcome(null, 404, "job.not_found"));

    public Task<Outcome> StartAsync(string jobId, string workerId) => Locked(() =>
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return new Outcome(null, 404, "job.not_found");
        }

        return job.Status switch
        {
            "queued" => new Outcome(_jobs[jobId] = job with { Status = "processing", WorkerId = workerId }),
            "processing" when job.WorkerId == workerId => new Outcome(job),
            "processing" => new Outcome(null, 409, "job.claimed"),
            _ => new Outcome(null, 409, "job.terminal"),
        };
    });

    public Task<Outcome> ProgressAsync(string jobId, string workerId, double progress) => Locked(() =>
        Reportable(jobId, workerId, out var job) ?? (progress < job!.Progress
            ? new Outcome(job, Applied: false)
            : new Outcome(_jobs[jobId] = job with { Progress = progress }, Applied: true)));

    public Task<Outcome> HeartbeatAsync(string jobId, string workerId) => Locked(() => Reportable(jobId, workerId, out var job) ?? new Outcome(job));

    public Task<Outcome> CompleteAsync(string jobId, string workerId) => Locked(() =>
        Reportable(jobId, workerId, out var job) ?? new Outcome(_jobs[jobId] = job! with { Status = "completed", Progress = 100 }));

    private Outcome? Reportable(string jobId, string workerId, out Job? job)
    {
        if (!_jobs.TryGetValue(jobId, out job))
        {
            return new Outcome(null, 404, "job.not_found");
        }

        return job.Status switch
        {
            "queued" => new Outcome(null, 409, "job.not_started"),
            "processing" when job.WorkerId != workerId => new Outcome(null, 409, "job.not_owner"),
            "processing" => null,
            _ => new Outcome(null, 409, "job.terminal"),
        };
    }

    private Task<Outcome> Locked(Func<Outcome> action)
    {
        lock (_lock)
        {
            return Task.FromResult(action());
        }
    }
}

/// <summary>
/// The safe design without Orleans: no state in the process, every rule checked and applied by one Lua script per
/// request, atomically inside Redis. One round trip per request, pipelined over one multiplexed connection.
/// </summary>
public sealed class RedisJobStore(IDatabase db) : IJobStore
{
    // KEYS[1] job hash; ARGV[1] operation; ARGV[2] worker or kind; ARGV[3] progress. Returns {status, code, applied, fields...}.
    private static readonly LuaScript Script = LuaScript.Prepare("""
        local op = @op
        local job = redis.call('HMGET', @key, 'kind', 'status', 'progress', 'worker')
        if op == 'create' then
          if job[1] then
            if job[1] == @arg then return {200, '', '', job[1], job[2], job[3], job[4] or ''} end
            return {409, 'job.exists', ''}
          end
          redis.call('HSET', @key, 'kind', @arg, 'status', 'queued', 'progress', '0')
          return {201, '', '', @arg, 'queued', '0', ''}
        end
        if not job[1] then return {404, 'job.not_found', ''} end
        if op == 'start' then
          if job[2] == 'queued' then
            redis.call('HSET', @key, 'status', 'processing', 'worker', @arg)
            return {200, '', '', job[1], 'processing', job[3], @arg}
          end
          if job[2] == 'processing' then
            if job[4] == @arg then return {200, '', '', job[1], job[2], job[3], job[4]} end
            return {409, 'job.claimed', ''}
          end
          return {409, 'job.terminal', ''}
        end
        if job[2] == 'queued' then return {409, 'job.not_started', ''} end
        if job[2] ~= 'processing' then return {409, 'job.terminal', ''} end
        if job[4] ~= @arg then return {409, 'job.not_owner', ''} end
        if op == 'heartbeat' then
          redis.call('HSET', @key, 'heartbeat', @now)
          return {200, '', '', job[1], job[2], job[3], job[4]}
        end
        if op == 'complete' then
          redis.call('HSET', @key, 'status', 'completed', 'progress', '100')
          return {200, '', '', job[1], 'completed', '100', job[4]}
        end
        if tonumber(@progress) < tonumber(job[3]) then return {200, '', '0', job[1], job[2], job[3], job[4]} end
        redis.call('HSET', @key, 'progress', @progress, 'heartbeat', @now)
        return {200, '', '1', job[1], job[2], @progress, job[4]}
        """);

    private LoadedLuaScript? _loaded;

    public static async Task<RedisJobStore> ConnectAsync(string connection)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(connection);
        var store = new RedisJobStore(multiplexer.GetDatabase());
        store._loaded = await Script.LoadAsync(multiplexer.GetServers()[0]);
        return store;
    }

    public Task<Outcome> CreateAsync(string jobId, string kind) => Run(jobId, "create", kind);
    /// <summary>A read is one <c>HGETALL</c> of the job's hash: what a stateless service polled for status does.</summary>
    public async Task<Outcome> GetAsync(string jobId)
    {
        var fields = (await db.HashGetAllAsync(Key(jobId))).ToDictionary(e => (string)e.Name!, e => (string?)e.Value);
        if (!fields.TryGetValue("kind", out var kind))
        {
            return new Outcome(null, 404, "job.not_found");
        }

        var worker = fields.GetValueOrDefault("worker");
        return new Outcome(new Job(jobId, kind!, fields["status"]!, double.Parse(fields["progress"]!, System.Globalization.CultureInfo.InvariantCulture),
            worker is { Length: > 0 } ? worker : null));
    }

    public Task<Outcome> StartAsync(string jobId, string workerId) => Run(jobId, "start", workerId);
    public Task<Outcome> ProgressAsync(string jobId, string workerId, double progress) => Run(jobId, "progress", workerId, progress);
    public Task<Outcome> HeartbeatAsync(string jobId, string workerId) => Run(jobId, "heartbeat", workerId);
    public Task<Outcome> CompleteAsync(string jobId, string workerId) => Run(jobId, "complete", workerId);

    private static RedisKey Key(string jobId) => $"baseline/job/{jobId}";

    private async Task<Outcome> Run(string jobId, string op, string arg, double progress = 0)
    {
        var result = (RedisResult[])(await _loaded!.EvaluateAsync(db, new
        {
            key = Key(jobId),
            op,
            arg,
            progress = progress.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        }))!;
        var status = (int)result[0];
        if (status >= 400)
        {
            return new Outcome(null, status, (string?)result[1]);
        }

        var job = new Job(jobId, (string)result[3]!, (string)result[4]!, double.Parse((string)result[5]!, System.Globalization.CultureInfo.InvariantCulture),
            (string?)result[6] is { Length: > 0 } w ? w : null);
        var applied = (string?)result[2] is { Length: > 0 } a ? a == "1" : (bool?)null;
        return new Outcome(job, status, Applied: applied);
    }
}
