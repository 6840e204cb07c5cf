-- wrk script: POST a message (wait=false) for a random user out of USERS, or, with SEQUENTIAL=1, for users 1..USERS once
-- each (then GET /health/live). Used by tests/bench-sessions.sh.
local users = tonumber(os.getenv("USERS") or "10000")
local prefix = os.getenv("PREFIX") or "u"
local sequential = os.getenv("SEQUENTIAL") == "1"
local counter = 0
local body = '{"text":"what is the normal resting heart rate"}'
local headers = { ["Content-Type"] = "application/json" }

request = function()
  if sequential then
    counter = counter + 1
    if counter > users then
      return wrk.format("GET", "/health/live")
    end
    return wrk.format("POST", "/api/users/" .. prefix .. counter .. "/messages?wait=false", headers, body)
  end
  return wrk.format("POST", "/api/users/" .. prefix .. math.random(1, users) .. "/messages?wait=false", headers, body)
end
