using Baselines;

// The baselines the product is measured against, serving the same job routes the load generator drives:
//   --mode memory  the HTTP floor: a bare minimal API over an in-process dictionary with a lock
//   --mode redis   the safe design a team would pick without Orleans: a stateless API doing one atomic Lua script
//                  per update against Redis (--redis 127.0.0.1:6379)
//   --mode orleans the floor of a grain per job: the memory baseline's rules in one in-memory grain per job, behind a
//                  default localhost silo (--silo-port 11311 --gateway-port 30311); no storage, streams or dashboard
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://127.0.0.1:8090");
}

var mode = builder.Configuration["mode"] ?? "memory";
if (mode == "orleans")
{
    builder.UseOrleans(silo => silo.UseLocalhostClustering(
        builder.Configuration.GetValue("silo-port", 11311), builder.Configuration.GetValue("gateway-port", 30311)));
}

Func<IServiceProvider, Task<IJobStore>> connect = mode switch
{
    "redis" => async _ => await RedisJobStore.ConnectAsync(builder.Configuration["redis"] ?? "127.0.0.1:6379"),
    "memory" => _ => Task.FromResult<IJobStore>(new MemoryJobStore()),
    "orleans" => services => Task.FromResult<IJobStore>(new GrainJobStore(services.GetRequiredService<IGrainFactory>())),
    var other => throw new ArgumentException($"unknown --mode {other}: memory, redis or orleans"),
};

var app = builder.Build();
var store = await connect(app.Services);
var jobs = app.MapGroup("/api/jobs");
jobs.MapPost("/", async (CreateJob body) => (await store.CreateAsync(body.JobId ?? Guid.NewGuid().ToString("N"), body.Kind ?? "")).ToResult());
jobs.MapGet("/{jobId}", async (string jobId) => (await store.GetAsync(jobId)).ToResult());
jobs.MapPost("/{jobId}/start", async (string jobId, WorkerBody body) => (await store.StartAsync(jobId, body.WorkerId ?? "")).ToResult());
jobs.MapPost("/{jobId}/progress", async (string jobId, ProgressBody body) =>
    (await store.ProgressAsync(jobId, body.WorkerId ?? "", body.Progress ?? -1)).ToResult());
jobs.MapPost("/{jobId}/heartbeat", async (string jobId, WorkerBody body) => (await store.HeartbeatAsync(jobId, body.WorkerId ?? "")).ToResult());
jobs.MapPost("/{jobId}/complete", async (string jobId, WorkerBody body) => (await store.CompleteAsync(jobId, body.WorkerId ?? "")).ToResult());
app.Run();

internal sealed record CreateJob(string? Kind, string? JobId);

internal sealed record WorkerBody(string? WorkerId);

internal sealed record ProgressBody(string? WorkerId, double? Progress);
