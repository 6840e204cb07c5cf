-- wrk script (run with -t1 -c1): creates and starts JOBS fresh jobs PREFIX1..PREFIXn for worker "w", strictly in order,
-- then only reads the last one. The step advances on each answer (wrk builds one request at start that it never
-- sends); wrk counts non-2xx answers. Create and start are idempotent, so tests/bench.sh runs it again, longer, until
-- the last job is processing. ADMIN_KEY (creates) and KEY (the worker's, starts) are sent as bearer tokens when set.
local jobs = tonumber(os.getenv("JOBS") or "1000")
local prefix = os.getenv("PREFIX") or "j"
local step = 0
local admin_key = os.getenv("ADMIN_KEY") or ""
local worker_key = os.getenv("KEY") or ""
local function with_key(k)
  local h = { ["Content-Type"] = "application/json" }
  if k ~= "" then h["Authorization"] = "Bearer " .. k end
  return h
end
local admin = with_key(admin_key)
local worker = with_key(worker_key)
local start = '{"workerId":"w"}'
-- INPUT_BYTES: each job gets an input of about that many characters, which every answer carries back (default none).
local input_bytes = tonumber(os.getenv("INPUT_BYTES") or "0")
local input = input_bytes > 0 and (',"input":{"slides":"' .. string.rep("s", input_bytes) .. '"}') or ""

request = function()
  if step >= 2 * jobs then
    return wrk.format("GET", "/api/jobs/" .. prefix .. jobs, worker)
  end
  local id = prefix .. (math.floor(step / 2) + 1)
  if step % 2 == 0 then
    return wrk.format("POST", "/api/jobs", admin, '{"kind":"bench","jobId":"' .. id .. '"' .. input .. '}')
  end
  return wrk.format("POST", "/api/jobs/" .. id .. "/start", worker, start)
end

response = function(status, headers, body)
  step = step + 1
end
