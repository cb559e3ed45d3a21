#!/usr/bin/env bash
# Residents' requests under load on PostGIS (issue 14): lookups/s alone, Open311 posts/s with
# their latency, lookups/s while posts run (side by side, one run), and the delay from a post to
# its `event: request` on 1,000 open GET /api/v1/me/events streams. Release binary serving the
# demo over a fresh schema in the PostGIS database of WANGGE_BENCH_POSTGRES (else
# WANGGE_TEST_POSTGRES; scripts/setup-postgres.sh prints one); the schema is dropped at the end.
# Installs wrk with apt if missing. A benchmark, not a test: it prints figures, it judges none.
#   scripts/bench-requests.sh
# Knobs (environment): SECS (15, each wrk run), LOOKUP_CONNS (32), POST_CONNS (64),
#   STREAMS (1000), CADRES (20 accounts holding one area each), ADMINS (2),
#   SSE_RATE_CADRE (50 posts/s), SSE_RATE_ADMIN (10 posts/s), SSE_SECS (10).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${WANGGE_BENCH_POSTGRES:-${WANGGE_TEST_POSTGRES:-}}
[ -n "$base" ] || { echo "set WANGGE_BENCH_POSTGRES (or WANGGE_TEST_POSTGRES) to a PostGIS URL" >&2; exit 1; }
SECS=${SECS:-15} LOOKUP_CONNS=${LOOKUP_CONNS:-32} POST_CONNS=${POST_CONNS:-64}
STREAMS=${STREAMS:-1000} CADRES=${CADRES:-20} ADMINS=${ADMINS:-2}
SSE_RATE_CADRE=${SSE_RATE_CADRE:-50} SSE_RATE_ADMIN=${SSE_RATE_ADMIN:-10} SSE_SECS=${SSE_SECS:-10}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
command -v psql >/dev/null || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 1; }
cargo build --release --locked -q

work=$(mktemp -d)
schema="bench_requests_$$_$(date +%s)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  psql "$base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$base" -v ON_ERROR_STOP=1 -qc "CREATE SCHEMA $schema"
case "$base" in *\?*) sep='&' ;; *) sep='?' ;; esac
db="${base}${sep}options[search_path]=${schema},public"
key="benchkey-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
password="bench passphrase $$"

# Connections of the pool are up to the server's defaults; only the registered app is ours.
target/release/wangge serve --demo --database "$db" --bind 127.0.0.1:0 --open311-key "bench=$key" \
  > "$work/serve.out" 2> "$work/serve.err" &
server=$!
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^wangge listening on //p' "$work/serve.out")
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start" >&2; tail "$work/serve.err" >&2; exit 1; }
echo "serving the demo on PostGIS (schema $schema) at $url"

# Points inside the grids: random points in each grid's polygon, kept if the lookup answers a
# grid. lookups.txt: wrk paths; points.txt: "lon lat" for posts; points.json: with their areas.
python3 - "$url" "$work" <<'PY'
import json, random, sys, urllib.request
url, work = sys.argv[1], sys.argv[2]
random.seed(14)
grids = json.load(urllib.request.urlopen(url + "/api/v1/grids"))["features"]
def rings(geom):
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    return polys
def inside(x, y, polys):
    hit = False
    for poly in polys:
        for ring in poly:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
                if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                    hit = not hit
    return hit
candidates = []
for g in grids:
    polys = rings(g["geometry"])
    xs = [c[0] for p in polys for r in p for c in r]
    ys = [c[1] for p in polys for r in p for c in r]
    got = 0
    for _ in range(2000):
        x, y = random.uniform(min(xs), max(xs)), random.uniform(min(ys), max(ys))
        if inside(x, y, polys):
            candidates.append((round(x, 6), round(y, 6)))
            got += 1
            if got == 100:
                break
req = urllib.request.Request(url + "/api/v1/lookup", json.dumps({"points": candidates}).encode(),
                             {"Content-Type": "application/json"})
answers = json.load(urllib.request.urlopen(req))
answers = answers["results"] if isinstance(answers, dict) else answers
points = [{"lon": x, "lat": y, "areas": [a["id"] for a in (r.get("areas") or [])]}
          for (x, y), r in zip(candidates, answers) if r.get("grid")]
random.shuffle(points)
with open(f"{work}/lookups.txt", "w") as f:
    for p in points:
        f.write(f"/api/v1/lookup?lon={p['lon']}&lat={p['lat']}\n")
with open(f"{work}/points.txt", "w") as f:
    for p in points:
        f.write(f"{p['lon']} {p['lat']}\n")
json.dump(points, open(f"{work}/points.json", "w"))
print(f"{len(points)} points inside {len(grids)} grids "
      f"({sum(1 for p in points if len(p['areas']) == 1)} in exactly one responsibility area)")
PY

# wrk's summary as "REQ/S P50 P90 P99 NON2XX ERRORS" (latencies in ms).
summary() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50.000%" || $1 == "50%" { p50 = ms($2) } $1 == "90%" { p90 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF } /Socket errors/ { err = $0; sub(/.*Socket errors: /, "", err); gsub(/ /, "", err) }
    END { printf "%.0f %.1f %.1f %.1f %d %s\n", rps, p50, p90, p99, bad, (err == "" ? "none" : err) }' "$1"
}
look() { LOOKUPS="$work/lookups.txt" wrk -t1 -c"$LOOKUP_CONNS" -d"${SECS}s" --latency -s benches/load/lookups.lua "$url" > "$1"; }
post() { POINTS="$work/points.txt" OPEN311_KEY="$key" wrk -t1 -c"$POST_CONNS" -d"${SECS}s" --latency --timeout 10s -s benches/load/open311_posts.lua "$url" > "$1"; }

# Warm-up, then each alone, then both at once.
LOOKUPS="$work/lookups.txt" wrk -t1 -c4 -d2s -s benches/load/lookups.lua "$url" > /dev/null
POINTS="$work/points.txt" OPEN311_KEY="$key" wrk -t1 -c4 -d2s -s benches/load/open311_posts.lua "$url" > /dev/null
echo "lookups alone (${SECS}s, $LOOKUP_CONNS connections)…"; look "$work/look-alone.txt"
echo "posts alone (${SECS}s, $POST_CONNS connections)…"; post "$work/post-alone.txt"
echo "lookups and posts at once (${SECS}s)…"
look "$work/look-mixed.txt" & lp=$!
post "$work/post-mixed.txt" & pp=$!
wait "$lp" "$pp"
read -r la_rps la_50 la_90 la_99 la_bad la_err < <(summary "$work/look-alone.txt")
read -r pa_rps pa_50 pa_90 pa_99 pa_bad pa_err < <(summary "$work/post-alone.txt")
read -r lm_rps lm_50 lm_90 lm_99 lm_bad lm_err < <(summary "$work/look-mixed.txt")
read -r pm_rps pm_50 pm_90 pm_99 pm_bad pm_err < <(summary "$work/post-mixed.txt")
ratio=$(awk -v a="$la_rps" -v m="$lm_rps" 'BEGIN { printf "%.2f", (a > 0 ? m / a : 0) }')

# Accounts for the event streams: CADRES cadres (one area each) and ADMINS admins. argon2 makes
# each `user add` slow, so 1,000 streams are spread over these few logins.
echo "creating $CADRES cadres and $ADMINS admins…"
t0=$(date +%s.%N)
for i in $(seq 1 "$CADRES"); do
  printf '%s\n' "$password" | target/release/wangge user add --name "bench-c$i" --role cadre --database "$db" > /dev/null 2>> "$work/users.err" || { cat "$work/users.err" >&2; exit 1; }
done
for i in $(seq 1 "$ADMINS"); do
  printf '%s\n' "$password" | target/release/wangge user add --name "bench-a$i" --role admin --database "$db" > /dev/null 2>> "$work/users.err" || { cat "$work/users.err" >&2; exit 1; }
done
users_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# Log in, let each cadre claim a free area (the demo leaves 8 free that hold sample points, so
# at most 8 cadres hold one and the rest of the accounts go unused) that has sample points in exactly one area, and
# write the setup of each SSE run: tokens (with the areas they hold) and points to post at.
python3 - "$url" "$work" "$CADRES" "$ADMINS" "$password" <<'PY'
import json, sys, urllib.request
url, work, cadres, admins, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    return json.load(urllib.request.urlopen(urllib.request.Request(url + path, data, headers, method=method)))
points = json.load(open(f"{work}/points.json"))
holders = {a["id"]: a["holder"] for a in call("GET", "/api/v1/areas/holders")["areas"]}
by_area = {}
for p in points:
    if len(p["areas"]) == 1 and holders.get(p["areas"][0]) is None:
        by_area.setdefault(p["areas"][0], []).append(p)
areas = sorted(by_area, key=lambda a: -len(by_area[a]))[:cadres]
cadre_tokens = []
for i, area in enumerate(areas, 1):
    token = call("POST", "/api/v1/auth/login", {"name": f"bench-c{i}", "password": password})["token"]
    call("POST", f"/api/v1/areas/{area}/claim", token=token)
    cadre_tokens.append({"token": token, "areas": [area]})
admin_tokens = [{"token": call("POST", "/api/v1/auth/login", {"name": f"bench-a{i}", "password": password})["token"], "areas": None}
                for i in range(1, admins + 1)]
claimed_points = [p for a in areas for p in by_area[a]]
claimed_points = [claimed_points[i] for i in sorted(range(len(claimed_points)), key=lambda i: (i * 7919) % len(claimed_points))]
json.dump({"tokens": cadre_tokens, "points": claimed_points}, open(f"{work}/sse-cadres.json", "w"))
json.dump({"tokens": admin_tokens, "points": points}, open(f"{work}/sse-admins.json", "w"))
print(f"{len(cadre_tokens)} cadres each claimed an area ({len(claimed_points)} points in them); {len(admin_tokens)} admins logged in")
PY

echo "SSE: $STREAMS streams over the cadres' tokens, $SSE_RATE_CADRE posts/s in their areas for ${SSE_SECS}s…"
python3 benches/load/requests_sse.py "$url" "$STREAMS" "$SSE_RATE_CADRE" "$SSE_SECS" "$key" "$work/sse-cadres.json" > "$work/sse-cadres.out"
cat "$work/sse-cadres.out"
echo "SSE: $STREAMS streams over the admins' tokens (each hears every report), $SSE_RATE_ADMIN posts/s for ${SSE_SECS}s…"
python3 benches/load/requests_sse.py "$url" "$STREAMS" "$SSE_RATE_ADMIN" "$SSE_SECS" "$key" "$work/sse-admins.json" > "$work/sse-admins.out"
cat "$work/sse-admins.out"
sse() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(str(d[k]) for k in sys.argv[2:]))' "$@"; }
read -r sc_open sc_pps sc_exp sc_got sc_50 sc_90 sc_99 sc_max sc_lag < <(sse "$work/sse-cadres.out" streams_open posts_per_sec deliveries_expected deliveries_received delay_ms_p50 delay_ms_p90 delay_ms_p99 delay_ms_max lagged_events)
read -r sa_open sa_pps sa_exp sa_got sa_50 sa_90 sa_99 sa_max sa_lag < <(sse "$work/sse-admins.out" streams_open posts_per_sec deliveries_expected deliveries_received delay_ms_p50 delay_ms_p90 delay_ms_p99 delay_ms_max lagged_events)
holders=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tokens"]))' "$work/sse-cadres.json")
rows=$(psql "$base" -Atqc "SELECT count(*) FROM $schema.requests" 2>/dev/null || echo "?")

cat <<EOF

| measurement | rate | p50 ms | p90 ms | p99 ms | non-2xx | socket errors |
| --- | --- | --- | --- | --- | --- | --- |
| lookups alone ($LOOKUP_CONNS conns) | $la_rps req/s | $la_50 | $la_90 | $la_99 | $la_bad | $la_err |
| Open311 posts alone ($POST_CONNS conns) | $pa_rps posts/s | $pa_50 | $pa_90 | $pa_99 | $pa_bad | $pa_err |
| lookups with posts running | $lm_rps req/s | $lm_50 | $lm_90 | $lm_99 | $lm_bad | $lm_err |
| posts with lookups running | $pm_rps posts/s | $pm_50 | $pm_90 | $pm_99 | $pm_bad | $pm_err |

lookups/s with posts running ÷ alone: $ratio

| SSE run | streams open | posts/s | deliveries received / expected | p50 ms | p90 ms | p99 ms | max ms | lagged |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| cadres ($holders holding an area, $STREAMS streams) | $sc_open | $sc_pps | $sc_got / $sc_exp | $sc_50 | $sc_90 | $sc_99 | $sc_max | $sc_lag |
| admins ($ADMINS logins, $STREAMS streams, every report) | $sa_open | $sa_pps | $sa_got / $sa_exp | $sa_50 | $sa_90 | $sa_99 | $sa_max | $sa_lag |

accounts: $CADRES cadres + $ADMINS admins created with \`wangge user add\` in ${users_secs}s; requests stored: $rows
machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average before the end: $(cut -d' ' -f1-3 /proc/loadavg)
EOF
