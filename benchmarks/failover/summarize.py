#!/usr/bin/python3
"""Summarizes a run of benchmarks/failover/run.sh as Markdown tables: usage: summarize.py OUT."""
import glob
import json
import os
import statistics
import sys

out = sys.argv[1]


def ms(values, pick):
    return f"{pick(values) * 1000:.0f}" if values else "-"


rounds = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, "*-*-[0-9]*.json")))]
print("| configuration | change | HAProxy agent-inter | rounds | promotion median ms | worst ms | demotion median ms | worst ms | write gap median ms | to a read-only node | errors | connections | Patroni tracebacks |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
groups = {}
for r in rounds:
    for name, v in r.items():
        if isinstance(v, dict):
            groups.setdefault((r["config"], r["kind"], name), []).append((v, r["tracebacks"]))
for (config, kind, name), items in sorted(groups.items()):
    values = [v for v, _ in items]
    conv = [v["convergence"] for v in values if v["convergence"] is not None]
    dem = [v["demotion"] for v in values if v["demotion"] is not None]
    gap = [v["write_gap"] for v in values if v["write_gap"] is not None]
    missed = len(values) - len(conv)
    print(f"| {config} | {kind} | {name.removeprefix('agent-')} | {len(values)}{f' ({missed} not reached)' if missed else ''} "
          f"| {ms(conv, statistics.median)} | {ms(conv, max)} | {ms(dem, statistics.median)} | {ms(dem, max)} | {ms(gap, statistics.median)} "
          f"| {sum(v['misrouted'] for v in values)} | {sum(v['errors'] for v in values)} | {sum(v['attempts'] for v in values)} "
          f"| {sum(t for _, t in items) // max(1, len([n for (c, k, n) in groups if c == config and k == kind]))} |")

print()
print("Idle footprint, per node, % of one core (CPU ticks over the measurement / seconds / 3 nodes):")
print()
print("| configuration | agent | Patroni (added) | PostgreSQL (added) | whole cost | Patroni + PostgreSQL without agents |")
print("| --- | --- | --- | --- | --- | --- |")
for path in sorted(glob.glob(os.path.join(out, "*-footprint-with-agents.json"))):
    config = os.path.basename(path).removesuffix("-footprint-with-agents.json")
    seconds = float(open(os.path.join(out, f"{config}-footprint-seconds")).read())
    with_agents = json.load(open(path))
    without = json.load(open(os.path.join(out, f"{config}-footprint-without-agents.json")))

    def pct(d, prefix):
        return sum(v for k, v in d.items() if k.startswith(prefix)) / seconds / 3  # ticks/s = % of a core at 100 ticks/s

    agent = pct(with_agents, "agent")
    patroni = pct(with_agents, "patroni") - pct(without, "patroni")
    postgres = pct(with_agents, "postgres") - pct(without, "postgres")
    print(f"| {config} | {agent:.2f} | {patroni:.2f} | {postgres:.2f} | **{agent + patroni + postgres:.2f}** | {pct(without, 'patroni') + pct(without, 'postgres'):.2f} |")
