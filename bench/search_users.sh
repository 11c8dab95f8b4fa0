#!/usr/bin/env bash
# Benchmark: user search at a million users on PostgreSQL, through the real
# REST API of a --release build (GET /api/v1/admin/users?search=...), plus the
# query plan that shows the pg_trgm indexes at work.
#
#   bench/search_users.sh [ADMIN_URL]     default postgres://postgres@127.0.0.1:5432/postgres
#
# Loopback only; creates (and finally drops) the database identityd_bench.
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${1:-postgres://postgres@127.0.0.1:5432/postgres}
USERS=${USERS:-1000000}
RUNS=${RUNS:-30}
PORT=${PORT:-18080}
DB=identityd_bench
DB_URL=${ADMIN_URL%/*}/$DB
PASSWORD='Bench-Admin-Pass-1!'

psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT

cargo build --release --locked -q
export DATABASE_URL=$DB_URL FIRST_SUPERUSER_EMAIL=bench@identityd.test FIRST_SUPERUSER_PASSWORD=$PASSWORD
export BIND_ADDRESS=127.0.0.1:$PORT LOG_LEVEL=warn RATELIMIT_ENABLED=false
./target/release/identityd migrate

echo "seeding $USERS users..."
time psql "$DB_URL" -q <<SQL
INSERT INTO users (id, email, password_hash, first_name, last_name, is_active, is_superuser,
                   preferences, created_at, updated_at)
SELECT gen_random_uuid(), 'user' || i || '@' || (ARRAY['example.com','corp.test','mail.test'])[1 + i % 3],
       NULL, (ARRAY['Ada','Grace','Linus','Barbara','Ken','Margaret','Dennis','Frances'])[1 + i % 8] || i % 997,
       (ARRAY['Lovelace','Hopper','Torvalds','Liskov','Thompson','Hamilton','Ritchie','Allen'])[1 + i % 8],
       i % 10 <> 0, false, '{}', now() - i * interval '1 second', now() - i * interval '1 second'
FROM generate_series(1, $USERS) AS i;
ANALYZE users;
SQL

./target/release/identityd &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"bench@identityd.test\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

measure() {
    local label=$1 query=$2
    local times=()
    for _ in $(seq 1 "$RUNS"); do
        times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "authorization: Bearer $TOKEN" \
            "http://127.0.0.1:$PORT/api/v1/admin/users?$query")")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" '
        { t[NR] = $1 * 1000 }
        END { printf "%-34s median %7.1f ms   p95 %7.1f ms   (n=%d)\n", label, t[int(NR/2)+1], t[int(NR*0.95)], NR }'
}

echo
echo "GET /api/v1/admin/users over $USERS users, $RUNS runs each:"
measure "first page, no search" "limit=20"
measure "search=hopper (1 in 8 match)" "search=hopper&limit=20"
measure "search=user123456 (rare)" "search=user123456&limit=20"
measure "search=grace99 sort by email" "search=grace99&sort_by=email&limit=20"
measure "search=nobody-matches" "search=nobody-matches&limit=20"

echo
echo "plan of the rare search:"
psql "$DB_URL" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM users WHERE deleted_at IS NULL
  AND (lower(email) LIKE '%user123456%' OR lower(first_name) LIKE '%user123456%' OR lower(last_name) LIKE '%user123456%')"
