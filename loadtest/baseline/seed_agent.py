#!/usr/bin/python3
"""The historical baseline: an agent that behaves like the daemon of the well-known blog post
"Patroni and HAProxy Agent Checks" (shared/seed-article.txt), rewritten here from its description.

One blocking accept loop; for every check one GET of Patroni's REST API, made while the check
waits; READY when the role is "master", MAINT for anything else (including "primary", Patroni 4's
name for the same role, and any error). It knows no agent-send, no staleness, no lag.
Used only as a point of comparison in the failover benchmark and the load test.
"""
import argparse
import json
import socket
import urllib.request


def get_role(url):
    try:
        response = urllib.request.urlopen(url, timeout=5)
        body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    except Exception:
        return "null"
    try:
        return json.loads(body).get("role", "null")
    except ValueError:
        return "null"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=5555)
    parser.add_argument("--patroni-url", default="http://localhost:8008")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.listen, args.port))
    sock.listen(128)
    while True:
        conn, _ = sock.accept()
        state = get_role(args.patroni_url)
        data = b"READY\n" if state == "master" else b"MAINT\n"
        try:
            conn.sendall(data)
            conn.close()
        except Exception:
            pass


if __name__ == "__main__":
    main()
