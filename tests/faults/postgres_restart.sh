#!/usr/bin/env bash
# A real PostgreSQL restart under load (docs/testing.md, "Attacks and
# faults"). Starts identityd on a fresh database of the local cluster, runs
# readers and a writer against it, restarts the cluster in the middle, and
# fails unless every answer was 200 or 503 SYS_006 (no 500, no hang, no
# transport error), some were 503, the server recovered by itself, and the
# last acknowledged write is stored.
#
#   tests/faults/postgres_restart.sh [IDENTITYD_BINARY]
#
# It restarts the whole cluster: run it where nothing else uses it (CI runs it
# between its steps). PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres)
# and PG_RESTART (a command; default: Debian's pg_ctlcluster) adapt it.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=$(realpath "${1:-target/release/identityd}")
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_RESTART=${PG_RESTART:-"pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql 2>/dev/null | head -1) main restart"}
db=identityd_restart_$$
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
server=

cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    for _ in $(seq 30); do pg_isready -q -d "$PG_ADMIN_URL" && break; sleep 1; done
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db"
(cd "$tmp" && exec env -i PATH="$PATH" DATABASE_URL="${PG_ADMIN_URL%/*}/$db" \
    BIND_ADDRESS="127.0.0.1:$port" LOG_LEVEL=warn RATELIMIT_ENABLED=false BCRYPT_COST=4 \
    DB_POOL_TIMEOUT=3 ENVIRONMENT=development "$bin") >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/health/ready" && break; sleep 0.1; done

python3 - "http://127.0.0.1:$port" >"$tmp/load.json" <<'PY' &
import json, sys, threading, time, urllib.error, urllib.request

base = sys.argv[1]

def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")

user = {"email": "restart@example.com", "password": "Correct-Horse-42!", "first_name": "R"}
call("POST", "/api/v1/auth/register", user)
_, token = call("POST", "/api/v1/auth/login", {"email": user["email"], "password": user["password"]})
token = token["access_token"]
end = time.time() + 8
answers, problems = {}, []
lock = threading.Lock()

def note(status, body, what):
    with lock:
        answers[status] = answers.get(status, 0) + 1
        code = (body or {}).get("errors", [{}])[0].get("code") if status != 200 else None
        if status not in (200, 503) or (status == 503 and code != "SYS_006"):
            problems.append(f"{what}: {status} {body}")

def reader():
    while time.time() < end:
        try:
            status, body = call("GET", "/api/v1/users/me", token=token)
            note(status, body, "read")
        except Exception as error:  # a transport error or a hang
            problems.append(f"read: {error!r}")

attempted, acknowledged = [], None

def writer():
    global acknowledged
    n = 0
    while time.time() < end:
        n += 1
        attempted.append(f"Version{n}")
        try:
            status, body = call("PATCH", "/api/v1/users/me", {"first_name": attempted[-1]}, token)
            note(status, body, "write")
            if status == 200:
                acknowledged = len(attempted) - 1
        except Exception as error:
            problems.append(f"write: {error!r}")

threads = [threading.Thread(target=reader) for _ in range(6)] + [threading.Thread(target=writer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
status, me = call("GET", "/api/v1/users/me", token=token)
stored = me.get("first_name") if status == 200 else None
if status != 200:
    problems.append(f"no recovery: {status} {me}")
elif acknowledged is None or stored not in attempted[acknowledged:]:
    problems.append(f"stored {stored!r}, last acknowledged {attempted[acknowledged] if acknowledged is not None else None!r}")
if answers.get(503, 0) == 0:
    problems.append("no request noticed the restart")
print(json.dumps({"answers": answers, "writes": len(attempted), "stored": stored, "problems": problems[:20]}))
sys.exit(1 if problems else 0)
PY
load=$!
sleep 2
echo "restarting PostgreSQL: $PG_RESTART"
$PG_RESTART
status=0
wait "$load" || status=$?
cat "$tmp/load.json"
if [[ $status -ne 0 ]]; then
    echo "postgres_restart: failed; server log:" >&2
    tail -n 30 "$tmp/server.log" >&2
    exit 1
fi
if grep -q "panicked" "$tmp/server.log"; then
    echo "postgres_restart: the server panicked" >&2
    exit 1
fi
echo "postgres_restart: ok"
