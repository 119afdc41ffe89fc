#!/usr/bin/python3
"""Measures how long HAProxy takes to route writes to a new primary.

Two probes run side by side until the new primary is reached through HAProxy, or the time is up:
  direct  connects to the candidate itself until it accepts writes (pg_is_in_recovery() is false);
  routed  connects through HAProxy's read-write frontend, notes which server answered and whether
          that server was a read-only node (in recovery) at that moment.
Each attempt is a new connection, as a new client would make. Prints one JSON object:
  writable   seconds from the start until the candidate accepted writes directly
  routed     seconds from the start until a connection through HAProxy reached it as primary
  convergence  routed - writable
  misrouted  connections through HAProxy that reached a read-only node
  attempts   connections through HAProxy that reached any server
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
    parser.add_argument("--rw", default="127.0.0.1:5000", help="HAProxy read-write frontend")
    parser.add_argument("--duration", type=float, default=30.0, help="give up after this many seconds")
    parser.add_argument("--interval", type=float, default=0.002, help="pause between attempts, seconds")
    parser.add_argument("--ready-file", help="created once both probes run")
    args = parser.parse_args()
    rw_host, rw_port = args.rw.rsplit(":", 1)

    start = time.monotonic()
    deadline = start + args.duration
    result = {"writable": None, "routed": None, "convergence": None, "misrouted": 0, "attempts": 0, "errors": 0}
    done = threading.Event()

    def direct():
        while not done.is_set() and time.monotonic() < deadline:
            try:
                with connect(args.candidate, 5432, 1) as conn, conn.cursor() as cur:
                    cur.execute("select pg_is_in_recovery()")
                    if not cur.fetchone()[0]:
                        result["writable"] = time.monotonic() - start
                        return
                conn.close()
            except psycopg2.Error:
                pass
            time.sleep(args.interval)

    def routed():
        while time.monotonic() < deadline:
            try:
                conn = connect(rw_host, int(rw_port), 1)
                try:
                    with conn.cursor() as cur:
                        cur.execute("select host(inet_server_addr()), pg_is_in_recovery()")
                        server, in_recovery = cur.fetchone()
                finally:
                    conn.close()
                result["attempts"] += 1
                if in_recovery:
                    result["misrouted"] += 1
                elif server == args.candidate:
                    result["routed"] = time.monotonic() - start
                    done.set()
                    return
            except psycopg2.Error:
                result["errors"] += 1
            time.sleep(args.interval)
        done.set()

    threads = [threading.Thread(target=direct), threading.Thread(target=routed)]
    for t in threads:
        t.start()
    if args.ready_file:
        open(args.ready_file, "w").close()
    for t in threads:
        t.join()
    if result["writable"] is not None and result["routed"] is not None:
        result["convergence"] = result["routed"] - result["writable"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
