#!/usr/bin/python3
"""Measures how long HAProxy takes to follow a change of primary, at a client's ordinary rate.

Three kinds of probe run side by side until --duration, or until every frontend has routed to the
new primary and --settle has passed since:
  direct   one session on each candidate (--candidate, repeatable: in a failover Patroni picks one)
           and one on the old primary, each asking pg_is_in_recovery() every --direct-interval:
           when a candidate first accepted writes (the first to do so is the new primary), and when
           the old primary stopped (its session ended or it went into recovery);
  routed   per read-write frontend (--rw), a new connection every --interval, at most
           --in-flight of them at once (a client caught in HAProxy's retries towards a dying
           server must not hold the next one up, nor pile up): which server answered, and whether
           it was in recovery;
  haproxy  per frontend with a stats socket (--stats), HAProxy's own view every
           --direct-interval: when it took the old primary out and put a candidate in.
A moment is when an attempt started. Prints one JSON object: "started_at" (the start as a Unix
time), "primary" (the new primary's address), "writable" and "old_stopped" (seconds from the
start), and per frontend name (or at the top level for a single unnamed one):
  routed       seconds until a connection through it first reached the new primary as primary
  convergence  routed - writable: HAProxy following the promotion, as a client sees it (one
               connection every --interval: on average half of it late)
  haproxy_convergence  (with --stats) HAProxy putting the new primary in (its server UP, not in
               maintenance) - writable: the same, read from HAProxy every --direct-interval
  demotion     (with --stats) HAProxy taking the old primary out - old_stopped
  write_gap    routed - the start of the last connection that wrote on the old primary
  misrouted    connections through it that reached a read-only node, until --settle after "routed"
  attempts     connections through it that reached any server
  errors       attempts that failed (the old primary shutting down, no server, timeouts)
"""
import argparse
import json
import socket
import threading
import time

import psycopg2


def connect(host, port, timeout):
    return psycopg2.connect(host=host, port=port, user="postgres", password="postgres",
                            dbname="postgres", connect_timeout=timeout)


def haproxy_view(path, backend):
    """Server name -> operational state, from HAProxy's runtime API ("show servers state")."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1)
        s.connect(path)
        s.sendall(f"show servers state {backend}\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    view = {}
    for line in data.decode().splitlines()[1:]:
        fields = line.split()
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...: op_state 2 is running,
        # admin_state bits other than 0x4 (the configuration's "disabled", kept after the agent's ready) a maintenance or drain.
        if len(fields) > 6 and not line.startswith("#"):
            view[fields[3]] = fields[5] == "2" and int(fields[6]) & ~0x4 == 0
    return view


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidate", action="append", required=True, help="address of a node that may become primary")
    parser.add_argument("--old", help="address of the primary before the change")
    parser.add_argument("--rw", action="append", help="[NAME=]HOST:PORT of a read-write frontend (default 127.0.0.1:5000)")
    parser.add_argument("--stats", action="append", default=[],
                        help="NAME=SOCKET:BACKEND, HAProxy's stats socket and read-write backend of frontend NAME")
    parser.add_argument("--duration", type=float, default=30.0, help="give up after this many seconds")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between routed connections, per frontend")
    parser.add_argument("--in-flight", type=int, default=64, help="routed connections under way at most, per frontend")
    parser.add_argument("--direct-interval", type=float, default=0.005, help="seconds between direct and HAProxy reads")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="go on counting misrouted connections this long after the candidate was reached")
    parser.add_argument("--ready-file", help="created once the probes run")
    args = parser.parse_args()
    frontends = [f.split("=", 1) if "=" in f else ["", f] for f in (args.rw or ["127.0.0.1:5000"])]
    stats = {}
    for entry in args.stats:
        name, rest = entry.split("=", 1)
        path, backend = rest.rsplit(":", 1)
        stats[name] = (path, backend)

    started_at = time.time()
    start = time.monotonic()
    deadline = start + args.duration
    lock = threading.Lock()
    moments = {"old_stopped": None}
    writable = {}
    results = {name: {"routed": {}, "convergence": None, "demotion": None, "write_gap": None,
                      "misrouted": 0, "attempts": 0, "errors": 0, "last_old_write": None, "old_out": None, "in": {}}
               for name, _ in frontends}
    stops = {name: deadline for name, _ in frontends}

    def done():
        return time.monotonic() > max(stops.values())

    def watch_direct(host, moments, key, stopped_when):
        conn = None
        while not done() and moments.get(key) is None and not (stopped_when == "writable" and writable):
            began = time.monotonic() - start
            try:
                if conn is None:
                    conn = connect(host, 5432, 1)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("select pg_is_in_recovery()")
                    (in_recovery,) = cur.fetchone()
                if stopped_when == "writable" and not in_recovery or stopped_when == "stopped" and in_recovery:
                    moments[key] = began
            except psycopg2.Error:
                if stopped_when == "stopped":
                    moments[key] = began
                conn = None
            time.sleep(args.direct_interval)

    def watch_haproxy(name, path, backend):
        old = "pg" + args.old.rsplit(".", 1)[1] if args.old else None
        result = results[name]
        while not done():
            began = time.monotonic() - start
            try:
                view = haproxy_view(path, backend)
            except OSError:
                view = {}
            if result["old_out"] is None and old in view and not view[old]:
                result["old_out"] = began
            for host in args.candidate:
                server = "pg" + host.rsplit(".", 1)[1]
                if view.get(server) and host not in result["in"]:
                    result["in"][host] = began
            time.sleep(args.direct_interval)

    def routed_attempt(name, host, port, began, slots):
        result = results[name]
        try:
            conn = connect(host, port, 2)
            try:
                with conn.cursor() as cur:
                    cur.execute("select host(inet_server_addr()), pg_is_in_recovery()")
                    server, in_recovery = cur.fetchone()
            finally:
                conn.close()
        except psycopg2.Error:
            with lock:
                result["errors"] += 1
            return
        finally:
            slots.release()
        with lock:
            if began > stops[name] - start:
                return
            result["attempts"] += 1
            if in_recovery:
                result["misrouted"] += 1
            elif server in args.candidate:
                if not result["routed"]:
                    stops[name] = min(deadline, start + began + args.settle)
                if server not in result["routed"] or began < result["routed"][server]:
                    result["routed"][server] = began
            elif server == args.old and (result["last_old_write"] is None or began > result["last_old_write"]):
                result["last_old_write"] = began

    def route(name, host, port):
        slots = threading.Semaphore(args.in_flight)
        next_at = time.monotonic()
        while time.monotonic() < stops[name]:
            if slots.acquire(blocking=False):
                began = time.monotonic() - start
                threading.Thread(target=routed_attempt, args=(name, host, port, began, slots), daemon=True).start()
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=watch_direct, args=(host, writable, host, "writable")) for host in args.candidate]
    if args.old:
        threads.append(threading.Thread(target=watch_direct, args=(args.old, moments, "old_stopped", "stopped")))
    for name, (path, backend) in stats.items():
        threads.append(threading.Thread(target=watch_haproxy, args=(name, path, backend)))
    for name, address in frontends:
        host, port = address.rsplit(":", 1)
        threads.append(threading.Thread(target=route, args=(name, host, int(port))))
    for t in threads:
        t.start()
    if args.ready_file:
        open(args.ready_file, "w").close()
    for t in threads:
        t.join()
    time.sleep(2.5)  # routed attempts still under way end within their connect timeout

    primary = min(writable, key=writable.get) if writable else None
    first_writable, old_stopped = writable.get(primary), moments["old_stopped"]
    for result in results.values():
        result["routed"] = result["routed"].get(primary)
        if first_writable is not None and result["routed"] is not None:
            result["convergence"] = result["routed"] - first_writable
        put_in = result["in"].get(primary)
        result["haproxy_convergence"] = put_in - first_writable if put_in is not None and first_writable is not None else None
        if old_stopped is not None and result["old_out"] is not None:
            result["demotion"] = result["old_out"] - old_stopped
        if result["routed"] is not None and result["last_old_write"] is not None:
            result["write_gap"] = result["routed"] - result["last_old_write"]
        del result["last_old_write"], result["old_out"], result["in"]
    output = {"started_at": started_at, "primary": primary, "writable": first_writable, "old_stopped": old_stopped}
    if len(frontends) == 1 and frontends[0][0] == "":
        output.update(results[""])
    else:
        output.update(results)
    print(json.dumps(output))


if __name__ == "__main__":
    main()
