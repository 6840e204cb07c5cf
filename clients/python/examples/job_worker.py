"""A presentation job worker: claim a job, report progress with heartbeats in between, complete it. A second worker
that tries to claim the same job loses: exactly one worker wins a claim, and only it may report."""

import uuid

from _setup import API, KEY
from lectures_client import ConflictError, LecturesClient

with LecturesClient(API, api_key=KEY) as api:
    job = api.jobs.create("render-slides", {"deck": "anatomy-101", "slides": 5}, job_id=f"deck-{uuid.uuid4().hex[:8]}")
    api.jobs.start(job.job_id, "worker-1")
    print(f"worker-1 claimed {job.job_id}")

    try:
        api.jobs.start(job.job_id, "worker-2")
    except ConflictError as lost:
        print(f"worker-2 lost the claim: {lost.code}")

    for slide in range(1, 6):
        api.jobs.heartbeat(job.job_id, "worker-1")  # while rendering: well within Jobs:HeartbeatTimeout
        result = api.jobs.progress(job.job_id, "worker-1", slide * 20, f"slide {slide} of 5")
        print(f"progress {result.job.progress:.0f}% ({result.job.message})")

    try:
        api.jobs.progress(job.job_id, "worker-2", 50)
    except ConflictError as refused:
        print(f"worker-2 may not report: {refused.code}")

    done = api.jobs.complete(job.job_id, "worker-1", {"url": f"https://cdn.example/{job.job_id}.mp4"})
    print(f"{done.status}: {done.result['url']}")
