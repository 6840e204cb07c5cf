"""A player in a room with two AI agents, following the room live: post a message and print every agent's reply as
it arrives, until each agent the message triggered has answered (or failed)."""

import uuid

from _setup import API, KEY
from lectures_client import AgentDefinition, AgentFailedEvent, AgentStatusEvent, LecturesClient, RoomMessageEvent

ROOM = f"ward-{uuid.uuid4().hex[:8]}"

with LecturesClient(API, api_key=KEY) as api:
    api.rooms.put(ROOM, [AgentDefinition("doc", "Dr. Grey", "A calm cardiologist"),
                         AgentDefinition("nurse", "Nurse Joy", "A quick, practical nurse")])
    api.rooms.join(ROOM, "ann")
    with api.rooms.events(ROOM) as events:
        posted = api.rooms.post_message(ROOM, "ann", "The patient's pulse is 130. What now?")
        print(f"#{posted.seq} ann: sent; triggered {posted.triggered_agents}")
        waiting = set(posted.triggered_agents)
        for event in events:
            if isinstance(event, AgentStatusEvent):
                print(f"  {event.agent.name} is {event.agent.status}")
            elif isinstance(event, (RoomMessageEvent, AgentFailedEvent)) and event.message.in_reply_to == posted.seq:
                m = event.message
                print(f"#{m.seq} {m.sender_id} ({m.outcome}): {m.text or m.error}")
                waiting.discard(m.sender_id)
                if not waiting:
                    break
    print(f"resume later from event id {events.last_event_id}")
    api.rooms.leave(ROOM, "ann")
