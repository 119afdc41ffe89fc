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


rounds = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, "*-*-[0-9]*.json"))) if "-footprint-" not in f]
print("Promotion: from the new primary's first accepted write until HAProxy put it in (its view, read every 5 ms)")
print("and until the first connection through it reached it (one every 20 ms); demotion: from the old primary's")
print("last accepted write until HAProxy took it out. Milliseconds, median and worst of the rounds.")
print()
print("| configuration | change | read-write agent-inter | rounds | promotion, HAProxy | promotion, first connection | demotion | write gap median | to a read-only node | failed connections | connections | Patroni request tracebacks (all) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
groups = {}
for r in rounds:
    for name, v in r.items():
        if isinstance(v, dict):
            groups.setdefault((r["config"], r["kind"], name), []).append(v)
for (config, kind, name), values in sorted(groups.items()):
    same = [r for r in rounds if r["config"] == config and r["kind"] == kind]
    conv = [v["convergence"] for v in values if v["convergence"] is not None]
    state = [v["haproxy_convergence"] for v in values if v.get("haproxy_convergence") is not None]
    dem = [v["demotion"] for v in values if v["demotion"] is not None]
    gap = [v["write_gap"] for v in values if v["write_gap"] is not None]
    missed = len(values) - len(conv)
    print(f"| {config} | {kind} | {name.removeprefix('agent-')} | {len(values)}{f' ({missed} not reached)' if missed else ''} "
          f"| {ms(state, statistics.median)} / {ms(state, max)} | {ms(conv, statistics.median)} / {ms(conv, max)} "
          f"| {ms(dem, statistics.median)} / {ms(dem, max)} | {ms(gap, statistics.median)} "
          f"| {sum(v['misrouted'] for v in values)} | {sum(v['errors'] for v in values)} | {sum(v['attempts'] for v in values)} "
          f"| {sum(r['tracebacks'] for r in same)} ({sum(r.get('all_tracebacks', r['tracebacks']) for r in same)}) |")

print()
print("Idle footprint, per node, % of one core: CPU ticks (100 a second) over a round / its seconds / 3 nodes;")
print("with the agents running, then stopped; median of the rounds (each round's figure in brackets).")
print()
print("| configuration | agent | Patroni (added) | PostgreSQL (added) | whole cost | Patroni + PostgreSQL without agents |")
print("| --- | --- | --- | --- | --- | --- |")
for seconds_file in sorted(glob.glob(os.path.join(out, "*-footprint-seconds"))):
    config = os.path.basename(seconds_file).removesuffix("-footprint-seconds")
    seconds = float(open(seconds_file).read())
    rows = []
    for path in sorted(glob.glob(os.path.join(out, f"{config}-footprint-with-agents-*.json"))):
        round_ = path.rsplit("-", 1)[1]
        with_agents = json.load(open(path))
        without = json.load(open(os.path.join(out, f"{config}-footprint-without-agents-{round_}")))

        def pct(d, prefix):
            return sum(v for k, v in d.items() if k.startswith(prefix)) / seconds / 3

        agent = pct(with_agents, "agent")
        patroni = pct(with_agents, "patroni") - pct(without, "patroni")
        postgres = pct(with_agents, "postgres") - pct(without, "postgres")
        rows.append((agent, patroni, postgres, agent + patroni + postgres, pct(without, "patroni") + pct(without, "postgres")))

    def cell(i, bold=False):
        values = [r[i] for r in rows]
        text = f"{statistics.median(values):.2f}"
        return (f"**{text}**" if bold else text) + " (" + ", ".join(f"{v:.2f}" for v in values) + ")"

    print(f"| {config} | {cell(0)} | {cell(1)} | {cell(2)} | {cell(3, True)} | {cell(4)} |")
