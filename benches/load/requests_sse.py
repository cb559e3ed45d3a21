"""SSE delivery delay for scripts/bench-requests.sh (standard library only).

Opens STREAMS connections to GET /api/v1/me/events, spread round-robin over the bearer tokens
given, waits until every one has answered 200, then posts Open311 reports (as a registered app)
at RATE per second for SECONDS seconds at the points given, and records for every
`event: request` with `"notice": "reported"` the time from just before the post was written to
the moment the event's last line was read. Prints one JSON object with the figures.

    python3 requests_sse.py URL STREAMS RATE SECONDS KEY SETUP.json

SETUP.json: {"tokens": [{"token": T, "areas": [area ids it holds] | null (sees everything)}],
             "points": [{"lon", "lat", "areas": [area ids at the point]}]}
"""

import asyncio
import json
import sys
import time
import urllib.parse

url, streams, rate, seconds, key, setup_file = sys.argv[1:7]
streams, rate, seconds = int(streams), float(rate), float(seconds)
setup = json.load(open(setup_file))
parsed = urllib.parse.urlparse(url)
HOST, PORT = parsed.hostname, parsed.port

received = {}  # request id -> list of receive times (one per stream that heard it)
lagged = 0
opened = 0
failed_open = []
stream_errors = []


async def stream(index, token, ready):
    global lagged, opened
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT, limit=1 << 22)
        writer.write(
            (
                f"GET /api/v1/me/events HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readline()
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        if b" 200 " not in status:
            failed_open.append(status.decode().strip())
            ready.set_result(False)
            return
        opened += 1
        ready.set_result(True)
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        buffer = b""
        event = None
        while True:
            if chunked:
                size_line = await reader.readline()
                if not size_line:
                    return
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = await reader.readexactly(size + 2)
                buffer += data[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return
                buffer += data
            now = time.monotonic()
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                line = line.rstrip(b"\r")
                if line.startswith(b"event:"):
                    event = line[6:].strip()
                elif line.startswith(b"data:") and event == b"request":
                    body = json.loads(line[5:])
                    if body.get("notice") == "reported":
                        received.setdefault(str(body["id"]), []).append(now)
                elif line.startswith(b"data:") and event == b"lagged":
                    lagged += 1
                elif line == b"":
                    event = None
    except Exception as e:  # noqa: BLE001 - reported in the figures
        stream_errors.append(repr(e))
        if not ready.done():
            ready.set_result(False)


async def poster(points, sent, stop_at, interval, offset):
    """One keep-alive connection posting every `interval` seconds, starting at `offset`."""
    reader, writer = await asyncio.open_connection(HOST, PORT)
    start = time.monotonic() + offset
    n = 0
    statuses = {}
    while True:
        due = start + n * interval
        if due >= stop_at:
            break
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        p = points[n % len(points)]
        body = urllib.parse.urlencode(
            {
                "service_code": "sanitation",
                "lat": p["lat"],
                "long": p["lon"],
                "description": f"sse bench {offset:.3f}-{n}",
                "api_key": key,
            }
        ).encode()
        request = (
            f"POST /open311/v2/requests.json HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        t0 = time.monotonic()
        writer.write(request)
        await writer.drain()
        status = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        answer = await reader.readexactly(length)
        code = status.split()[1].decode()
        statuses[code] = statuses.get(code, 0) + 1
        if code == "201":
            rid = json.loads(answer)[0]["service_request_id"]
            sent[str(rid)] = (t0, p)
        n += 1
    writer.close()
    return statuses


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


async def main():
    tokens = setup["tokens"]
    points = setup["points"]
    readies = []
    tasks = []
    holders = []  # per stream: the areas its token holds, or None for everything
    t_open = time.monotonic()
    for i in range(streams):
        tok = tokens[i % len(tokens)]
        holders.append(tok["areas"])
        ready = asyncio.get_running_loop().create_future()
        readies.append(ready)
        tasks.append(asyncio.create_task(stream(i, tok["token"], ready)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not flood the accept queue
    await asyncio.gather(*readies)
    open_secs = time.monotonic() - t_open
    await asyncio.sleep(1)
    sent = {}
    posters = max(1, min(16, int(rate // 5) or 1))
    interval = posters / rate
    stop_at = time.monotonic() + 0.2 + seconds
    statuses_list = await asyncio.gather(
        *(poster(points, sent, stop_at, interval, 0.2 + k * interval / posters) for k in range(posters))
    )
    await asyncio.sleep(3)  # stragglers
    statuses = {}
    for s in statuses_list:
        for k, v in s.items():
            statuses[k] = statuses.get(k, 0) + v
    delays = []
    expected = 0
    for rid, (t0, p) in sent.items():
        areas = set(p["areas"])
        expected += sum(1 for h in holders[:opened] if h is None or areas & set(h))
        for t in received.get(rid, []):
            delays.append((t - t0) * 1000)
    figures = {
        "streams_requested": streams,
        "streams_open": opened,
        "open_failures": failed_open[:3],
        "open_failure_count": len(failed_open),
        "stream_errors": stream_errors[:3],
        "stream_error_count": len(stream_errors),
        "seconds_to_open_all": round(open_secs, 2),
        "posts_sent": sum(statuses.values()),
        "post_statuses": statuses,
        "posts_per_sec": round(sum(statuses.values()) / seconds, 1),
        "deliveries_expected": expected,
        "deliveries_received": len(delays),
        "lagged_events": lagged,
        "delay_ms_p50": round(percentile(delays, 50), 1) if delays else None,
        "delay_ms_p90": round(percentile(delays, 90), 1) if delays else None,
        "delay_ms_p99": round(percentile(delays, 99), 1) if delays else None,
        "delay_ms_max": round(max(delays), 1) if delays else None,
    }
    print(json.dumps(figures))
    for t in tasks:
        t.cancel()


asyncio.run(main())
