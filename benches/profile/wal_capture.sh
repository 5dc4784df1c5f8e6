#!/bin/bash
# Which b-trees a commit writes during an intake run (issue 31): starts one
# 10-second intake bench run, copies the run's SQLite database and WAL 6 s
# in, and prints benches/profile/wal_pages.py's table for that copy.
# Usage (from the repository root, after `cargo bench --bench intake --no-run`):
#   HARNESS=target/release/deps/intake-<hash> benches/profile/wal_capture.sh BINARY LABEL STORED CLIENTS
# e.g. benches/profile/wal_capture.sh /tmp/relay-new new-1m 1000000 16
# Output: /tmp/w/LABEL.out (the bench's report) and /tmp/w/LABEL.pages.
set -u
bin=$1; label=$2; stored=$3; clients=$4
: "${HARNESS:?set HARNESS to the intake bench executable}"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/w
BENCH_RELAY_BINARY=$bin "$HARNESS" --db sqlite --stored "$stored" --delivery on --latency-ms 0 \
  --clients "$clients" --runs 1 --seconds 10 > "/tmp/w/$label.out" 2>&1 &
bench=$!
# The run's copy of the seed: the newest intake-* folder holding a WAL.
for _ in $(seq 1 600); do
  db=$(ls -t /tmp/intake-*/relay.db 2>/dev/null | head -1)
  [ -n "$db" ] && [ -s "$db-wal" ] && break
  sleep 0.5
done
sleep 6
rm -rf "/tmp/w/$label" && mkdir -p "/tmp/w/$label"
cp "$db-wal" "/tmp/w/$label/relay.db-wal"
cp "$db" "/tmp/w/$label/relay.db"
wait $bench
python3 "$here/wal_pages.py" "/tmp/w/$label/relay.db" > "/tmp/w/$label.pages" 2>&1
rm -rf "/tmp/w/$label"
cat "/tmp/w/$label.pages"
