#!/usr/bin/env bash
# The demo: a real three-node Patroni cluster behind HAProxy, with patroni-agent on every node.
# Shows HAProxy's view (no server DOWN: replicas are MAINT in the read-write backend, with the
# agent's reason), performs a switchover, shows the new view and how long HAProxy took to route
# writes to the new primary. Run as root (it installs missing Debian packages).
#
# Usage: scripts/demo.sh [--keep]   (--keep leaves the cluster running afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[ "${1:-}" = "--keep" ] && keep=true
cluster=scripts/cluster.sh
dir=${CLUSTER_DIR:-/tmp/patroni-agent-cluster}

title() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then scripts/install-deps.sh; fi
$cluster down >/dev/null 2>&1 || true
$keep || trap '$cluster down >/dev/null 2>&1 || true' EXIT

title "Starting etcd, 3 Patroni nodes with PostgreSQL 15, 3 patroni-agents and HAProxy"
$cluster up

title "HAProxy's view: the primary UP in read_write, the replicas MAINT there (not DOWN) and UP in read_only"
$cluster status

old=$($cluster leader)
candidate=$(/usr/bin/python3 -c 'import sys; print(next(f"pg{n}" for n in (1, 2, 3) if f"pg{n}" != sys.argv[1]))' "$old")
candidate_addr=127.0.1.${candidate#pg}
old_addr=127.0.1.${old#pg}

title "What the agent on ${candidate} tells HAProxy (patroni-agent check)"
artifacts/publish/patroni-agent check --patroni-url "http://$candidate_addr:8008"

title "Switchover ${old} -> ${candidate}, while a client connects through HAProxy's read-write port every 20 ms"
ready=$(mktemp -u)
result=$(mktemp)
/usr/bin/python3 scripts/failover_probe.py --candidate "$candidate_addr" --old "$old_addr" \
    --rw "rw=127.0.0.1:5000" --stats "rw=$dir/haproxy.sock:read_write" --ready-file "$ready" --duration 30 >"$result" &
probe=$!
until [ -e "$ready" ]; do sleep 0.05; done
$cluster switchover "$candidate"
wait $probe
rm -f "$ready"

title "HAProxy's view after the switchover"
sleep 1
$cluster status

title "Result"
/usr/bin/python3 - "$result" "$candidate" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
r = out["rw"]
if r["convergence"] is None:
    print(f"HAProxy did not route writes to {sys.argv[2]} in time: {out}")
    sys.exit(1)
print(f"{sys.argv[2]} accepted writes {out['writable']:.3f} s after the switchover began;")
if r["haproxy_convergence"] is not None:
    print(f"HAProxy put it in {r['haproxy_convergence'] * 1000:.0f} ms later (its own view, read every 5 ms);")
print(f"the read-write port routed a new connection to it {r['convergence'] * 1000:.0f} ms later (one every 20 ms).")
if r["demotion"] is not None:
    print(f"HAProxy took the old primary out {r['demotion'] * 1000:.0f} ms after it stopped taking writes.")
print(f"{r['attempts']} connections went through the read-write port (one every 20 ms); {r['misrouted']} reached a read-only node.")
EOF
rm -f "$result"

if $keep; then
    title "The cluster keeps running"
    cat <<EOF
  psql -h 127.0.0.1 -p 5000 -U postgres        read-write, through HAProxy
  psql -h 127.0.0.1 -p 5001 -U postgres        read-only, through HAProxy
  http://127.0.0.1:7000/                       HAProxy stats
  $cluster status                    Patroni and HAProxy at a glance
  $cluster switchover [pgN]          another switchover
  artifacts/publish/patroni-agent check --patroni-url http://127.0.1.1:8008
  $cluster down                      stop everything (logs are in $dir/log)
EOF
fi
