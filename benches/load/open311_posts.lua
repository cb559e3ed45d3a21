-- wrk script for scripts/bench-requests.sh: POSTs form-encoded Open311 reports
-- (service_code=sanitation, which asks no extra questions) at random points inside the grids,
-- "lon lat" one a line in the file named by POINTS, as the registered app whose key is in
-- OPEN311_KEY (registered apps are not rate-limited by address).
local points = {}
for line in io.lines(os.getenv("POINTS")) do
  local lon, lat = line:match("^(%S+)%s+(%S+)$")
  points[#points + 1] = { lon, lat }
end
local key = os.getenv("OPEN311_KEY")
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local seed = 0
local n = 0

function setup(thread)
  seed = seed + 1
  thread:set("seed", seed)
end

function init(args)
  math.randomseed(seed * 104729)
end

function request()
  n = n + 1
  local p = points[math.random(#points)]
  local body = "service_code=sanitation&lat=" .. p[2] .. "&long=" .. p[1]
    .. "&description=bench+report+" .. seed .. "-" .. n .. "&api_key=" .. key
  return wrk.format("POST", "/open311/v2/requests.json", headers, body)
end
