#!/usr/bin/env bash
# Tiles per second for grids and buildings at z12–z16, uncached and cached, from wrk against
# the release binary serving the demo. Installs wrk with apt if missing.
#   scripts/bench-tiles.sh            # prints one line per measurement
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release --locked -q
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Every tile at z12–z16 over the demo street's bounding box, for both layers.
python3 - "$work/tiles.txt" <<'PY'
import math, sys
west, south, east, north = 120.3690, 36.0544, 120.3956, 36.0725
def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y
with open(sys.argv[1], "w") as out:
    for layer in ("grids", "buildings"):
        for z in range(12, 17):
            x0, y0 = tile(west, north, z)
            x1, y1 = tile(east, south, z)
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    out.write(f"/tiles/{layer}/{z}/{x}/{y}.mvt\n")
PY
echo "$(wc -l < "$work/tiles.txt") tile paths (grids and buildings, z12–z16)"

serve() {
  target/release/wangge serve --demo --bind 127.0.0.1:0 --database "sqlite://$work/$1.db" \
    > "$work/$1.out" 2>/dev/null &
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^wangge listening on //p' "$work/$1.out")
    [ -n "$url" ] && break
    sleep 0.1
  done
  echo "$url"
}

# Uncached: a fresh server renders every tile once; 4 keep-alive clients take turns through
# the list, and the wall time of the whole pass gives tiles/s. (wrk cannot stop after one pass.)
for run in 1 2 3; do
  url=$(serve "cold$run")
  python3 - "$url" "$work/tiles.txt" "$run" <<'PY'
import http.client, sys, threading, time, urllib.parse
url, paths, run = sys.argv[1], open(sys.argv[2]).read().split(), sys.argv[3]
host = urllib.parse.urlparse(url)
def worker(part):
    c = http.client.HTTPConnection(host.hostname, host.port)
    for p in part:
        c.request("GET", p, headers={"Accept-Encoding": "gzip"})
        r = c.getresponse(); r.read()
        assert r.status in (200, 204), (p, r.status)
threads = [threading.Thread(target=worker, args=(paths[i::4],)) for i in range(4)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
print(f"uncached run {run}: {len(paths) / elapsed:.0f} tiles/s ({len(paths)} tiles in {elapsed * 1000:.0f} ms)")
PY
  kill %% 2>/dev/null || true
done

# Cached: the same tiles, warmed, requested at random by 4 threads over 32 connections.
url=$(serve warm)
TILES="$work/tiles.txt" wrk -t1 -c1 -d2s -s benches/load/tiles.lua "$url" >/dev/null
TILES="$work/tiles.txt" wrk -t4 -c32 -d10s --latency -s benches/load/tiles.lua "$url" \
  | awk '/Requests\/sec/ {print "cached: " $2 " tiles/s"} /50%|99%/ {print "cached latency " $1 " " $2}'
