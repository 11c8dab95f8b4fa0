#!/usr/bin/env bash
# The database's own ceilings for what identityd asks of it (BENCHMARKS.md,
# "Limits"): pgbench runs the statements behind get_me, patch_me and the
# admin list with nothing else in the way.
#
#   bench/pgbench/run.sh DATABASE_URL [SECONDS]
#
# The database must hold the bench users (identityd-bench seed) and some
# sessions; a helper table bench_session_ids is created and dropped.
set -euo pipefail
cd "$(dirname "$0")"
URL=$1
SECONDS_EACH=${2:-10}
psql "$URL" -qc "DROP TABLE IF EXISTS bench_session_ids" \
    -c "CREATE TABLE bench_session_ids AS SELECT row_number() OVER () AS n, id FROM user_sessions" \
    -c "CREATE UNIQUE INDEX ON bench_session_ids (n)" -c "ANALYZE bench_session_ids"
sessions=$(psql "$URL" -Atc "SELECT count(*) FROM bench_session_ids")
trap 'psql "$URL" -qc "DROP TABLE IF EXISTS bench_session_ids"' EXIT

# pgbench LABEL SCRIPT CLIENTS [extra options]: one JSON line.
bench() {
    local label=$1 script=$2 clients=$3
    shift 3
    local out
    if ! out=$(pgbench -n -M prepared -T "$SECONDS_EACH" -c "$clients" -j 2 -D sessions="$sessions" \
        -f "$script" "$@" "$URL" 2>&1); then
        echo "pgbench $label with $clients clients failed: $out" >&2
        return 0
    fi
    local tps latency
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    latency=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
    printf '{"db":"postgres","label":"%s","pgbench_clients":%s,"tps":%s,"latency_avg_ms":%s}\n' \
        "$label" "$clients" "${tps:-0}" "${latency:-0}"
}

for c in 16 64; do
    bench "pgbench: session + user lookup" read_principal.sql $c
    bench "pgbench: update own row, commit" write_own_row.sql $c
    bench "pgbench: update one hot row, commit" write_hot_row.sql $c
    bench "pgbench: admin page (session, counts, page)" admin_page.sql $c
done
# The same writes without waiting for the WAL flush: what fsync costs.
PGOPTIONS="-c synchronous_commit=off" bench "pgbench: update own row, synchronous_commit=off" write_own_row.sql 16
