-- wrk script: progress reports for a random job out of PREFIX1..PREFIX<JOBS> (started by tests/bench/jobs-setup.lua),
-- as worker "w". The value grows with every request of a wrk thread, so (but for reordering between connections)
-- every report is applied and written: the yardstick is a durable write, not a read. KEY: the worker's API key (sent
-- as a bearer token when set; the baselines ignore it).
local jobs = tonumber(os.getenv("JOBS") or "1000")
local prefix = os.getenv("PREFIX") or "j"
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local key = os.getenv("KEY") or ""
if key ~= "" then headers["Authorization"] = "Bearer " .. key end

request = function()
  counter = counter + 1
  local id = prefix .. math.random(1, jobs)
  return wrk.format("POST", "/api/jobs/" .. id .. "/progress", headers,
    string.format('{"workerId":"w","progress":%.5f}', counter * 0.00001))
end
