#!/usr/bin/env bash
# Failover routing on the real cluster (scripts/cluster.sh), per configuration of the agents:
#   callbacks   the shipped defaults, with Patroni's callbacks running `patroni-agent notify`
#               (the lines `patroni-agent callbacks` prints), as the demo and the cluster tests use them
#   no-callbacks  the shipped defaults alone
# For each: HAProxy instances with this project's recommended configuration (recommended.cfg, one
# per agent-inter of AGENT_INTERS); then switchovers, failovers (the primary's Patroni and PostgreSQL
# killed), switchovers whose candidate's Patroni freezes for STALL seconds between taking the leader
# lock and promoting (only with callbacks), each measured by scripts/failover_probe.py; the
# tracebacks each round left in Patroni's logs; and the idle footprint: CPU ticks of Patroni,
# PostgreSQL and the agents for FOOTPRINT_SECONDS with the agents running, then stopped.
# Every round's JSON and the cluster's logs are kept in OUT; the summary is OUT/summary.md.
#
# Usage (as root): benchmarks/failover/run.sh
# Environment: SWITCHOVERS (default 8), FAILOVERS (default 3), STALLS (default 3), STALL (default 4 s),
#              CONFIGS (default "callbacks no-callbacks"), AGENT_INTERS (default "20ms 50ms"),
#              RECOMMENDED_INTER (the instance the footprint is taken with, default 20ms),
#              RO_INTER (the read-only backend's agent-inter, default 200ms),
#              FOOTPRINT_SECONDS (default 30), FOOTPRINT_ROUNDS (default 3), OUT (default artifacts/failover)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/patroni-agent-failover-bench}
dir=$CLUSTER_DIR
cluster="$repo/scripts/cluster.sh"
out=${OUT:-$repo/artifacts/failover}
python=/usr/bin/python3
inters=(${AGENT_INTERS:-20ms 50ms})

[ "$(id -u)" -eq 0 ] || { echo "run as root (it starts the cluster as the postgres user)" >&2; exit 1; }
mkdir -p "$out"
trap '"$cluster" down >/dev/null 2>&1 || true' EXIT

# Starts an HAProxy instance of recommended.cfg: NAME, PORT, agent-inter of the read-write backend
# (the read-only one's is RO_INTER).
start_haproxy() {
    local name=$1 port=$2 inter=$3
    sed "s|@DIR@|$dir|g; s|@NAME@|$name|g; s|@PORT@|$port|g; s|@INTER@|$inter|g; s|@RO_INTER@|${RO_INTER:-200ms}|g" "$here/recommended.cfg" >"$dir/$name.cfg"
    haproxy -c -q -f "$dir/$name.cfg"
    setsid haproxy -db -f "$dir/$name.cfg" >"$dir/log/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/pid/$name.pid"
}

# The servers UP in an instance's backend.
routes_to() {
    echo "show stat" | socat stdio "unix-connect:$dir/$1.sock" 2>/dev/null |
        awk -F, '$1 == "primary" && $2 ~ /^pg/ && $18 == "UP" { print $2 }' | paste -sd' '
}

wait_routes() {
    local leader=$1 deadline=$((SECONDS + 90)) inter
    for inter in "${inters[@]}"; do
        until [ "$(routes_to "agent-$inter")" = "$leader" ]; do
            [ $SECONDS -lt $deadline ] || { echo "agent-$inter does not route to $leader only: $(routes_to "agent-$inter")" >&2; return 1; }
            sleep 0.2
        done
    done
}

# Tracebacks Patroni logged for REST requests (a client that gave up on one leaves a BrokenPipeError),
# and all its tracebacks (Patroni's own too, such as a pg_rewind check that cannot reach a frozen leader).
request_tracebacks() { cat "$dir"/log/patroni*.log 2>/dev/null | grep -c 'Exception happened during processing of request' || true; }
tracebacks() { cat "$dir"/log/patroni*.log 2>/dev/null | grep -c '^Traceback' || true; }

# One measured change of primary: KIND (switchover, failover, stall), CONFIG, ROUND.
change() {
    local kind=$1 config=$2 round=$3 leader candidate result before frontends=() i=0 inter
    leader=$("$cluster" leader)
    candidate=pg$(( ${leader#pg} % 3 + 1 ))
    for inter in "${inters[@]}"; do
        frontends+=(--rw "agent-$inter=127.0.0.1:$((5300 + i))" --stats "agent-$inter=$dir/agent-$inter.sock:primary")
        i=$((i + 1))
    done
    result="$out/$config-$kind-$round.json"
    before=$(request_tracebacks)
    local all_before; all_before=$(tracebacks)
    [ "$kind" = stall ] && "$cluster" stall-next-promotion "${candidate#pg}" "${STALL:-4}"
    local candidates=(--candidate "127.0.1.${candidate#pg}") n
    if [ "$kind" = failover ]; then
        candidates=()
        for n in 1 2 3; do [ "pg$n" = "$leader" ] || candidates+=(--candidate "127.0.1.$n"); done
    fi
    "$python" "$repo/scripts/failover_probe.py" "${candidates[@]}" --old "127.0.1.${leader#pg}" \
        "${frontends[@]}" --duration 60 --settle 5 --ready-file "$dir/probe-ready" >"$result.tmp" &
    local probe=$!
    until [ -e "$dir/probe-ready" ]; do sleep 0.05; done
    rm -f "$dir/probe-ready"
    if [ "$kind" = failover ]; then
        "$cluster" kill-node "${leader#pg}"
    else
        "$cluster" switchover "$candidate" >/dev/null
    fi
    wait $probe
    local new; new=$("$cluster" leader)
    if [ "$kind" = failover ]; then
        "$cluster" start-patroni "${leader#pg}"
    fi
    wait_routes "$new" || true
    sleep 3
    "$python" -c 'import json, sys; r = json.load(open(sys.argv[1])); r.update(kind=sys.argv[2], config=sys.argv[3], candidate=sys.argv[4], leader=sys.argv[5], tracebacks=int(sys.argv[6]), all_tracebacks=int(sys.argv[7])); print(json.dumps(r))' \
        "$result.tmp" "$kind" "$config" "$candidate" "$new" $(( $(request_tracebacks) - before )) $(( $(tracebacks) - all_before )) >"$result"
    rm -f "$result.tmp"
    echo "$config $kind $round ($leader -> $new): $(cat "$result")" >&2
}

# FOOTPRINT_ROUNDS rounds of FOOTPRINT_SECONDS with the agents running, then as long with them stopped
# (the machine's own noise moves a single 30 s figure by a tenth of a percent).
footprint() {
    local config=$1 seconds=${FOOTPRINT_SECONDS:-30} n round groups=()
    for n in 1 2 3; do
        groups+=("patroni$n=$("$cluster" pid patroni "$n")" "postgres$n=$("$cluster" pid postgres "$n")")
    done
    sleep 5
    for round in $(seq 1 "${FOOTPRINT_ROUNDS:-3}"); do
        "$python" "$here/footprint.py" "$seconds" "${groups[@]}" \
            "agent1=$("$cluster" pid agent 1)" "agent2=$("$cluster" pid agent 2)" "agent3=$("$cluster" pid agent 3)" \
            >"$out/$config-footprint-with-agents-$round.json"
        for n in 1 2 3; do "$cluster" stop-agent "$n"; done
        sleep 2
        "$python" "$here/footprint.py" "$seconds" "${groups[@]}" >"$out/$config-footprint-without-agents-$round.json"
        for n in 1 2 3; do "$cluster" start-agent "$n"; done
        sleep 5
        echo "$config footprint round $round: $(cat "$out/$config-footprint-with-agents-$round.json") without agents: $(cat "$out/$config-footprint-without-agents-$round.json")" >&2
    done
    echo "$seconds" >"$out/$config-footprint-seconds"
}

run_config() {
    local config=$1 notify=1 i=0 inter round
    [ "$config" = callbacks ] || notify=0
    echo "== $config" >&2
    "$cluster" down >/dev/null 2>&1 || true
    AGENT_NOTIFY=$notify "$cluster" up
    # The cluster's own HAProxy leaves: the measured instances are the ones of recommended.cfg.
    # The footprint is taken with one of them, the recommended agent-inter, as a user's idle node sees it.
    kill "$(cat "$dir/pid/haproxy.pid")" && rm -f "$dir/pid/haproxy.pid"
    for inter in "${inters[@]}"; do
        [ "$inter" = "${RECOMMENDED_INTER:-20ms}" ] && start_haproxy "agent-$inter" $((5300 + i)) "$inter"
        i=$((i + 1))
    done
    # The idle cost does not depend on the callbacks: it is measured once, with them.
    [ "$config" = callbacks ] && footprint "$config"
    i=0
    for inter in "${inters[@]}"; do
        [ "$inter" = "${RECOMMENDED_INTER:-20ms}" ] || start_haproxy "agent-$inter" $((5300 + i)) "$inter"
        i=$((i + 1))
    done
    wait_routes "$("$cluster" leader)"
    for round in $(seq 1 "${SWITCHOVERS:-8}"); do change switchover "$config" "$round"; done
    for round in $(seq 1 "${FAILOVERS:-3}"); do change failover "$config" "$round"; done
    if [ "$config" = callbacks ]; then
        for round in $(seq 1 "${STALLS:-3}"); do change stall "$config" "$round"; done
    fi
    rm -rf "$out/logs-$config"
    cp -r "$dir/log" "$out/logs-$config"
}

rm -rf "$out"/*.json "$out"/*-footprint-seconds "$out"/logs-* "$out"/summary.md
for config in ${CONFIGS:-callbacks no-callbacks}; do
    run_config "$config"
done
"$cluster" down >/dev/null
"$python" "$here/summarize.py" "$out" | tee "$out/summary.md"
