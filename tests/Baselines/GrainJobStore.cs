namespace Baselines;

/// <summary>One job per grain, in memory: the memory baseline's rules, unchanged.</summary>
public interface IBaselineJobGrain : IGrainWithStringKey
{
    Task<Outcome> CreateAsync(string kind);
    Task<Outcome> GetAsync();
    Task<Outcome> StartAsync(string workerId);
    Task<Outcome> ProgressAsync(string workerId, double progress);
    Task<Outcome> HeartbeatAsync(string workerId);
    Task<Outcome> CompleteAsync(string workerId);
}

/// <summary>
/// The floor of "every request through one grain": a default Orleans silo (localhost clustering, no persistence, no
/// streams, no dashboard) and a grain per job that keeps its job in a <see cref="MemoryJobStore"/> of its own. What
/// this costs above the memory baseline is the price of one local grain call, before anything the product adds.
/// </summary>
public sealed class BaselineJobGrain : Grain, IBaselineJobGrain
{
    private readonly MemoryJobStore _job = new();

    private string Id => this.GetPrimaryKeyString();

    public Task<Outcome> CreateAsync(string kind) => _job.CreateAsync(Id, kind);
    public Task<Outcome> GetAsync() => _job.GetAsync(Id);
    public Task<Outcome> StartAsync(string workerId) => _job.StartAsync(Id, workerId);
    public Task<Outcome> ProgressAsync(string workerId, double progress) => _job.ProgressAsync(Id, workerId, progress);
    public Task<Outcome> HeartbeatAsync(string workerId) => _job.HeartbeatAsync(Id, workerId);
    public Task<Outcome> CompleteAsync(string workerId) => _job.CompleteAsync(Id, workerId);
}

public sealed class GrainJobStore(IGrainFactory grains) : IJobStore
{
    public Task<Outcome> CreateAsync(string jobId, string kind) => Job(jobId).CreateAsync(kind);
    public Task<Outcome> GetAsync(string jobId) => Job(jobId).GetAsync();
    public Task<Outcome> StartAsync(string jobId, string workerId) => Job(jobId).StartAsync(workerId);
    public Task<Outcome> ProgressAsync(string jobId, string workerId, double progress) => Job(jobId).ProgressAsync(workerId, progress);
    public Task<Outcome> HeartbeatAsync(string jobId, string workerId) => Job(jobId).HeartbeatAsync(workerId);
    public Task<Outcome> CompleteAsync(string jobId, string workerId) => Job(jobId).CompleteAsync(workerId);

    private IBaselineJobGrain Job(string jobId) => grains.GetGrain<IBaselineJobGrain>(jobId);
}
