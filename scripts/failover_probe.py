#!/usr/bin/python3
"""Measures how long HAProxy takes to route writes to a new primary.

Every --interval a new connection attempt starts, without waiting for the earlier ones (a client
caught in HAProxy's retries towards a dying server must not hide the moment routing changes):
  direct  to the candidate itself, asking whether it accepts writes (pg_is_in_recovery() false);
  routed  through each read-write frontend (--rw, repeatable), noting which server answered and
          whether that server was a read-only node (in recovery) at that moment.
A moment is when an attempt completed. Prints one JSON object with "writable" (seconds from the
start until the candidate first accepted writes directly) and, per frontend name, or at the top
level when there is a single unnamed frontend:
  routed       seconds from the start until a connection through it first reached the candidate as primary
  convergence  routed - writable
  misrouted    connections through it that reached a read-only node, until --settle after "routed"
  attempts     connections through it that reached any server
  errors       attempts that failed (refused, reset or timed out while no server was available)
"""
import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2


def connect(host, port, timeout):
    return psycopg2.connect(host=host, port=port, user="postgres", password="postgres",
                            dbname="postgres", connect_timeout=timeout)


def ask(host, port, sql):
    conn = connect(host, port, 2)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidate", required=True, help="address of the node that becomes primary")
    parser.add_argument("--rw", action="append", help="[NAME=]HOST:PORT of a read-write frontend (default 127.0.0.1:5000)")
    parser.add_argument("--duration", type=float, default=30.0, help="give up after this many seconds")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between attempts, per target")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="go on counting misrouted connections this long after the candidate was reached")
    parser.add_argument("--ready-file", help="created once the probes run")
    args = parser.parse_args()
    frontends = [f.split("=", 1) if "=" in f else ["", f] for f in (args.rw or ["127.0.0.1:5000"])]

    start = time.monotonic()
    deadline = start + args.duration
    lock = threading.Lock()
    writable = []
    results = {name: {"routed": None, "convergence": None, "misrouted": 0, "attempts": 0, "errors": 0}
               for name, _ in frontends}
    stops = {name: deadline for name, _ in frontends}

    def direct_attempt():
        try:
            (in_recovery,) = ask(args.candidate, 5432, "select pg_is_in_recovery()")
        except psycopg2.Error:
            return
        if not in_recovery:
            with lock:
                writable.append(time.monotonic() - start)

    def routed_attempt(name, host, port):
        result = results[name]
        try:
            server, in_recovery = ask(host, port, "select host(inet_server_addr()), pg_is_in_recovery()")
        except psycopg2.Error:
            with lock:
                result["errors"] += 1
            return
        now = time.monotonic()
        with lock:
            if now > stops[name]:
                return
            result["attempts"] += 1
            if in_recovery:
                result["misrouted"] += 1
            elif server == args.candidate and (result["routed"] is None or now - start < result["routed"]):
                if result["routed"] is None:
                    stops[name] = min(deadline, now + args.settle)
                result["routed"] = now - start

    def launcher(attempt, target, until):
        # A pool per target: attempts held up in one frontend's retries must not delay another's.
        with ThreadPoolExecutor(max_workers=64) as pool:
            while time.monotonic() < until():
                pool.submit(attempt, *target)
                time.sleep(args.interval)

    threads = [threading.Thread(target=launcher, args=(direct_attempt, (), lambda: deadline if not writable else 0))]
    for name, address in frontends:
        host, port = address.rsplit(":", 1)
        threads.append(threading.Thread(target=launcher,
                                        args=(routed_attempt, (name, host, int(port)), lambda n=name: stops[n])))
    for t in threads:
        t.start()
    if args.ready_file:
        open(args.ready_file, "w").close()
    for t in threads:
        t.join()

    first_writable = min(writable) if writable else None
    for result in results.values():
        if first_writable is not None and result["routed"] is not None:
            result["convergence"] = result["routed"] - first_writable
    output = {"writable": first_writable}
    if len(frontends) == 1 and frontends[0][0] == "":
        output.update(results[""])
    else:
        output.update(results)
    print(json.dumps(output))


if __name__ == "__main__":
    main()
