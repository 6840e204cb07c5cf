-- wrk script: progress reports for a random job out of PREFIX1..PREFIX<JOBS> (started by tests/bench/jobs-setup.lua),
-- as worker "w". The value grows with every request of a wrk thread, so (but for reordering between connections)
-- every report is applied and written: the yardstick is a durable write, not a read.
local jobs = tonumber(os.getenv("JOBS") or "1000")
local prefix = os.getenv("PREFIX") or "j"
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

request = function()
  counter = counter + 1
  local id = prefix .. math.random(1, jobs)
  return wrk.format("POST", "/api/jobs/" .. id .. "/progress", headers,
    string.format('{"workerId":"w","progress":%.5f}', counter * 0.00001))
end
