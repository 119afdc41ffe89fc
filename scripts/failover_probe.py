#!/usr/bin/python3
"""Measures how long HAProxy takes to route writes to a new primary.

Probes run side by side until the new primary is reached through every frontend, or the time is up:
  direct  connects to the candidate itself until it accepts writes (pg_is_in_recovery() is false);
  routed  one per read-write frontend (--rw, repeatable): connects through it, notes which server
          answered and whether that server was a read-only node (in recovery) at that moment.
Each attempt is a new connection, as a new client would make. Prints one JSON object with
"writable" (seconds from the start until the candidate accepted writes directly) and, per
frontend name, or at the top level when there is a single unnamed frontend:
  routed       seconds from the start until a connection through it reached the candidate as primary
  convergence  routed - writable
  misrouted    connections through it that reached a read-only node, until --settle after "routed"
  attempts     connections through it that reached any server
"""
import argparse
import json
import threading
import time

import psycopg2


def connect(host, port, timeout):
    return psycopg2.connect(host=host, port=port, user="postgres", password="postgres",
                            dbname="postgres", connect_timeout=timeout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidate", required=True, help="address of the node that becomes primary")
    parser.add_argument("--rw", action="append", help="[NAME=]HOST:PORT of a read-write frontend (default 127.0.0.1:5000)")
    parser.add_argument("--duration", type=float, default=30.0, help="give up after this many seconds")
    parser.add_argument("--interval", type=float, default=0.002, help="pause between attempts, seconds")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="go on counting misrouted connections this long after the candidate was reached")
    parser.add_argument("--ready-file", help="created once the probes run")
    args = parser.parse_args()
    frontends = [f.split("=", 1) if "=" in f else ["", f] for f in (args.rw or ["127.0.0.1:5000"])]

    start = time.monotonic()
    deadline = start + args.duration
    writable = {}
    results = {name: {"routed": None, "convergence": None, "misrouted": 0, "attempts": 0, "errors": 0}
               for name, _ in frontends}
    pending = threading.Semaphore(0)

    def direct():
        while time.monotonic() < deadline and len(writable) == 0:
            try:
                conn = connect(args.candidate, 5432, 1)
                try:
                    with conn.cursor() as cur:
                        cur.execute("select pg_is_in_recovery()")
                        if not cur.fetchone()[0]:
                            writable["at"] = time.monotonic() - start
                finally:
                    conn.close()
            except psycopg2.Error:
                pass
            time.sleep(args.interval)

    def routed(name, address):
        host, port = address.rsplit(":", 1)
        result = results[name]
        stop = deadline
        while time.monotonic() < stop:
            try:
                conn = connect(host, int(port), 1)
                try:
                    with conn.cursor() as cur:
                        cur.execute("select host(inet_server_addr()), pg_is_in_recovery()")
                        server, in_recovery = cur.fetchone()
                finally:
                    conn.close()
                result["attempts"] += 1
                if in_recovery:
                    result["misrouted"] += 1
                elif server == args.candidate and result["routed"] is None:
                    result["routed"] = time.monotonic() - start
                    stop = min(deadline, time.monotonic() + args.settle)
            except psycopg2.Error:
                result["errors"] += 1
            time.sleep(args.interval)

    threads = [threading.Thread(target=direct)] + [threading.Thread(target=routed, args=f) for f in frontends]
    for t in threads:
        t.start()
    if args.ready_file:
        open(args.ready_file, "w").close()
    for t in threads:
        t.join()
    for result in results.values():
        if "at" in writable and result["routed"] is not None:
            result["convergence"] = result["routed"] - writable["at"]
    output = {"writable": writable.get("at")}
    if len(frontends) == 1 and frontends[0][0] == "":
        output.update(results[""])
    else:
        output.update(results)
    print(json.dumps(output))


if __name__ == "__main__":
    main()
