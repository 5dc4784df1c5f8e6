"""Which b-trees each commit writes (issue 31): reads a copy of a running
relay's SQLite WAL, groups its frames into commits, and names each frame's
page by the table or index it belongs to (the `dbstat` table of the same
copy). Usage, while the intake bench runs:
    cp relay.db relay.db-wal /tmp/w/ ; python3 benches/profile/wal_pages.py /tmp/w/relay.db
Prints, for the commits in the WAL's current generation: frames per commit
(min / median / max), and for each b-tree the pages per commit it wrote.
"""
import collections, sqlite3, struct, sys, statistics

db = sys.argv[1]
wal = open(db + "-wal", "rb").read()
magic, version, page_size, seq, salt1, salt2, _, _ = struct.unpack(">IIIIIIII", wal[:32])
frames, commits, current = [], [], []
off = 32
while off + 24 + page_size <= len(wal):
    pgno, commit, s1, s2 = struct.unpack(">IIII", wal[off:off + 16])
    if (s1, s2) != (salt1, salt2):
        break
    current.append(pgno)
    if commit:
        commits.append(current)
        current = []
    off += 24 + page_size

con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
owner = dict(con.execute("SELECT pageno, name FROM dbstat"))
sizes = [len(set(c)) for c in commits]
print(f"{len(commits)} commits; distinct pages per commit min {min(sizes)} median {statistics.median(sizes)} max {max(sizes)}")
per = collections.Counter()
for c in commits:
    for p in set(c):
        per[owner.get(p, "(new or freed page)")] += 1
print("| b-tree | pages written per commit (mean) |\n|---|---:|")
for name, n in per.most_common():
    print(f"| {name} | {n / len(commits):.2f} |")
