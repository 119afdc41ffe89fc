#!/usr/bin/python3
"""Summarizes the results of benchmarks/failover/run.sh (a folder of JSON rounds and load.txt) as Markdown."""
import glob
import json
import os
import re
import statistics
import sys


def main(folder):
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "poll-*-round-*.json"))):
        poll = re.search(r"poll-(.+)-round-", os.path.basename(path)).group(1)
        with open(path) as f:
            result = json.load(f)
        for name, frontend in result.items():
            if name == "writable":
                continue
            runs.setdefault((poll, name), []).append(frontend)

    print("## Switchovers\n")
    print("| agent poll | HAProxy config | rounds | routed | convergence median | worst | misrouted | connections |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (poll, name), rounds in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
        convergence = [r["convergence"] for r in rounds if r["convergence"] is not None]
        median = f"{statistics.median(convergence) * 1000:.0f} ms" if convergence else "-"
        worst = f"{max(convergence) * 1000:.0f} ms" if convergence else "-"
        print(f"| {poll} | {name} | {len(rounds)} | {len(convergence)} | {median} | {worst} | "
              f"{sum(r['misrouted'] for r in rounds)} | {sum(r['attempts'] for r in rounds)} |")

    load = os.path.join(folder, "load.txt")
    if os.path.exists(load):
        print("\n## Patroni REST requests per second on one node\n")
        print("| HAProxy instances | checks through patroni-agent | Patroni template (checks Patroni) |")
        print("| --- | --- | --- |")
        with open(load) as f:
            next(f)
            for line in f:
                n, agent, direct = line.split()
                print(f"| {n} | {agent} | {direct} |")


if __name__ == "__main__":
    main(sys.argv[1])
