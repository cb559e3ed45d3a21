-- wrk script for scripts/bench-tiles.sh: requests, at random, the tile paths listed in the file
-- named by the TILES environment variable, asking for gzip as browsers do.
local paths = {}
for line in io.lines(os.getenv("TILES")) do paths[#paths + 1] = line end
local seed = 0

function setup(thread)
  seed = seed + 1
  thread:set("seed", seed)
end

function init(args)
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], { ["Accept-Encoding"] = "gzip" })
end
