#!/usr/bin/env bash
# identityd over grpc-web in a real browser (the README, "Browser test").
#
# Installs the npm packages (npm ci, pinned by package-lock.json), generates the
# TypeScript stubs from proto/ with buf and protoc-gen-es, type-checks and
# bundles the page with esbuild, starts identityd on SQLite in a temporary
# directory and the page's static server on two free loopback ports, and runs
# test.mjs in headless Chromium. Everything it started is stopped on exit.
#
# Environment:
#   IDENTITYD_BIN  server binary to test; unset: cargo build --release, then
#                  target/release/identityd
#   CHROMIUM       browser binary (default /usr/bin/chromium, Debian's chromium)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

log() { printf '[browser] %s\n' "$*"; }
die() { printf '[browser] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is required (Node.js 20 or later)"
command -v npm >/dev/null 2>&1 || die "npm is required"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || die "no browser at $chromium: install Debian's chromium (apt-get install chromium)"

# npm packages, reinstalled when node_modules is missing or the lock changed.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -d node_modules ] || [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_hash" > node_modules/.lock-hash
fi
export PATH="$here/node_modules/.bin:$PATH"

log "generate stubs from proto/ (buf $(buf --version), protoc-gen-es)"
buf generate
log "type-check and bundle the page"
tsc --noEmit -p .
esbuild src/app.ts --bundle --format=esm --target=es2022 --sourcemap \
    --outfile=dist/app.js --log-level=warning

if [ -n "${IDENTITYD_BIN:-}" ]; then
    bin="$IDENTITYD_BIN"
else
    log "cargo build --release"
    (cd "$root" && cargo build --release --locked -q --bin identityd)
    bin="$root/target/release/identityd"
fi
[ -x "$bin" ] || die "no server binary at $bin"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/identityd-browser.XXXXXX")"
server_pid=""
page_pid=""
stop() {
    local pid
    for pid in "$@"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
cleanup() {
    local status=$?
    stop "$page_pid" "$server_pid"
    if [ "$status" -ne 0 ] && [ -s "$tmp/server.log" ]; then
        printf '[browser] last lines of the server log:\n' >&2
        tail -n 40 "$tmp/server.log" >&2
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two free loopback ports: identityd, and the page.
read -r server_port page_port < <(node -e '
const net = require("node:net");
const a = net.createServer().listen(0, "127.0.0.1", () => {
  const b = net.createServer().listen(0, "127.0.0.1", () => {
    console.log(a.address().port, b.address().port);
    a.close(); b.close();
  });
});')
server_origin="http://127.0.0.1:$server_port"
page_origin="http://127.0.0.1:$page_port"

# A clean environment and a working directory of its own, so no .env file or
# exported setting of the caller's changes the server under test.
log "identityd ($bin) on $server_origin, CORS origin $page_origin"
(
    cd "$tmp"
    exec env -i PATH="$PATH" HOME="$tmp" \
        DATABASE_URL="sqlite://$tmp/db.sqlite" \
        BIND_ADDRESS="127.0.0.1:$server_port" \
        BACKEND_CORS_ORIGINS="[\"$page_origin\"]" \
        ENVIRONMENT=development \
        LOG_LEVEL=warn \
        BCRYPT_COST=4 \
        "$bin"
) >"$tmp/server.log" 2>&1 &
server_pid=$!

log "page server on $page_origin (also reachable as http://localhost:$page_port)"
node "$here/serve.mjs" "$page_port" >"$tmp/page.log" 2>&1 &
page_pid=$!

ready=""
for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2>/dev/null || die "identityd exited before it was ready"
    kill -0 "$page_pid" 2>/dev/null || die "the page server exited: $(cat "$tmp/page.log")"
    if grep -q '^listening' "$tmp/page.log" && node -e '
        fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
    ' "$server_origin/health/ready"; then
        ready=1
        break
    fi
    sleep 0.2
done
[ -n "$ready" ] || die "identityd was not ready on $server_origin/health/ready within a minute"

log "Chromium: $("$chromium" --version 2>/dev/null || echo "$chromium")"
IDENTITYD_ORIGIN="$server_origin" PAGE_PORT="$page_port" CHROMIUM="$chromium" \
    timeout 300 node --test-reporter=spec test.mjs
