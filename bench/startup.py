"""Restart to ready: how long a --release identityd takes from exec to a 200
from /health/ready on an existing database (migrations already applied).

    python3 bench/startup.py BINARY DATABASE_URL [PORT] [RUNS]

Prints one JSON object: every run in milliseconds and the median.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

binary, url = sys.argv[1], sys.argv[2]
port = sys.argv[3] if len(sys.argv) > 3 else "18181"
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 7
env = dict(os.environ, DATABASE_URL=url, BIND_ADDRESS=f"127.0.0.1:{port}", LOG_LEVEL="warn",
           CLEANUP_ENABLED="false")


def once():
    started = time.monotonic()
    server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if server.poll() is not None:
                sys.exit(f"identityd exited with {server.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return (time.monotonic() - started) * 1000
            except OSError:
                time.sleep(0.002)
    finally:
        server.terminate()
        server.wait()


once()  # the database exists and is migrated from here on
times = sorted(round(once(), 1) for _ in range(runs))
print(json.dumps({"startup_ms": times, "median_ms": statistics.median(times)}))
