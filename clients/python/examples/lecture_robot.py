"""A lecture robot: start a session on a topic, present it item by item, pause, take a question, answer it, end."""

import time
import uuid

from _setup import API, KEY
from lectures_client import LecturesClient, Topic

ROBOT = "robot-7"
SPEED = 0.01  # a demo: a hundred times faster than a real lecture
LECTURE = f"anatomy-{uuid.uuid4().hex[:8]}"

with LecturesClient(API, api_key=KEY) as api:
    api.lectures.put(LECTURE, "Anatomy 101", [
        Topic("heart", "The heart", ["Four chambers.", "Two valves per side.", "The conduction system."], [2, 2, 3])])
    session = api.lectures.start_session(LECTURE, ROBOT, "heart", "en")
    print(f"session {session.session_id}: {len(session.contents)} items")

    run = api.lectures.get_run(LECTURE, ROBOT)
    while run.state != "ended":
        item = session.contents[run.position]
        print(f"[{run.state}] {run.position}: {item}")
        time.sleep(session.time_list[run.position] * SPEED)  # the robot speaks the item for time_list seconds
        if run.position == 1 and run.state == "presenting":
            api.lectures.command(LECTURE, ROBOT, "pause")       # a student raises a hand
            api.lectures.command(LECTURE, ROBOT, "resume")
            api.lectures.command(LECTURE, ROBOT, "question")
            print("question: why two valves?")
            run = api.lectures.command(LECTURE, ROBOT, "answer")
            print(f"answered, back to {run.state}")
        run = api.lectures.command(LECTURE, ROBOT, "advance")   # past the last item the run ends

    ended = api.lectures.end_session(LECTURE, ROBOT, session.session_id)
    print(f"run {run.state}, session active: {ended.is_active}")
