#!/usr/bin/env bash
# Failover routing speed on the real cluster (scripts/cluster.sh), side by side in one run:
#   template     the Patroni project's HAProxy template (checks Patroni every 3 s, fall 3 rise 2)
#   seed         the blog post's config with its daemon (loadtest/baseline/seed_agent.py)
#   agent-Xms    this project's recommended config with agent-inter X (one instance per value)
# Every round switches over to the next node while scripts/failover_probe.py connects through
# each read-write frontend; it records when the new primary accepted writes directly, when each
# frontend first routed a connection to it, and the connections that reached a read-only node.
# The cluster's logs of each poll interval are kept in OUT/logs-INTERVAL.
# Then it counts the requests Patroni receives per second on one node, for N HAProxy instances
# checking through the agent and N checking Patroni directly (Patroni's template).
#
# Usage (as root): benchmarks/failover/run.sh
# Environment: ROUNDS (default 8), POLL_INTERVALS (default "50ms 100ms 200ms"; empty: load only; an
#              interval with "+notify", such as 1s+notify, also sets Patroni's on_role_change to
#              `patroni-agent notify`, which the others leave out),
#              AGENT_INTERS (default "20ms 50ms 200ms"), LOAD_INSTANCES (default "1 4 16"),
#              OUT (default artifacts/failover)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/patroni-agent-failover-bench}
dir=$CLUSTER_DIR
cluster="$repo/scripts/cluster.sh"
rounds=${ROUNDS:-8}
out=${OUT:-$repo/artifacts/failover}
python=/usr/bin/python3

[ "$(id -u)" -eq 0 ] || { echo "run as root (it starts the cluster and captures loopback traffic)" >&2; exit 1; }
command -v tcpdump >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump >/dev/null; }
mkdir -p "$out"
trap '"$cluster" down >/dev/null 2>&1 || true' EXIT

# Starts an HAProxy instance from a template of this folder; NAME, TEMPLATE, PORT, agent-inter.
start_haproxy() {
    local name=$1 template=$2 port=$3 inter=${4:-}
    sed "s|@DIR@|$dir|g; s|@NAME@|$name|g; s|@PORT@|$port|g; s|@INTER@|$inter|g" "$here/$template" >"$dir/$name.cfg"
    haproxy -c -q -f "$dir/$name.cfg"
    setsid haproxy -db -f "$dir/$name.cfg" >"$dir/log/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/pid/$name.pid"
}

stop() {
    local f
    for f in "$@"; do
        kill -TERM "$(cat "$dir/pid/$f.pid")" 2>/dev/null || true
        rm -f "$dir/pid/$f.pid"
    done
}

# The server UP in the only backend of an instance, once there is exactly one.
routes_to() {
    echo "show stat" | socat stdio "unix-connect:$dir/$1.sock" 2>/dev/null |
        awk -F, '$1 == "primary" && $2 ~ /^pg/ && $18 == "UP" { print $2 }' | paste -sd' '
}

wait_routes() {
    local leader=$1; shift
    local deadline=$((SECONDS + 60)) name
    for name in "$@"; do
        until [ "$(routes_to "$name")" = "$leader" ]; do
            [ $SECONDS -lt $deadline ] || { echo "$name does not route to $leader only: $(routes_to "$name")" >&2; return 1; }
            sleep 0.2
        done
    done
}

failover_run() {
    local run=$1 poll=${1%+notify} notify=0 inters=(${AGENT_INTERS:-20ms 50ms 200ms})
    [ "$run" = "$poll" ] || notify=1
    echo "== switchovers with the agents polling every $poll, on_role_change callback: $([ $notify = 1 ] && echo notify || echo none)" >&2
    "$cluster" down >/dev/null 2>&1 || true
    AGENT_POLL_INTERVAL=$poll AGENT_NOTIFY=$notify "$cluster" up
    local names=(template seed) frontends=(--rw template=127.0.0.1:5100 --rw seed=127.0.0.1:5200)
    start_haproxy template patroni-template.cfg 5100
    start_haproxy seed seed-blog.cfg 5200
    local n i=0
    for n in 1 2 3; do
        setsid "$python" "$repo/loadtest/baseline/seed_agent.py" --listen "127.0.1.$n" --port 5556 \
            --patroni-url "http://127.0.1.$n:8008" >"$dir/log/seed$n.log" 2>&1 </dev/null &
        echo $! >"$dir/pid/seed$n.pid"
    done
    for inter in "${inters[@]}"; do
        start_haproxy "agent-$inter" recommended.cfg $((5300 + i)) "$inter"
        names+=("agent-$inter")
        frontends+=(--rw "agent-$inter=127.0.0.1:$((5300 + i))")
        i=$((i + 1))
    done
    wait_routes "$("$cluster" leader)" "${names[@]}"

    local round leader candidate result
    for round in $(seq 1 "$rounds"); do
        leader=$("$cluster" leader)
        candidate=pg$(( ${leader#pg} % 3 + 1 ))
        result="$out/poll-$run-round-$round.json"
        "$python" "$repo/scripts/failover_probe.py" --candidate "127.0.1.${candidate#pg}" "${frontends[@]}" \
            --duration 40 --settle 10 --ready-file "$dir/probe-ready" >"$result" &
        local probe=$!
        until [ -e "$dir/probe-ready" ]; do sleep 0.05; done
        rm -f "$dir/probe-ready"
        "$cluster" switchover "$candidate" >/dev/null
        wait $probe
        echo "round $round ($leader -> $candidate): $(cat "$result")" >&2
        wait_routes "$candidate" "${names[@]}" || true
        sleep 2
    done
    cp -r "$dir/log" "$out/logs-$run"
}

# Requests per second reaching Patroni on pg2 during 10 s, counted as TCP connections (Patroni's
# REST API closes every connection after one answer).
patroni_requests_per_second() {
    local count
    count=$(timeout 10 tcpdump -i lo -nn -q -l \
        'dst host 127.0.1.2 and dst port 8008 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>/dev/null | wc -l || true)
    awk -v c="$count" 'BEGIN { printf "%.1f\n", c / 10 }'
}

load_run() {
    echo "== Patroni requests per node against the number of HAProxy instances" >&2
    "$cluster" down >/dev/null 2>&1 || true
    "$cluster" up
    stop haproxy
    local n k names
    echo "instances agent template" >"$out/load.txt"
    for n in ${LOAD_INSTANCES:-1 4 16}; do
        names=()
        for k in $(seq 1 "$n"); do start_haproxy "rec$k" recommended.cfg $((5400 + k)) 50ms; names+=("rec$k"); done
        sleep 3
        local with_agent; with_agent=$(patroni_requests_per_second)
        stop "${names[@]}"
        "$cluster" stop-agent 2
        names=()
        for k in $(seq 1 "$n"); do start_haproxy "tpl$k" patroni-template.cfg $((5600 + k)); names+=("tpl$k"); done
        sleep 3
        local direct; direct=$(patroni_requests_per_second)
        stop "${names[@]}"
        "$cluster" start-agent 2
        echo "$n $with_agent $direct" | tee -a "$out/load.txt" >&2
    done
}

rm -rf "$out"/*.json "$out"/load.txt "$out"/logs-*
for poll in ${POLL_INTERVALS-50ms 100ms 200ms}; do
    failover_run "$poll"
done
load_run
"$cluster" down >/dev/null
"$python" "$here/summarize.py" "$out" | tee "$out/summary.md"
