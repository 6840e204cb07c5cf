// What a chat page on another origin does (README, "From a browser"): fetch with a key header (CORS), and an
// EventSource opened with a stream ticket, because an EventSource cannot send a key header.
export async function call(api, key, method, path, body) {
  const headers = { 'X-Api-Key': key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${json.code}`);
  return json;
}

// Follows an event stream. The ticket opens it for Auth:StreamTicketLifetime, also when the EventSource
// reconnects by itself (it then sends Last-Event-ID and gets what it missed). Once the ticket has expired a
// reconnection is refused: ask for a new ticket and read what you missed (GET .../messages?after=).
export async function follow(api, key, path, on) {
  const { url } = await call(api, key, 'POST', '/api/stream-tickets', { path });
  const source = new EventSource(url);
  for (const type of ['message', 'agent', 'agent_failed', 'room', 'delta', 'reply', 'status']) {
    source.addEventListener(type, (e) => on(type, JSON.parse(e.data), e.lastEventId));
  }
  return source;
}

// A room's chat view: a reply grows with its delta events and is replaced by the stored message.
export function roomView(element) {
  const growing = new Map();
  return (type, data) => {
    if (type === 'delta') {
      const key = `${data.agentId}/${data.inReplyTo}`;
      let line = growing.get(key);
      if (!line) {
        line = element.appendChild(document.createElement('p'));
        growing.set(key, line);
      }
      line.textContent += data.text;
    } else if (type === 'message') {
      const key = `${data.senderId}/${data.inReplyTo}`;
      const line = growing.get(key) ?? element.appendChild(document.createElement('p'));
      growing.delete(key);
      line.textContent = `${data.senderId}: ${data.text}`;
    }
  };
}
