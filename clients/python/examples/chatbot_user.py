"""A chatbot user: ask and wait for the reply, then send without waiting, change one's mind (cancel), and start over
(clear the history)."""

import uuid

from _setup import API, KEY
from lectures_client import LecturesClient

USER = f"student-{uuid.uuid4().hex[:8]}"

with LecturesClient(API, api_key=KEY) as api:
    reply = api.users.send_message(USER, "What does a systolic murmur sound like?")  # wait mode
    print(f"bot: {reply.reply}")

    accepted = api.users.submit_message(USER, "And a diastolic one?")  # wait=false: 202, answered at once
    print(f"request {accepted.request_id} is {accepted.status}")
    cancelled = api.users.cancel(USER)
    print(f"cancelled: {cancelled.cancelled} ({cancelled.request_id})")

    session = api.users.get_session(USER)
    for entry in session.history:
        print(f"  {entry.role:9} {entry.status:9} {entry.text[:50]}")
    api.users.clear(USER)
    after = api.users.get_session(USER)
    print(f"after clear: {len(after.history)} entries, {after.status}")
