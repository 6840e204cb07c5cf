"""The examples (one per seed service) run against the real product and do what they say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from .support import Product

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def slow_enough(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """Replies take a second, so the chatbot example's cancel finds its request still in flight."""
    running = Product(tmp_path_factory.mktemp("examples") / "product.log",
                      {"Sessions__BuiltinLatency": "00:00:01", "Agents__BuiltinLatency": "00:00:00.300"})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def run_example(name: str, product: Product) -> list[str]:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LECTURES_API": product.url})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_the_lecture_robot_presents_a_topic_takes_a_question_and_ends(slow_enough: Product) -> None:
    out = run_example("lecture_robot.py", slow_enough)
    assert [line for line in out if line.startswith("[presenting]")] == [
        "[presenting] 0: Four chambers.", "[presenting] 1: Two valves per side.", "[presenting] 2: The conduction system."]
    assert "answered, back to presenting" in out
    assert out[-1] == "run ended, session active: False"


def test_the_room_player_sees_each_agent_answer_live(slow_enough: Product) -> None:
    out = run_example("room_player.py", slow_enough)
    assert "triggered ['doc', 'nurse']" in out[0]
    replies = [line for line in out if "(reply)" in line]
    assert sorted(line.split()[1] for line in replies) == ["doc", "nurse"]


def test_the_chatbot_user_waits_for_a_reply_then_cancels_and_clears(slow_enough: Product) -> None:
    out = run_example("chatbot_user.py", slow_enough)
    assert out[0].startswith("bot: ") and len(out[0]) > len("bot: ")
    assert any(line.startswith("cancelled: True") for line in out), out
    assert any("user      cancelled" in line for line in out), out
    assert out[-1] == "after clear: 0 entries, idle"


def test_the_job_worker_completes_and_a_second_worker_loses_the_claim(slow_enough: Product) -> None:
    out = run_example("job_worker.py", slow_enough)
    assert "worker-2 lost the claim: job.claimed" in out
    assert [line.split()[1] for line in out if line.startswith("progress")] == ["20%", "40%", "60%", "80%", "100%"]
    assert "worker-2 may not report: job.not_owner" in out
    assert out[-1].startswith("completed: https://cdn.example/deck-")
