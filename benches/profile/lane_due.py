"""A lane's due-row queries with another lane's backlog (issue 31,
BENCHMARKS.md, write path): the worker's reads and claim before and after
deliveries_lane_due (migration 0020 / 0029), and the release of a waiting
visit after a success, at 1,000,000 deliveries.

The data: 1,000,000 enquiries, each with one delivery. 900,000 of them are
one lane's backlog, pending and due (scenario `down`: the step of a
destination that is down; scenario `paused`: the `enquiry` step of a
paused account's site `p`). The other 100,000 are synced `enquiry` rows,
10 of them pending, and those 10 enquiries also have a due row of each
other lane's steps (fallback email, home visit, a second destination, a
step no lane sends). 90,000 more are `home_visit` rows left `waiting`.
Lanes as the worker builds them: account `north` (site north), the
default account (every other site), the fallback email, destinations
`down` and `up`, and the steps none of those sends.

Each statement runs 5 times (SQLite: in-process, the claim in a
transaction rolled back; PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`, its
Execution Time, the claim in a transaction rolled back); the median, min
and max are printed with the last plan. "before" is the statement text of
the previous release on the database without the new index; "after" the
text this release builds (ClaimScope::due_rows, src/storage/models.rs) with
the index. No ANALYZE on SQLite (the service never runs it); PostgreSQL
is ANALYZEd after loading, as autovacuum would.

Run from the repository root:
    python3 benches/profile/lane_due.py sqlite [down|paused] [WORKDIR]
    python3 benches/profile/lane_due.py postgres [down|paused] postgres://postgres@127.0.0.1:5432/postgres
(PostgreSQL: creates and drops the database lane_due on that server.)
"""
import glob, os, re, sqlite3, statistics, subprocess, sys, tempfile, time

backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
scenario = sys.argv[2] if len(sys.argv) > 2 else "down"
N, BACKLOG, HANDFUL = 1_000_000, 900_000, 10
NOW = int(time.time() * 1000)
BASE = NOW - 86_400_000  # every row below is due
BACKLOG_STEP = "destination:down" if scenario == "down" else "enquiry"
CAREHQ = ["enquiry", "home_visit"]
SERVED = CAREHQ + ["fallback_email", "destination:down", "destination:up"]
# (name, steps, step filter is "only", sites, site filter is "only")
LANES = [
    ("north", CAREHQ, True, ["north"], True),
    ("default", CAREHQ, True, ["north"], False),
    ("email", ["fallback_email"], True, [], False),
    ("up", ["destination:up"], True, [], False),
    ("down", ["destination:down"], True, [], False),
    ("unserved", SERVED, False, [], False),
]
if scenario == "paused":
    # The paused account's own lane is not run while paused.
    LANES = [("north", CAREHQ, True, ["north"], True),
             ("default", CAREHQ, True, ["north", "p"], False),
             ("unserved", SERVED, False, [], False)]
INDEX = ("CREATE INDEX deliveries_lane_due ON deliveries (step, next_attempt_at) "
         "WHERE status IN ('pending', 'sending')")


def lit(v):
    return str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"


def site_clause(sites, only):
    if not sites:
        return "AND 1 = 0" if only else ""
    exists = "EXISTS" if only else "NOT EXISTS"
    return (f"AND {exists} (SELECT 1 FROM enquiries e WHERE e.id = deliveries.enquiry_id "
            f"AND e.site IN ({', '.join(map(lit, sites))}))")


def before(lane, kind, pg):
    """The previous release's text (outbox.rs, models.rs ClaimScope::clause)."""
    _, steps, only, sites, sites_only = lane
    op = "IN" if only else "NOT IN"
    scope = f"AND step {op} ({', '.join(map(lit, steps))}) {site_clause(sites, sites_only)}"
    now = "(EXTRACT(EPOCH FROM now()) * 1000)::BIGINT" if pg else str(NOW)
    if kind == "any_due":
        return (f"SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') "
                f"AND next_attempt_at <= {NOW} {scope} LIMIT 1")
    if kind == "next_due":
        return f"SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'sending') {scope}"
    inner = (f"SELECT id{', status AS old_status' if pg else ''} FROM deliveries "
             f"WHERE status IN ('pending', 'sending') AND next_attempt_at <= {now} {scope} "
             f"ORDER BY next_attempt_at LIMIT 4{' FOR UPDATE SKIP LOCKED' if pg else ''}")
    return claim(inner, pg)


def claim(due, pg):
    if pg:
        return ("UPDATE deliveries AS d SET status = 'sending', lease_owner = 'w', "
                "next_attempt_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT + 60000, "
                "updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT, "
                "ambiguous = d.ambiguous + CASE WHEN d.status = 'sending' THEN 1 ELSE 0 END "
                f"FROM ({due}) AS due WHERE d.id = due.id "
                "RETURNING d.id, d.enquiry_id, d.step, d.attempts, "
                "CASE WHEN due.old_status = 'sending' THEN 1::BIGINT ELSE 0::BIGINT END")
    return (f"UPDATE deliveries SET status = 'sending', lease_owner = 'w', next_attempt_at = {NOW + 60000}, "
            f"updated_at = {NOW}, ambiguous = ambiguous + CASE WHEN status = 'sending' THEN 1 ELSE 0 END "
            f"WHERE id IN (SELECT id FROM ({due}) AS due) "
            "RETURNING id, enquiry_id, step, attempts, ambiguous")


def due_rows(lane, columns, due, limit, lock, pg):
    """ClaimScope::due_rows, with literals for placeholders."""
    _, steps, only, sites, sites_only = lane
    index = "" if pg else "INDEXED BY deliveries_lane_due"
    site = site_clause(sites, sites_only)
    status = "status IN ('pending', 'sending')"

    def arm(step):
        return (f"SELECT {columns} FROM deliveries {index} WHERE step = {step} AND {status} {due} {site} "
                f"ORDER BY next_attempt_at LIMIT {limit} {lock}")

    if only:
        arms = [arm(lit(s)) for s in steps]
        if not arms:
            return f"SELECT {columns} FROM deliveries WHERE 1 = 0"
        if len(arms) == 1:
            return arms[0]
        return " UNION ALL ".join(f"SELECT * FROM ({a}) AS lane_{n}" for n, a in enumerate(arms)) + \
            f" ORDER BY next_attempt_at LIMIT {limit}"
    served = f"AND lane_step NOT IN ({', '.join(map(lit, steps))})" if steps else ""
    cte = (f"WITH RECURSIVE lane_steps (lane_step) AS (SELECT MIN(step) FROM deliveries {index} WHERE {status} "
           f"UNION ALL SELECT (SELECT MIN(step) FROM deliveries {index} WHERE {status} AND step > lane_step) "
           "FROM lane_steps WHERE lane_step IS NOT NULL)")
    if pg:
        return (f"{cte} SELECT lane.* FROM lane_steps CROSS JOIN LATERAL ({arm('lane_step')}) AS lane "
                f"WHERE lane_step IS NOT NULL {served} ORDER BY next_attempt_at LIMIT {limit}")
    return (f"{cte} SELECT {columns} FROM lane_steps CROSS JOIN deliveries {index} "
            f"WHERE lane_step IS NOT NULL {served} AND step = lane_step AND {status} {due} {site} "
            f"ORDER BY next_attempt_at LIMIT {limit}")


def after(lane, kind, pg):
    if kind == "any_due":
        return due_rows(lane, "next_attempt_at", f"AND next_attempt_at <= {NOW}", "1", "", pg)
    if kind == "next_due":
        return due_rows(lane, "next_attempt_at", "", "1", "", pg)
    now = "(EXTRACT(EPOCH FROM now()) * 1000)::BIGINT" if pg else str(NOW)
    cols = "id, status AS old_status, next_attempt_at" if pg else "id, next_attempt_at"
    lock = "FOR UPDATE SKIP LOCKED" if pg else ""
    return claim(due_rows(lane, cols, f"AND next_attempt_at <= {now}", "4", lock, pg), pg)


# The release of waiting visits after the success of delivery 'd999995'.
RELEASED = 999_995
RELEASE_BEFORE = ("UPDATE deliveries SET status = 'pending', next_attempt_at = {now}, updated_at = {now}, "
                  "pending_since = {now} WHERE status = 'waiting' AND enquiry_id IN "
                  "(SELECT enquiry_id FROM deliveries WHERE id = 'd999995' AND step = 'enquiry')")
RELEASE_AFTER = ("UPDATE deliveries {pin} SET status = 'pending', next_attempt_at = {now}, updated_at = {now}, "
                 "pending_since = {now} WHERE enquiry_id = (SELECT enquiry_id FROM deliveries "
                 "WHERE id = 'd999995' AND step = 'enquiry') AND status = 'waiting'")


def rows():
    """(enquiries, deliveries) as tuples."""
    def site(i):
        return "p" if i < BACKLOG and scenario == "paused" else ("north", "south", "east")[i % 3]
    enq = ((f"e{i}", site(i), BASE + i) for i in range(N))
    def deliveries():
        for i in range(N):
            if i < BACKLOG:
                yield (f"d{i}", f"e{i}", BACKLOG_STEP, "pending", BASE + i)
            else:
                status = "pending" if i >= N - HANDFUL else "synced"
                yield (f"d{i}", f"e{i}", "enquiry", status, BASE + i)
        for i in range(N - HANDFUL, N):
            for k, step in enumerate(("fallback_email", "home_visit", "destination:up", "destination:gone")):
                if not (step == "home_visit" and i == RELEASED):
                    yield (f"x{k}-{i}", f"e{i}", step, "pending", BASE + i)
        # Visits waiting for their enquiry, and the one the release frees.
        for i in list(range(BACKLOG, BACKLOG + 90_000)) + [RELEASED]:
            yield (f"w{i}", f"e{i}", "home_visit", "waiting", BASE + i)
    return enq, deliveries()


def run_sqlite(work):
    db = os.path.join(work, "lane-due.db")
    if os.path.exists(db):
        os.remove(db)
    c = sqlite3.connect(db, isolation_level=None)
    for f in sorted(glob.glob("migrations/sqlite/*.sql")):
        if "lane_due" not in f:
            c.executescript(open(f).read())
    c.execute("PRAGMA foreign_keys=OFF")
    c.execute("BEGIN")
    enq, dels = rows()
    c.executemany("INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) VALUES (?,?,?,NULL,'clean')", enq)
    c.executemany("INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) "
                  "VALUES (?,?,?,?,?,?,?)", ((*d, d[4], d[4]) for d in dels))
    c.execute("COMMIT")
    print("deliveries:", c.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0],
          "due:", c.execute(f"SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= {NOW}").fetchone()[0],
          "sqlite", sqlite3.sqlite_version)

    def timed(label, sql, write):
        times, out, changed = [], None, 0
        for _ in range(5):
            if write:
                c.execute("BEGIN")
            start = time.perf_counter()
            cursor = c.execute(sql)
            out = cursor.fetchall()
            times.append((time.perf_counter() - start) * 1000)
            changed = cursor.rowcount
            if write:
                c.execute("ROLLBACK")
        rows = f"{changed} changed" if write else f"{len(out)} row(s)"
        print(f"{label}: median {statistics.median(times):.3f} ms (min {min(times):.3f}, max {max(times):.3f}), "
              f"{rows}: {sorted(map(str, out))[:4]}")
        for row in c.execute("EXPLAIN QUERY PLAN " + sql):
            print("     ", row[3])

    for phase, text in (("before", before), ("after", after)):
        if phase == "after":
            c.execute(INDEX)
        for lane in LANES:
            for kind in ("any_due", "next_due", "claim"):
                timed(f"{phase} {lane[0]:8} {kind:8}", text(lane, kind, False), kind == "claim")
        release = RELEASE_BEFORE if phase == "before" else RELEASE_AFTER
        timed(f"{phase} release  ", release.format(now=NOW, pin="INDEXED BY sqlite_autoindex_deliveries_2"), True)


def run_postgres(url):
    base = url.rsplit("/", 1)[0]
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    subprocess.run(psql + [url, "-c", "DROP DATABASE IF EXISTS lane_due WITH (FORCE)", "-c", "CREATE DATABASE lane_due"], check=True)
    db = base + "/lane_due"
    for f in sorted(glob.glob("migrations/postgres/*.sql")):
        if "lane_due" not in f:
            subprocess.run(psql + [db, "-f", f], check=True, stdout=subprocess.DEVNULL)
    enq, dels = rows()
    load = ["SET session_replication_role = replica;",
            "COPY enquiries (id, site, received_at, spam_verdict) FROM STDIN;"]
    load += [f"{i}\t{s}\t{r}\tclean" for i, s, r in enq] + ["\\."]
    load += ["COPY deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) FROM STDIN;"]
    load += [f"{a}\t{b}\t{c}\t{d}\t{e}\t{e}\t{e}" for a, b, c, d, e in dels] + ["\\.", "ANALYZE;"]
    subprocess.run(psql + [db], input="\n".join(load) + "\n", text=True, check=True)

    def sql(text):
        return subprocess.run(psql + ["-At", db], input=text, text=True, check=True, capture_output=True).stdout

    print("deliveries:", sql("SELECT COUNT(*) FROM deliveries").strip(), sql("SHOW server_version").strip())

    def timed(label, statement, write):
        one = f"BEGIN; EXPLAIN (ANALYZE, BUFFERS) {statement}; ROLLBACK;" if write \
            else f"EXPLAIN (ANALYZE, BUFFERS) {statement};"
        out = sql("\n".join([one] * 5))
        times = [float(t) for t in re.findall(r"Execution Time: ([0-9.]+) ms", out)]
        print(f"{label}: median {statistics.median(times):.3f} ms (min {min(times):.3f}, max {max(times):.3f})")
        plan = out.strip().split("\n")
        # The fifth run's plan: the lines after the fourth "Execution Time".
        cut = [i for i, l in enumerate(plan) if l.startswith("Execution Time")]
        for l in plan[cut[-2] + 1:cut[-1]]:
            print("     ", l)

    for phase, text in (("before", before), ("after", after)):
        if phase == "after":
            sql(INDEX.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY") + ";")
            sql("ANALYZE deliveries;")
        for lane in LANES:
            for kind in ("any_due", "next_due", "claim"):
                timed(f"{phase} {lane[0]:8} {kind:8}", text(lane, kind, True), kind == "claim")
        release = RELEASE_BEFORE if phase == "before" else RELEASE_AFTER
        timed(f"{phase} release  ", release.format(now=NOW, pin=""), True)
    subprocess.run(psql + [url, "-c", "DROP DATABASE lane_due WITH (FORCE)"], check=True)


if backend == "sqlite":
    run_sqlite(sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp())
else:
    run_postgres(sys.argv[3] if len(sys.argv) > 3 else "postgres://postgres@127.0.0.1:5432/postgres")
