#!/usr/bin/env python3
"""Turns identityd-bench JSON results into Markdown tables (BENCHMARKS.md).

    summarize.py results.jsonl      one table per database
    summarize.py --line < one.json  a one-line summary of a single run
"""
import json
import sys


def errors(group):
    return sum(group["errors"].values()) if group else 0


def error_text(group):
    shed = group.get("shed", 0) if group else 0
    shed_text = f" (+{shed:,} shed with 429)" if shed else ""
    if not group or not group["errors"]:
        return "0" + shed_text
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(group["errors"].items()))
    return f"**{errors(group)}** ({detail}){shed_text}"


def cells(r, group):
    lat = group["latency_ms"]
    cpu = r.get("server_cpu_cores")
    rss = r.get("server_peak_rss_mib")
    return [
        f"{group['rps']:,.0f}",
        f"{lat['p50']:.2f}",
        f"{lat['p99']:.2f}",
        f"{lat['p999']:.2f}",
        error_text(group),
        "-" if cpu is None else f"{cpu * 100:.0f} %",
        "-" if rss is None else f"{rss:.1f}",
    ]


def rows(r):
    """(label, cells) for one run; login_flood gives two rows."""
    if r.get("load"):
        yield f"{r['label']}: get_me (measured)", cells(r, r["measured"])
        yield f"{r['label']}: login (load)", cells(r, r["load"])
    else:
        yield r["label"], cells(r, r["measured"])


def line():
    r = json.loads(sys.stdin.read())
    for label, c in rows(r):
        print(
            f"   {label}: {c[0]} req/s, p50 {c[1]} ms, p99 {c[2]} ms, p99.9 {c[3]} ms, "
            f"errors {c[4]}, server CPU {c[5]}, peak RSS {c[6]} MiB"
        )


def table(path):
    results = [json.loads(l) for l in open(path) if l.strip()]
    header = "| run | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU | peak RSS MiB |"
    for db in dict.fromkeys(r["db"] for r in results):
        print(f"\n### {db}\n")
        print(header)
        print("|---|---:|---:|---:|---:|---|---:|---:|")
        for r in results:
            if r["db"] != db:
                continue
            if "rss_kib" in r:
                print(f"| {r['label']} | | | | | | | {r['rss_kib'] / 1024:.1f} |")
                continue
            if "median_ms" in r:
                print(f"| {r['label']}: restart to ready, median of {len(r['startup_ms'])} | | {r['median_ms']:.0f} | | | | | |")
                continue
            if "tps" in r:
                print(f"| {r['label']}, {r['pgbench_clients']} clients | {r['tps']:,.0f} | | | | | | |")
                continue
            if "verifications_per_second" in r:
                print(f"| {r['label']}: bcrypt cost {r['cost']} on {r['cores']} cores (logins/s) | {r['verifications_per_second']:.1f} | | | | | | |")
                continue
            for label, c in rows(r):
                print("| " + " | ".join([label] + c) + " |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--line"]:
        line()
    else:
        table(sys.argv[1])
