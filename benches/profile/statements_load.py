"""Load for the write-path statement profile (BENCHMARKS.md, issue 31).

Posts 200 JSON enquiries to a running relay on 127.0.0.1:18431, waits until
every delivery is done, then stays idle 30 s, recording where in the relay's
log each phase starts (WORKDIR/marks.json). Usage:
    python3 benches/profile/statements_load.py WORKDIR [--idempotency-key]
WORKDIR holds relay.log (the relay's JSON log) and data/ (its SQLite file).
"""
import json, sys, time, urllib.request, subprocess
W = sys.argv[1]
KEYED = "--idempotency-key" in sys.argv[2:]
def lines(): return sum(1 for _ in open(W + "/relay.log", "rb"))
def q(sql): return subprocess.run(["sqlite3", "-readonly", W + "/data/enquiry-relay.db", sql], capture_output=True, text=True).stdout.strip()
marks = {"before_posts": lines(), "t_before_posts": time.time()}
codes = {}
for i in range(200):
    body = json.dumps({"name": f"Sam Taylor{i}", "email": f"sam{i}.{int(time.time())}@example.com",
                       "message": f"Is there a room from March? #{i}"}).encode()
    req = urllib.request.Request("http://127.0.0.1:18431/forms/demo", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Idempotency-Key": f"k-{i}-{int(time.time())}"} if KEYED else {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r: c = r.status
    except urllib.error.HTTPError as e: c = e.code
    codes[c] = codes.get(c, 0) + 1
marks["after_posts"] = lines(); marks["t_after_posts"] = time.time()
while True:
    left = q("SELECT count(*) FROM deliveries WHERE status IN ('pending','sending','waiting')")
    if left == "0": break
    time.sleep(0.2)
marks["delivered"] = lines(); marks["t_delivered"] = time.time()
time.sleep(2)
marks["idle_start"] = lines(); marks["t_idle_start"] = time.time()
time.sleep(30)
marks["idle_end"] = lines(); marks["t_idle_end"] = time.time()
marks["codes"] = codes
marks["status_counts"] = q("SELECT step, status, count(*) FROM deliveries GROUP BY 1,2")
print(json.dumps(marks, indent=1))
json.dump(marks, open(W + "/marks.json", "w"))
