"""Query plans and times of the staff reads (issue 30) at 1,000,000
enquiries on SQLite: builds a database from migrations/sqlite (50 homes,
~550 enquiries a day over five years, all sent but a fixed backlog of
waiting, failed, held and closed ones; the triggers of migration 0018 keep
the stored state and totals as rows go in), then prints each read's
EXPLAIN QUERY PLAN and its median time over 5 runs. Run from the
repository root:
    python3 benches/profile/staff_reads_explain.py [WORKDIR]
The PostgreSQL side: benches/profile/staff_reads_explain_postgres.sql.
"""
import glob, os, sqlite3, statistics, sys, tempfile, time

work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
db = os.path.join(work, "staff-reads.db")
N = int(os.environ.get("ROWS", "1000000"))
DAY = 86_400_000
NOW = 1_796_000_000_000
fresh = not os.path.exists(db)
c = sqlite3.connect(db)
if fresh:
    for f in sorted(glob.glob("migrations/sqlite/*.sql")):
        c.executescript(open(f).read())
    c.execute("PRAGMA foreign_keys=OFF")
    step = DAY // 550
    def status(i):
        # the newest rows hold the backlog: 300 waiting, 60 failed, 120 held, 100 closed
        if i < 300: return "pending"
        if i < 360: return "failed"
        if i < 480: return "held"
        if i < 580: return "expired"
        return "synced"
    c.executemany(
        "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) VALUES (?,?,?,?,?)",
        ((f"e{i:07d}", f"home-{i % 50:02d}", NOW - i * step, None, "clean") for i in range(N)))
    c.executemany(
        "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at, ambiguous) "
        "VALUES (?,?,?,?,?,?,?,?)",
        ((f"d{i:07d}", f"e{i:07d}", "enquiry", status(i), NOW - i * step, NOW - i * step, NOW - i * step,
          1 if i % 1000 == 7 else 0) for i in range(N)))
    c.commit()

# The service never runs ANALYZE: plans without statistics are the ones it
# gets. STATS=1 runs ANALYZE first, to show the plans hold with them too.
if os.environ.get("STATS") == "1":
    c.execute("ANALYZE")
else:
    c.execute("DROP TABLE IF EXISTS sqlite_stat1")
c.commit()

NEXT = ("(SELECT MIN(CASE WHEN d.status IN ('pending', 'sending') THEN d.next_attempt_at END) "
        "FROM deliveries d WHERE d.enquiry_id = e.id)")
COLS = f"e.id, e.site, e.received_at, e.state, {NEXT}, e.payload"
deep = c.execute("SELECT received_at, id FROM enquiries ORDER BY received_at DESC, id DESC "
                 "LIMIT 1 OFFSET 25000").fetchone()
reads = {
    "list, first page": f"SELECT {COLS} FROM enquiries e ORDER BY e.received_at DESC, e.id DESC LIMIT 51",
    "list, page 500 (keyset)": f"SELECT {COLS} FROM enquiries e WHERE (e.received_at, e.id) < ({deep[0]}, '{deep[1]}') "
                               "ORDER BY e.received_at DESC, e.id DESC LIMIT 51",
    "list, state=failed": f"SELECT {COLS} FROM enquiries e WHERE e.state = 'failed' ORDER BY e.received_at DESC, e.id DESC LIMIT 51",
    "list, one home + state": f"SELECT {COLS} FROM enquiries e WHERE e.state = 'waiting' AND e.site = 'home-07' "
                              "ORDER BY e.received_at DESC, e.id DESC LIMIT 51",
    "list, an account's 3 homes": " UNION ALL ".join(
        f"SELECT * FROM (SELECT {COLS} FROM enquiries e WHERE e.site = 'home-{h:02d}' "
        f"ORDER BY e.received_at DESC, e.id DESC LIMIT 51) AS home{h}" for h in (1, 2, 3))
        + " ORDER BY 3 DESC, 1 DESC LIMIT 51",
    # One range per key the first word may be stored under, merged; the
    # next attempt read for the page's rows only (as staff_list.rs builds it).
    "search (terms)": "SELECT p.id, p.site, p.received_at, p.state, "
                      "(SELECT MIN(CASE WHEN d.status IN ('pending', 'sending') THEN d.next_attempt_at END) "
                      "FROM deliveries d WHERE d.enquiry_id = p.id), p.payload FROM ("
                      + " UNION ALL ".join(
                          f"SELECT * FROM (SELECT e.id AS id, e.site AS site, e.received_at AS received_at, "
                          f"e.state AS state, e.payload AS payload FROM enquiry_terms t JOIN enquiries e ON e.id = t.enquiry_id "
                          f"WHERE t.term = '{term}' ORDER BY t.received_at DESC, t.enquiry_id DESC LIMIT 51) AS r{n}"
                          for n, term in enumerate(("x1", "x2")))
                      + " ORDER BY received_at DESC, id DESC LIMIT 51) AS p ORDER BY p.received_at DESC, p.id DESC",
    "overview, 30 days per day": f"SELECT e.site, (e.received_at - {NOW - 30 * DAY}) / {DAY}, e.state, COUNT(*) "
                                 f"FROM enquiries e INDEXED BY enquiries_received WHERE e.received_at >= {NOW - 30 * DAY} GROUP BY 1, 2, 3",
    "status, unfinished": "SELECT e.site, d.step, d.status, COUNT(*), MIN(COALESCE(d.pending_since, d.created_at)) "
                          "FROM deliveries d CROSS JOIN enquiries e "
                          "WHERE e.id = d.enquiry_id AND d.status IN ('pending', 'sending', 'waiting', 'failed', 'held') GROUP BY 1, 2, 3",
    "status, finished totals": "SELECT site, step, status, n FROM delivery_totals WHERE n <> 0",
    "status, synced last 24 h": f"SELECT e.site, d.step, COUNT(*) FROM deliveries d INDEXED BY deliveries_synced_at CROSS JOIN enquiries e "
                                f"WHERE e.id = d.enquiry_id AND d.status = 'synced' AND d.updated_at >= {NOW - DAY} GROUP BY 1, 2",
    "status, ambiguous": "SELECT COUNT(*) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id WHERE d.ambiguous > 0",
    "status, latest hint": "SELECT a.started_at, d.enquiry_id FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
                           "JOIN enquiries e ON e.id = d.enquiry_id WHERE a.hint IS NOT NULL ORDER BY a.started_at DESC LIMIT 1",
    "retention, synced to scrub": f"SELECT e.id FROM enquiries e WHERE e.payload IS NOT NULL AND e.spam_verdict IN ('clean', 'partner') "
                                  f"AND e.received_at < {NOW - 30 * DAY} AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id) "
                                  "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status <> 'synced') "
                                  "ORDER BY e.received_at LIMIT 500",
}
print(f"{N:,} enquiries in {db}")
tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
for name, sql in reads.items():
    if "enquiry_terms" in sql and "enquiry_terms" not in tables:
        print(f"{name}: skipped (no enquiry_terms table in this schema)")
        continue
    times = []
    for _ in range(5):
        start = time.perf_counter()
        c.execute(sql).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{name}: median {statistics.median(times):.2f} ms (min {min(times):.2f}, max {max(times):.2f})")
    for row in c.execute("EXPLAIN QUERY PLAN " + sql):
        print("   ", row[3])
