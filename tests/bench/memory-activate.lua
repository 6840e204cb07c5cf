-- wrk script (run with -t1 -c1): activates COUNT grains of one KIND through the public API, strictly in order, with
-- ids PREFIX1..PREFIX<COUNT>, then only reads /health/live. Used by tests/bench-memory.sh, which runs several at once
-- with distinct prefixes. The step advances on each answer (wrk builds one request at start that it never sends).
-- When the last answer is in, it writes "<ok> <failed>" to DONE (a file) and stops. KIND:
--   job            POST /api/jobs                                  (an idle queued job)
--   job-completed  POST /api/jobs, .../start, .../complete         (a finished job: its stall reminder is gone)
--   lecture        PUT /api/lectures/{PREFIX}L<k> once per 100 robots, then POST .../robots/r<i>/sessions
--   room           PUT /api/rooms/{PREFIX}<i>                     (one agent, no players, no messages)
--   session        POST /api/users/{PREFIX}<i>/messages?wait=false  (one exchange; the reply follows at once)
local kind = os.getenv("KIND") or "job"
local count = tonumber(os.getenv("COUNT") or "1000")
local prefix = os.getenv("PREFIX") or "m"
local done_file = os.getenv("DONE")
local per_lecture = 100
local headers = { ["Content-Type"] = "application/json" }
local worker = '{"workerId":"w"}'
local lecture = '{"title":"t","topics":[{"topicId":"t1","title":"t","contents":["a","b"],"timeList":[1,1]}]}'
local room = '{"agents":[{"agentId":"a1","name":"A","persona":"p"}],"replyPolicy":"all"}'
local message = '{"text":"what is the normal resting heart rate"}'

local i, phase, ok, failed, finished = 1, 0, 0, 0, false

-- The requests that activate item i, in order.
local function steps(n)
  local id = prefix .. n
  if kind == "job" then
    return { { "POST", "/api/jobs", '{"kind":"idle","jobId":"' .. id .. '"}' } }
  elseif kind == "job-completed" then
    return { { "POST", "/api/jobs", '{"kind":"idle","jobId":"' .. id .. '"}' },
             { "POST", "/api/jobs/" .. id .. "/start", worker },
             { "POST", "/api/jobs/" .. id .. "/complete", worker } }
  elseif kind == "lecture" then
    local lectureId = prefix .. "L" .. math.floor((n - 1) / per_lecture)
    local start = { "POST", "/api/lectures/" .. lectureId .. "/robots/r" .. n .. "/sessions", '{"topicId":"t1","language":"en"}' }
    if (n - 1) % per_lecture == 0 then
      return { { "PUT", "/api/lectures/" .. lectureId, lecture }, start }
    end
    return { start }
  elseif kind == "room" then
    return { { "PUT", "/api/rooms/" .. id, room } }
  elseif kind == "session" then
    return { { "POST", "/api/users/" .. id .. "/messages?wait=false", message } }
  end
  error("unknown KIND " .. kind)
end

local current = steps(1)

request = function()
  if finished then
    return wrk.format("GET", "/health/live")
  end
  local s = current[phase + 1]
  return wrk.format(s[1], s[2], headers, s[3])
end

response = function(status, hdrs, body)
  if finished then
    return
  end
  if status >= 200 and status < 300 then ok = ok + 1 else failed = failed + 1 end
  phase = phase + 1
  if phase >= #current then
    phase, i = 0, i + 1
    if i > count then
      finished = true
      if done_file then
        local f = io.open(done_file, "w")
        f:write(ok .. " " .. failed .. "\n")
        f:close()
      end
      return
    end
    current = steps(i)
  end
end
