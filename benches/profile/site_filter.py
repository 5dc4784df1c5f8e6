"""The lane site filter at 1,000,000 enquiries (BENCHMARKS.md, write-path
profile): builds a SQLite database from migrations/sqlite (1,000,000
enquiries of two sites, one delivery each, 50 pending), then times the
next-due read of one account's lane with the old `enquiry_id IN (SELECT id
FROM enquiries WHERE site IN …)` filter and the current correlated EXISTS,
5 runs each, and prints their query plans. Run from the repository root:
    python3 benches/profile/site_filter.py [WORKDIR]
The PostgreSQL side: benches/profile/site_filter_postgres.sql.
"""
import glob, os, sqlite3, statistics, sys, tempfile, time

work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
db = os.path.join(work, "site-filter.db")
if os.path.exists(db):
    os.remove(db)
c = sqlite3.connect(db)
for f in sorted(glob.glob("migrations/sqlite/*.sql")):
    c.executescript(open(f).read())
c.execute("PRAGMA foreign_keys=OFF")
N = 1_000_000
c.executemany(
    "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) VALUES (?,?,?,?,?)",
    ((f"e{i}", "a" if i % 2 else "b", i, None, "clean") for i in range(N)))
c.executemany(
    "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) "
    "VALUES (?,?,?,?,?,?,?)",
    ((f"d{i}", f"e{i}", "enquiry", "synced" if i > 50 else "pending", i, i, i) for i in range(N)))
c.commit()
c.execute("ANALYZE")
c.commit()
due = ("SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending','sending') "
       "AND step IN ('enquiry','home_visit') AND ")
for name, site in (
        ("before: IN list", "enquiry_id IN (SELECT id FROM enquiries WHERE site IN ('a'))"),
        ("now: EXISTS", "EXISTS (SELECT 1 FROM enquiries e WHERE e.id = deliveries.enquiry_id AND e.site IN ('a'))")):
    times = []
    for _ in range(5):
        start = time.perf_counter()
        c.execute(due + site).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{name}: median {statistics.median(times):.2f} ms (min {min(times):.2f}, max {max(times):.2f})")
    for row in c.execute("EXPLAIN QUERY PLAN " + due + site):
        print("   ", row[3])
