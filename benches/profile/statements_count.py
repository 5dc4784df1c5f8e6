"""Counts the SQL statements sqlx logged (target sqlx::query, RUST_LOG
sqlx::query=debug, JSON log) in each phase statements_load.py marked, grouped
by their text with literals folded. Usage:
    python3 benches/profile/statements_count.py WORKDIR
"""
import json, re, sys, collections
W = sys.argv[1]
m = json.load(open(W + "/marks.json"))
def norm(s):
    s = re.sub(r"'[^']*'", "?", s)
    s = re.sub(r"\$\d+", "?", s)
    s = re.sub(r"\b\d+\b", "N", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"(\?, )+\?", "?…", s)
    return s[:100]
win = {"intake+delivery (posts → all synced)": (m["before_posts"], m["delivered"]),
       "posting window only": (m["before_posts"], m["after_posts"]),
       "idle 30 s": (m["idle_start"], m["idle_end"]),
       "startup": (0, m["before_posts"])}
lines = open(W + "/relay.log").read().splitlines()
out = {}
for name, (a, b) in win.items():
    c = collections.Counter(); el = collections.Counter()
    for l in lines[a:b]:
        try: d = json.loads(l)
        except: continue
        if d.get("target") != "sqlx::query": continue
        f = d["fields"]; k = norm(f.get("db.statement") or f.get("summary"))
        c[k] += 1; el[k] += f.get("elapsed_secs", 0)
    out[name] = (c, el)
    print(f"\n## {name}: {sum(c.values())} statements")
    for k, v in c.most_common(): print(f"{v:6d} {el[k]*1000:9.1f}ms  {k}")
