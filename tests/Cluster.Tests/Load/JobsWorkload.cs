using System.Collections.Concurrent;
using System.Text.Json;

namespace Lectures.Cluster.Tests.Load;

/// <summary>
/// Job workers: each creates a job, claims it, reports rising progress and completes it, then takes the next one.
/// Recorded: the highest progress each job acknowledged, and acknowledged completions.
/// </summary>
public sealed class JobsWorkload(string run) : IWorkload
{
    private static readonly string[] ReportRefusals = ["job.terminal"];
    private readonly ConcurrentBag<JobRecord> _jobs = [];

    public string Name => "jobs";

    public Task PrepareAsync(Driver driver) => Task.CompletedTask;

    public async Task RunClientAsync(Driver driver, int client, CancellationToken stop)
    {
        var worker = $"w{client}";
        var random = new Random(client);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var job = new JobRecord($"{run}-job-{client}-{n}");
            var created = await Requests.UntilSettledAsync(
                () => driver.PostAsync("jobs.create", "/api/jobs", new { kind = "fault-suite", jobId = job.JobId, input = new { client } }), stop);
            if (created is not { IsAck: true })
            {
                break;
            }

            _jobs.Add(job);
            var started = await Requests.UntilSettledAsync(
                () => driver.PostAsync("jobs.start", $"/api/jobs/{job.JobId}/start", new { workerId = worker }, ReportRefusals), stop);
            if (started is not { IsAck: true })
            {
                job.Terminal = started is { Outcome: Outcome.Refused };
                continue;
            }

            var progress = 0;
            while (!stop.IsCancellationRequested && !job.Terminal && progress < 100)
            {
                var next = Math.Min(100, progress + random.Next(1, 6));
                var reply = await driver.PostAsync("jobs.progress", $"/api/jobs/{job.JobId}/progress",
                    new { workerId = worker, progress = next, message = $"at {next}" }, ReportRefusals);
                if (reply.IsAck)
                {
                    progress = next;
                    job.Acknowledge(reply.Body.GetProperty("job").Num("progress") ?? next);
                }
                else if (reply.Outcome == Outcome.Refused)
                {
                    job.Terminal = true;
                }
                else
                {
                    await Task.Delay(Requests.RetryPause);
                }

                await Task.Delay(Load.ThinkTime);
            }

            if (progress == 100 && !job.Terminal)
            {
                var completed = await Requests.UntilSettledAsync(
                    () => driver.PostAsync("jobs.complete", $"/api/jobs/{job.JobId}/complete", new { workerId = worker, result = new { ok = true } },
                        ReportRefusals), stop);
                job.Completed = completed is { IsAck: true };
            }
        }
    }

    public async Task VerifyAsync(Driver driver, Findings findings)
    {
        var stalled = 0;
        foreach (var job in _jobs)
        {
            findings.Acked(Name, 1 + job.Reports + (job.Completed ? 1 : 0));
            var reply = await Requests.ReadAsync(driver, "verify.job", $"/api/jobs/{job.JobId}");
            if (!reply.IsAck)
            {
                findings.LostOne(Name, $"job {job.JobId} was created (201) but GET answers {reply.Status} {reply.Code}");
                continue;
            }

            var stored = reply.Body;
            var progress = stored.Num("progress") ?? -1;
            var status = stored.Str("status");
            if (progress < job.MaxAcknowledged)
            {
                findings.LostOne(Name, $"job {job.JobId} progress {progress} is below its acknowledged {job.MaxAcknowledged}");
            }

            if (job.Completed && (status != "completed" || progress != 100))
            {
                findings.LostOne(Name, $"job {job.JobId} completion was acknowledged but it is {status} at {progress}");
            }

            if (status == "failed" && stored.Str("error") == "stalled")
            {
                stalled++;
            }
        }

        findings.Figures["jobs created"] = _jobs.Count.ToString();
        findings.Figures["jobs completed (acknowledged)"] = _jobs.Count(j => j.Completed).ToString();
        findings.Figures["jobs failed as stalled"] = stalled.ToString();
    }

    private sealed class JobRecord(string jobId)
    {
        private double _max;
        private int _reports;

        public string JobId { get; } = jobId;
        public bool Terminal { get; set; }
        public bool Completed { get; set; }
        public double MaxAcknowledged => Volatile.Read(ref _max);
        public int Reports => _reports;

        public void Acknowledge(double progress)
        {
            _reports++;
            _max = Math.Max(_max, progress);
        }
    }
}
