-- wrk script for scripts/bench-requests.sh: GETs, at random, the lookup paths
-- (/api/v1/lookup?lon=..&lat=..) listed one a line in the file named by LOOKUPS.
local paths = {}
for line in io.lines(os.getenv("LOOKUPS")) do paths[#paths + 1] = line end
local seed = 0

function setup(thread)
  seed = seed + 1
  thread:set("seed", seed)
end

function init(args)
  math.randomseed(seed * 7919)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
