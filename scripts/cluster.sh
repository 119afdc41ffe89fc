#!/usr/bin/env bash
# A real three-node Patroni cluster on this machine, from Debian's packages: etcd, three Patroni
# nodes with PostgreSQL 15, one patroni-agent per node and HAProxy in front.
#
# Each node has its own loopback address, with the same ports on each, like three hosts:
#   node N (N = 1..3)  127.0.1.N   PostgreSQL :5432  Patroni :8008  agent :5555  agent HTTP :8009
#   (each agent runs with src/PatroniAgent/Packaging/patroni-agent.conf, * replaced by 127.0.1.N)
#   etcd               127.0.0.1:2379
#   HAProxy            read-write 127.0.0.1:5000, read-only 127.0.0.1:5001, stats http://127.0.0.1:7000/
#
# Usage: scripts/cluster.sh up | down | status | leader | switchover [pgN] | haproxy CMD | patronictl ARGS...
#        scripts/cluster.sh pid patroni|postgres|agent N | stop-agent N | start-agent N | restart-agent N
#        scripts/cluster.sh kill-node N (SIGKILL to Patroni and PostgreSQL) | start-patroni N
#        scripts/cluster.sh stall-next-promotion N SECONDS (node N's Patroni freezes that long when it next promotes)
#        scripts/cluster.sh standby-up | standby-down (a standby cluster of one member, node 4, 127.0.1.4,
#                           replicating through HAProxy's read-write port)
# Environment:
#   CLUSTER_DIR   where everything lives (default /tmp/patroni-agent-cluster)
#   AGENT         the patroni-agent binary (default artifacts/publish/patroni-agent, published if missing)
#   AGENT_POLL_INTERVAL  the agents' --poll-interval (default: the agent's own default)
#   AGENT_NOTIFY  1 (default): Patroni's callbacks run `patroni-agent notify`, as `patroni-agent callbacks`
#                 prints them; 0: none
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLUSTER_DIR:-/tmp/patroni-agent-cluster}
agent=${AGENT:-$repo/artifacts/publish/patroni-agent}
# The agents and Patroni's callback run a copy that the postgres user can execute.
bin=$dir/bin/patroni-agent
pgbin=/usr/lib/postgresql/15/bin
nodes=(1 2 3)
standby=4
python=/usr/bin/python3

say() { printf '%s\n' "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

addr() { echo "127.0.1.$1"; }

# Patroni and PostgreSQL refuse to run as root: as root they run as the postgres user.
as_db() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a command in its own session, output to a log file, and records its PID.
spawn() {
    local name=$1; shift
    setsid "$@" >"$dir/log/$name.log" 2>&1 < /dev/null &
    echo $! >"$dir/pid/$name.pid"
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

http_ok() { curl -fsS -o /dev/null --max-time 1 "$1"; }

check_tools() {
    local missing=()
    for tool in etcd patroni patronictl haproxy curl socat "$pgbin/postgres" "$python"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ]; then
            "$repo/scripts/install-deps.sh"
        else
            die "missing: ${missing[*]}; run scripts/install-deps.sh as root first"
        fi
    fi
    "$python" -c 'import psycopg2' 2>/dev/null || die "python3-psycopg2 is missing; run scripts/install-deps.sh as root"
}

ensure_agent() {
    if [ ! -x "$agent" ]; then
        say "publishing patroni-agent (native AOT) to $(dirname "$agent")"
        "$repo/scripts/publish.sh" x64 "$(dirname "$agent")" >/dev/null
    fi
}

# Node N's patroni.yml; a second argument makes it the standby cluster "demo-standby", replicating
# from the first through HAProxy's read-write port, as a standby cluster in another data centre would.
write_patroni_config() {
    local n=$1 standby=${2:-} a callbacks="" scope=demo standby_cluster=""; a=$(addr "$n")
    if [ -n "$standby" ]; then
        scope=demo-standby
        standby_cluster=$'    standby_cluster:\n      host: 127.0.0.1\n      port: 5000\n      create_replica_methods:\n        - basebackup'
    fi
    if [ "${AGENT_NOTIFY:-1}" != 0 ]; then
        # The lines the agent prints for patroni.yml, below their "postgresql:" line.
        callbacks=$("$bin" callbacks --control-socket "$dir/agent$n/control.sock" | sed -n '/^postgresql:/,$p' | tail -n +2)
    fi
    cat >"$dir/pg$n/patroni.yml" <<EOF
scope: $scope
name: pg$n
log:
  level: WARNING
restapi:
  listen: $a:8008
  connect_address: $a:8008
etcd3:
  hosts: 127.0.0.1:2379
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
$standby_cluster
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.0/8 trust
    - host all all 127.0.0.0/8 trust
postgresql:
  listen: $a:5432
  connect_address: $a:5432
  data_dir: $dir/pg$n/data
  bin_dir: $pgbin
  pgpass: $dir/pg$n/pgpass
  pre_promote: $dir/bin/stall-promotion $dir/pg$n/stall-next-promotion
$callbacks
  authentication:
    replication:
      username: replicator
      password: replicator
    superuser:
      username: postgres
      password: postgres
    rewind:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: $dir/pg$n
    shared_buffers: 32MB
    max_connections: 50
    fsync: "off"
    synchronous_commit: "off"
tags:
  nofailover: false
  noloadbalance: false
EOF
}

write_haproxy_config() {
    {
        cat <<EOF
global
    maxconn 4000
    stats socket $dir/haproxy.sock mode 600 level admin
    stats timeout 10s

defaults
    mode tcp
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen stats
    mode http
    bind 127.0.0.1:7000
    stats enable
    stats uri /
    stats refresh 1s

frontend read_write
    bind 127.0.0.1:5000
    default_backend read_write

frontend read_only
    bind 127.0.0.1:5001
    default_backend read_only

# Writes: only the primary. The agent answers ready on the primary and maint elsewhere; the
# regular check asks the agent's HTTP port, so a node whose agent died goes DOWN, not stale.
backend read_write
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
EOF
        for n in "${nodes[@]}"; do
            echo "    server pg$n $(addr "$n"):5432 check port 8009 agent-check agent-port 5555 agent-send \"primary\\n\" agent-inter 20ms disabled"
        done
        cat <<EOF

# Reads: the replicas that lag no more than 16 MB. One over it answers drain, so its sessions go on.
backend read_only
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
EOF
        for n in "${nodes[@]}"; do
            echo "    server pg$n $(addr "$n"):5432 check port 8009 agent-check agent-port 5555 agent-send \"replica max-lag=16MB\\n\" agent-inter 200ms disabled"
        done
    } >"$dir/haproxy.cfg"
}

# Each agent runs with the packages' config file, its listeners bound to the node's address instead
# of * (three hosts share this machine); the node's own Patroni, control socket and state file are flags.
start_agent() {
    local n=$1 a; a=$(addr "$n")
    sed -e "s/^\(listen\|http-listen\) = \*:/\1 = $a:/" "$repo/src/PatroniAgent/Packaging/patroni-agent.conf" >"$dir/agent$n/patroni-agent.conf"
    spawn "agent$n" "$bin" --config "$dir/agent$n/patroni-agent.conf" \
        --control-socket "$dir/agent$n/control.sock" --state-file "$dir/agent$n/override" \
        --patroni-url "http://$a:8008" ${AGENT_POLL_INTERVAL:+--poll-interval "$AGENT_POLL_INTERVAL"}
}

# A test device, Patroni's pre_promote script: when the file it is given exists, it freezes its Patroni
# (SIGSTOP) for the seconds the file holds, once, as a CPU-starved host would stall it between taking
# the leader lock and promoting; REST API included. Without the file it does nothing.
write_stall_script() {
    cat >"$dir/bin/stall-promotion" <<'EOF'
#!/bin/sh
[ -f "$1" ] || exit 0
seconds=$(cat "$1")
rm -f "$1"
setsid sh -c "sleep $seconds; kill -CONT $PPID" </dev/null >/dev/null 2>&1 &
kill -STOP "$PPID"
EOF
    chmod 755 "$dir/bin/stall-promotion"
}

# Node N's directories and patroni.yml (a second argument: as the standby cluster's member).
prepare_node() {
    local n=$1
    mkdir -p "$dir/pg$n"
    write_patroni_config "$n" "${2:-}"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir/pg$n"; fi
    chmod 700 "$dir/pg$n"
    # Each agent's control socket and state file; as root the directory is setgid postgres, so that
    # the socket (mode 0660) is Patroni's to use, as the packaged agent's is for members of its group.
    mkdir -p "$dir/agent$n"
    if [ "$(id -u)" -eq 0 ]; then chgrp postgres "$dir/agent$n" && chmod 2770 "$dir/agent$n"; fi
}

# The standby cluster: one member, node 4 (127.0.1.4, Patroni :8008, agent :5555 and :8009), its
# PostgreSQL copied with pg_basebackup through HAProxy's read-write port and streaming from there;
# Patroni calls it the standby leader.
standby_up() {
    [ -S "$dir/haproxy.sock" ] || die "no cluster in $dir"
    [ ! -e "$dir/pid/patroni$standby.pid" ] || die "the standby cluster runs already; run '$0 standby-down' first"
    prepare_node "$standby" standby
    start_patroni "$standby"
    start_agent "$standby"
    wait_for 120 standby_leader_running || die "node $standby did not become a running standby leader; see $dir/log/patroni$standby.log"
    say "standby cluster demo-standby up: node $standby, $(addr "$standby")"
}

standby_leader_running() {
    curl -fsS --max-time 1 "http://$(addr "$standby"):8008/standby-leader" 2>/dev/null | "$python" -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["role"] == "standby_leader" and d["state"] == "running" else 1)'
}

# Stops the standby cluster's Patroni (which stops its PostgreSQL) and agent, and removes the cluster
# from etcd, so that a later standby-up bootstraps it again.
standby_down() {
    local f p
    for f in "$dir/pid/patroni$standby.pid" "$dir/pid/agent$standby.pid"; do
        [ -e "$f" ] || continue
        p=$(cat "$f")
        kill -TERM -- "-$p" 2>/dev/null || true
        wait_for 30 bash -c "! kill -0 $p" || kill -KILL -- "-$p" 2>/dev/null || true
        rm -f "$f"
    done
    pkill -KILL -f -- "$dir/pg$standby/" 2>/dev/null || true
    # etcd's v3 JSON gateway: every key under the standby cluster's prefix.
    curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:2379/v3/kv/deleterange \
        -d "{\"key\": \"$(printf /service/demo-standby/ | base64)\", \"range_end\": \"$(printf /service/demo-standby0 | base64)\"}"
    rm -rf "${dir:?}/pg$standby" "${dir:?}/agent$standby"
    say "standby cluster down"
}

start_patroni() {
    local n=$1
    if [ "$(id -u)" -eq 0 ]; then
        spawn "patroni$n" runuser -u postgres -- patroni "$dir/pg$n/patroni.yml"
    else
        spawn "patroni$n" patroni "$dir/pg$n/patroni.yml"
    fi
}

start_haproxy() {
    haproxy -c -q -f "$dir/haproxy.cfg" || die "invalid HAProxy configuration $dir/haproxy.cfg"
    spawn haproxy haproxy -db -f "$dir/haproxy.cfg"
    wait_for 10 test -S "$dir/haproxy.sock" || die "HAProxy did not start; see $dir/log/haproxy.log"
}

haproxy_cmd() { echo "$*" | socat stdio "unix-connect:$dir/haproxy.sock"; }

# The name of the node holding the leader lock, from any Patroni that answers. A Patroni that is slow to
# answer is waited for (a request given up half-way leaves a traceback in its log); a stopped one refuses.
leader() {
    local n
    for n in "${nodes[@]}"; do
        curl -fsS --max-time 10 "http://$(addr "$n"):8008/cluster" 2>/dev/null \
            | "$python" -c 'import json,sys; print(next(m["name"] for m in json.load(sys.stdin)["members"] if m["role"] in ("leader","standby_leader")))' 2>/dev/null \
            && return 0
    done
    return 1
}

is_leader() { [ "$(leader)" = "$1" ]; }

# True when every replica streams from the leader.
all_streaming() {
    local n=0 state
    for i in "${nodes[@]}"; do
        state=$(curl -sS --max-time 1 "http://$(addr "$i"):8008/" 2>/dev/null | "$python" -c 'import json,sys; d=json.load(sys.stdin); print(d["role"], d["state"])' 2>/dev/null) || return 1
        case $state in
            "master running"|"primary running") ;;
            "replica running") n=$((n + 1)) ;;
            *) return 1 ;;
        esac
    done
    [ $n -eq $((${#nodes[@]} - 1)) ]
}

# HAProxy's view of the Patroni servers, tab-separated: backend, server, status, what the agent last said.
servers() {
    haproxy_cmd "show stat" | "$python" -c '
import csv, sys
rows = list(csv.reader(sys.stdin))
head = [h.lstrip("# ") for h in rows[0]]
for row in rows[1:]:
    s = dict(zip(head, row))
    if s.get("pxname", "").startswith("read_") and s.get("svname", "").startswith("pg"):
        print("\t".join((s["pxname"], s["svname"], s["status"], s["last_agt"])))'
}

# True when HAProxy has exactly one server UP in read_write and the replicas UP in read_only.
haproxy_converged() {
    local view; view=$(servers) || return 1
    [ "$(echo "$view" | awk -F'\t' '$1 == "read_write" && $3 == "UP"' | wc -l)" -eq 1 ] &&
    [ "$(echo "$view" | awk -F'\t' '$1 == "read_only" && $3 == "UP"' | wc -l)" -eq $((${#nodes[@]} - 1)) ]
}

up() {
    check_tools
    ensure_agent
    if [ -e "$dir/pid" ] && ls "$dir"/pid/*.pid >/dev/null 2>&1; then
        die "a cluster seems to run already in $dir; run '$0 down' first"
    fi
    rm -rf "$dir"
    mkdir -p "$dir/log" "$dir/pid" "$dir/etcd" "$dir/bin"
    chmod 755 "$dir"
    install -m 755 "$agent" "$bin"
    write_stall_script
    local started=$SECONDS

    spawn etcd etcd --name etcd1 --data-dir "$dir/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster etcd1=http://127.0.0.1:2380 --enable-v2=false
    wait_for 15 http_ok http://127.0.0.1:2379/health || die "etcd did not start; see $dir/log/etcd.log"

    for n in "${nodes[@]}"; do prepare_node "$n"; done
    start_patroni 1
    wait_for 60 http_ok "http://$(addr 1):8008/primary" || die "the first node did not become primary; see $dir/log/patroni1.log"
    for n in "${nodes[@]:1}"; do start_patroni "$n"; done
    for n in "${nodes[@]}"; do start_agent "$n"; done
    wait_for 90 all_streaming || die "the replicas did not start streaming; see $dir/log/"

    write_haproxy_config
    start_haproxy
    wait_for 20 haproxy_converged || die "HAProxy did not converge; run '$0 status'"
    say "up in $((SECONDS - started)) s: read-write 127.0.0.1:5000, read-only 127.0.0.1:5001, stats http://127.0.0.1:7000/"
}

down() {
    [ -d "$dir/pid" ] || return 0
    local pids=() f
    for f in "$dir"/pid/*.pid; do
        [ -e "$f" ] && pids+=("$(cat "$f")")
    done
    for p in "${pids[@]}"; do
        kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
        kill -CONT -- "-$p" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 15))
    for p in "${pids[@]}"; do
        while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    # PostgreSQL children of a killed Patroni are in its session too; anything left in the data dirs goes now.
    pkill -KILL -f -- "$dir/" 2>/dev/null || true
    rm -rf "$dir"
    say "down"
}

status() {
    [ -S "$dir/haproxy.sock" ] || die "no cluster in $dir"
    as_db patronictl -c "$dir/pg1/patroni.yml" list 2>/dev/null || true
    echo
    printf '%-11s %-6s %-13s %s\n' BACKEND SERVER STATUS "LAST AGENT CHECK"
    # HAProxy shows no last agent answer while an agent check is in progress: read the view again then.
    local view tries=0
    view=$(servers)
    while awk -F'\t' '$4 == "" {found=1} END {exit !found}' <<<"$view" && [ $((tries += 1)) -le 50 ]; do
        sleep 0.005
        view=$(servers)
    done
    while IFS=$'\t' read -r backend server state said; do
        printf '%-11s %-6s %-13s %s\n' "$backend" "$server" "$state" "$said"
    done <<<"$view"
}

# PIDs of one node's processes: patroni (the Python process itself), postgres (the postmaster), agent.
node_pid() {
    local what=$1 n=$2
    case $what in
        patroni) pgrep -f "bin/patroni $dir/pg$n/patroni.yml" | head -1 ;;
        postgres) head -1 "$dir/pg$n/data/postmaster.pid" 2>/dev/null ;;
        agent) cat "$dir/pid/agent$n.pid" ;;
        *) die "unknown process $what" ;;
    esac
}

stop_agent() {
    local pid; pid=$(node_pid agent "$1")
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 10 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    leader) leader ;;
    switchover)
        current=$(leader) || die "no leader"
        # A candidate that stalls while promoting makes patronictl give up waiting ("status unknown"):
        # with a candidate named, whether it became the leader decides.
        as_db patronictl -c "$dir/pg1/patroni.yml" switchover --leader "$current" ${2:+--candidate "$2"} --force demo || [ -n "${2:-}" ]
        if [ -n "${2:-}" ]; then
            wait_for 30 is_leader "$2" || die "the switchover did not make $2 the leader"
        fi
        ;;
    haproxy) shift; haproxy_cmd "$*" ;;
    pid) node_pid "$2" "$3" ;;
    stop-agent) stop_agent "$2" ;;
    start-agent) start_agent "$2" ;;
    restart-agent) stop_agent "$2"; start_agent "$2" ;;
    start-patroni) start_patroni "$2" ;;
    standby-up) standby_up ;;
    standby-down) standby_down ;;
    stall-next-promotion)
        echo "$3" >"$dir/pg$2/stall-next-promotion"
        if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/pg$2/stall-next-promotion"; fi
        ;;
    kill-node)
        kill -KILL "$(node_pid patroni "$2")" 2>/dev/null || true
        kill -KILL "$(node_pid postgres "$2")" 2>/dev/null || true
        ;;
    patronictl) shift; as_db patronictl -c "$dir/pg1/patroni.yml" "$@" ;;
    *) sed -n 's/^# Usage: //p; s/^#        /       /p' "$0" | sed -n 1,6p >&2; exit 2 ;;
esac
