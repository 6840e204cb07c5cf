-- wrk script: the status-polling mix of a job service whose clients poll: for every progress report (as in
-- tests/bench/jobs-progress.lua) nine GET /api/jobs/{id}, each to a random job out of PREFIX1..PREFIX<JOBS>. KEY: the
-- worker's API key (a worker may read jobs), sent as a bearer token when set.
local jobs = tonumber(os.getenv("JOBS") or "1000")
local prefix = os.getenv("PREFIX") or "j"
local counter = 0
local reports = 0
local headers = { ["Content-Type"] = "application/json" }
local read = {}
local key = os.getenv("KEY") or ""
if key ~= "" then
  headers["Authorization"] = "Bearer " .. key
  read["Authorization"] = "Bearer " .. key
end

request = function()
  counter = counter + 1
  local id = prefix .. math.random(1, jobs)
  if counter % 10 ~= 0 then
    return wrk.format("GET", "/api/jobs/" .. id, read)
  end
  reports = reports + 1
  return wrk.format("POST", "/api/jobs/" .. id .. "/progress", headers,
    string.format('{"workerId":"w","progress":%.5f}', reports * 0.0001))
end
