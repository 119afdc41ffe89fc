#!/usr/bin/python3
"""CPU used by groups of process trees over a time, in clock ticks (100 per second).

Usage: footprint.py SECONDS NAME=PID[,PID...] ...
Prints one JSON object: ticks per NAME. A tree is the process and all its descendants; each
process counts utime + stime + cutime + cstime (/proc/PID/stat), so the children that end during the
measurement count through their parent, and the work of one still running at the start is counted
from the start only.
"""
import json
import os
import sys
import time


def processes():
    """pid -> (ppid, ticks) of every process now."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # Fields from the third (state): ppid is the 4th of stat, utime..cstime the 14th to 17th.
        found[int(entry)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    return found


def tree_ticks(roots, table):
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total


def main():
    seconds = float(sys.argv[1])
    groups = {}
    for arg in sys.argv[2:]:
        name, pids = arg.split("=", 1)
        groups[name] = [int(p) for p in pids.split(",") if p]
    before = processes()
    time.sleep(seconds)
    after = processes()
    print(json.dumps({name: tree_ticks(pids, after) - tree_ticks(pids, before) for name, pids in groups.items()}))


if __name__ == "__main__":
    main()
