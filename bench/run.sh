#!/usr/bin/env bash
# Runs the benchmark in BENCHMARKS.md: a --release identityd on PostgreSQL
# and on SQLite, users seeded by identityd-bench, every scenario driven by
# identityd-bench with the server's CPU and RSS sampled.
#
#   bench/run.sh                  the full table, both databases (about 30 min)
#   bench/run.sh --smoke          a few scenarios for a second each (CI)
#   DBS=postgres bench/run.sh     one database only
#
# Settings (environment): DBS ("postgres sqlite"), DURATION (seconds per run,
# 10), SIZES (user counts for "how cost grows", "10000 100000 1000000"),
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), BCRYPT_COST (12),
# OUT (bench/results), PARTS ("table sizes": the scenario table, then "how cost
# grows"; "sizes" alone appends to an existing results.jsonl). Loopback only; the PostgreSQL database identityd_bench
# is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=false
[[ ${1:-} == --smoke ]] && SMOKE=true
DBS=${DBS:-postgres sqlite}
DURATION=${DURATION:-10}
SIZES=${SIZES:-10000 100000 1000000}
PARTS=${PARTS:-table sizes}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export BCRYPT_COST=${BCRYPT_COST:-12}
OUT=${OUT:-bench/results}
PORT=${PORT:-18180}
BASE=http://127.0.0.1:$PORT
ADMIN_EMAIL=bench-admin@identityd.test
ADMIN_PASSWORD='Bench-Admin-Pass-1!'
if $SMOKE; then
    DURATION=1 SIZES=200 BCRYPT_COST=4
    OUT=$(mktemp -d)
fi
mkdir -p "$OUT"

cargo build --release --locked -q --bin identityd --bin identityd-bench
SERVER_BIN=./target/release/identityd
BENCH=./target/release/identityd-bench
SERVER=
SQLITE_DIR=$(mktemp -d)

stop_server() {
    if [[ -n $SERVER ]]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
cleanup() {
    stop_server
    rm -rf "$SQLITE_DIR"
    if [[ $DBS == *postgres* ]]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS identityd_bench WITH (FORCE)" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

start_server() { # database url [extra VAR=value...]
    stop_server
    local url=$1
    shift
    env DATABASE_URL="$url" "$@" BIND_ADDRESS=127.0.0.1:$PORT LOG_LEVEL=warn RATELIMIT_ENABLED=false \
        CLEANUP_ENABLED=false ENVIRONMENT=development \
        FIRST_SUPERUSER_EMAIL="$ADMIN_EMAIL" FIRST_SUPERUSER_PASSWORD="$ADMIN_PASSWORD" \
        "$SERVER_BIN" >"$OUT/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 200); do
        if ! kill -0 "$SERVER" 2>/dev/null; then
            echo "the server exited (is port $PORT taken?); see $OUT/server.log" >&2
            exit 1
        fi
        curl -fso /dev/null "$BASE/health/ready" && return 0
        sleep 0.05
    done
    echo "server did not become ready; see $OUT/server.log" >&2
    exit 1
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }

# run LABEL ARGS...: one bench run, its JSON appended to results.jsonl.
run() {
    local label=$1
    shift
    echo "== $DB $label"
    local json status=0
    json=$("$BENCH" run --url "$BASE" --duration "$DURATION" --pid "$SERVER" --json "$@") || status=$?
    if [[ $status -ne 0 && $status -ne 3 ]]; then
        echo "identityd-bench failed ($status)" >&2
        exit 1
    fi
    printf '%s\n' "$json" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
r["db"], r["label"] = sys.argv[1], sys.argv[2]
print(json.dumps(r))
with open(sys.argv[3], "a") as f:
    f.write(json.dumps(r) + "\n")
' "$DB" "$label" "$OUT/results.jsonl" | python3 bench/summarize.py --line
    if $SMOKE && [[ $status -ne 0 ]]; then
        echo "errors in a smoke run" >&2
        exit 1
    fi
}

admin=(--admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD")
[[ $PARTS == *table* ]] && : >"$OUT/results.jsonl"
# The most logins per second the cores can verify, measured with nothing else running.
"$BENCH" bcrypt-ceiling --bcrypt-cost "$BCRYPT_COST" --duration "$( $SMOKE && echo 1 || echo 5 )" |
    python3 -c 'import json, sys; r = json.load(sys.stdin); r["db"] = "machine"; print(json.dumps(r))' |
    tee -a "$OUT/results.jsonl"
first_size=${SIZES%% *}

for DB in $DBS; do
    case $DB in
    postgres)
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS identityd_bench WITH (FORCE)" -c "CREATE DATABASE identityd_bench"
        URL=${PG_ADMIN_URL%/*}/identityd_bench
        ;;
    sqlite) URL=sqlite://$SQLITE_DIR/bench.db ;;
    *) echo "unknown database $DB" >&2 && exit 2 ;;
    esac
    "$BENCH" seed --database-url "$URL" --users "$first_size" --bcrypt-cost "$BCRYPT_COST"
    if [[ $PARTS == *table* ]]; then
        python3 bench/startup.py "$SERVER_BIN" "$URL" $((PORT + 1)) "$( $SMOKE && echo 2 || echo 7 )" |
            python3 -c 'import json, sys; r = json.load(sys.stdin); r["db"], r["label"] = sys.argv[1], "startup"; print(json.dumps(r))' "$DB" |
            tee -a "$OUT/results.jsonl"
        start_server "$URL"
        echo "{\"db\":\"$DB\",\"label\":\"rss_idle\",\"rss_kib\":$(rss_kib)}" >>"$OUT/results.jsonl"
    fi

    if $SMOKE; then
        run health --scenario health --connections 4
        run get_me --scenario get_me --connections 4
        run get_me_grpc --scenario get_me --transport grpc --connections 4
        run refresh --scenario refresh --connections 4
        run admin_list_users --scenario admin_list_users --connections 2 "${admin[@]}"
        run login_flood --scenario login_flood --connections 4
        start_server "$URL" AUTH_CACHE_TTL_MS=1000
        run get_me_cached --scenario get_me --connections 4
        continue
    fi

    if [[ $PARTS == *table* ]]; then
        run "health c64" --scenario health --connections 64
        for t in rest grpc; do
            run "get_me $t c64" --scenario get_me --transport $t --connections 64
            run "list_sessions $t c64" --scenario list_sessions --transport $t --connections 64
            run "refresh $t c16" --scenario refresh --transport $t --connections 16
            run "refresh $t c64" --scenario refresh --transport $t --connections 64
        done
        run "patch_me hot c16" --scenario patch_me --hot --connections 16
        run "patch_me hot c64" --scenario patch_me --hot --connections 64
        run "patch_me c16" --scenario patch_me --connections 16
        run "patch_me c64" --scenario patch_me --connections 64
        run "login c16" --scenario login --connections 16
        run "login c64" --scenario login --connections 64
        run "login grpc c64" --scenario login --transport grpc --connections 64
        run "mixed c64" --scenario mixed --connections 64
        run "login_flood c64" --scenario login_flood --connections 64
        echo "{\"db\":\"$DB\",\"label\":\"rss_after_load\",\"rss_kib\":$(rss_kib)}" >>"$OUT/results.jsonl"

        # The database's own ceilings for the same statements.
        if [[ $DB == postgres ]] && command -v pgbench >/dev/null; then
            stop_server # its connections count against max_connections
            bench/pgbench/run.sh "$URL" "$DURATION" | tee -a "$OUT/results.jsonl"
        fi

        # The same reads with the principal cache on (AUTH_CACHE_TTL_MS).
        start_server "$URL" AUTH_CACHE_TTL_MS=1000
        for t in rest grpc; do
            run "get_me $t c64, cache 1 s" --scenario get_me --transport $t --connections 64
            run "list_sessions $t c64, cache 1 s" --scenario list_sessions --transport $t --connections 64
        done
        run "mixed c64, cache 1 s" --scenario mixed --connections 64
    fi

    # How cost grows with the user table.
    for size in $SIZES; do
        [[ $PARTS == *sizes* ]] || break
        stop_server
        "$BENCH" seed --database-url "$URL" --users "$size" --bcrypt-cost "$BCRYPT_COST"
        start_server "$URL"
        run "get_me c64 @$size" --scenario get_me --connections 64
        run "admin_list_users c16 @$size" --scenario admin_list_users --connections 16 "${admin[@]}"
        run "admin_list_users c64 @$size" --scenario admin_list_users --connections 64 "${admin[@]}"
        run "admin_list_users grpc c16 @$size" --scenario admin_list_users --transport grpc --connections 16 "${admin[@]}"
        run "admin_search c16 @$size" --scenario admin_list_users --search "lovelace" --connections 16 "${admin[@]}"
        echo "{\"db\":\"$DB\",\"label\":\"rss_after_load @$size\",\"rss_kib\":$(rss_kib)}" >>"$OUT/results.jsonl"
    done
    stop_server
done

python3 bench/summarize.py "$OUT/results.jsonl" >"$OUT/summary.md"
echo "results: $OUT/results.jsonl, tables: $OUT/summary.md"
