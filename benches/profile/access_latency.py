#!/usr/bin/env python3
"""Where the slowest 1 % of acknowledgements wait, from the service's own log.

Reads a service log kept by the intake bench (`BENCH_RELAY_LOG=DIR`, text
format, the access line at info) and prints:

- the service's own latency for each 201 (request in to response out, as
  the access line measures it) at p50/p90/p99/max, to set beside the
  bench's client-side figures: what the service does not account for was
  spent in the kernel, the client or waiting for a core;
- whether the slowest 1 % come together (one stall holding every request
  in flight: a commit, a checkpoint, a pause of the runtime) or apart (each
  its own bad luck), by counting the 20 ms windows they started in;
- for each of the slowest stalls, what else the log says happened in the
  50 ms before it ended (checkpoint passes, the worker's lines), when the
  log was kept at debug for those targets.

usage: access_latency.py LOG [--skip-seconds 1]
"""

import re
import sys
from datetime import datetime

LINE = re.compile(r"^(\S+)\s+(\w+)\s+(.*)$")
LATENCY = re.compile(r"status=(\d+) latency_ms=([0-9.]+)")


def stamp(text):
    # 2026-12-07T23:10:00.123456Z
    text = text.rstrip("Z")
    if "." in text:
        head, frac = text.split(".")
        text = head + "." + (frac + "000000")[:6]
    return datetime.fromisoformat(text).timestamp()


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, int(round(p * len(sorted_values) + 0.5)) - 1))
    return sorted_values[rank]


def main():
    args = sys.argv[1:]
    skip = 1.0
    if "--skip-seconds" in args:
        i = args.index("--skip-seconds")
        skip = float(args[i + 1])
        del args[i : i + 2]
    if len(args) != 1:
        print(__doc__)
        sys.exit(2)
    requests = []  # (start, end, latency_ms)
    others = []  # (time, text) for every non-access line
    first = None
    with open(args[0], encoding="utf-8", errors="replace") as log:
        for raw in log:
            m = LINE.match(raw.strip())
            if not m:
                continue
            try:
                t = stamp(m.group(1))
            except ValueError:
                continue
            first = t if first is None else first
            found = LATENCY.search(m.group(3))
            if found and found.group(1) == "201":
                ms = float(found.group(2))
                requests.append((t - ms / 1000.0, t, ms))
            elif not found:
                others.append((t, m.group(3)[:140]))
    if not requests:
        print("no 201 access lines found (is the log at info, text format?)")
        sys.exit(1)
    begin = requests[0][1] + skip
    requests = [r for r in requests if r[1] >= begin]
    latencies = sorted(r[2] for r in requests)
    span = requests[-1][1] - requests[0][1]
    print(f"{len(requests)} acknowledgements over {span:.1f} s ({len(requests) / max(span, 1e-9):.0f}/s), first {skip:.0f} s skipped")
    print(
        "service latency ms: p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  p99.9 {:.2f}  max {:.2f}".format(
            percentile(latencies, 0.5),
            percentile(latencies, 0.9),
            percentile(latencies, 0.99),
            percentile(latencies, 0.999),
            latencies[-1],
        )
    )
    p99 = percentile(latencies, 0.99)
    slow = [r for r in requests if r[2] >= p99]
    windows = {}
    for start, end, ms in slow:
        windows.setdefault(int(start / 0.020), []).append((start, end, ms))
    print(
        f"slowest 1 %: {len(slow)} requests started in {len(windows)} distinct 20 ms windows"
        f" (all together: 1 window per ~16; each alone: {len(slow)})"
    )
    biggest = sorted(windows.values(), key=len, reverse=True)[:8]
    for group in biggest:
        end = max(r[1] for r in group)
        start = min(r[0] for r in group)
        worst = max(r[2] for r in group)
        offset = end - requests[0][1]
        near = [text for (t, text) in others if end - 0.050 <= t <= end + 0.005]
        print(f"  at +{offset:7.3f} s: {len(group):3d} slow, worst {worst:6.2f} ms, started within {1000 * (max(r[0] for r in group) - start):5.1f} ms")
        for text in near[:4]:
            print(f"      {text}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # piped into head
        sys.exit(0)
