#!/usr/bin/env bash
# The load test of issue 4: the published agent, the C reference responder, the design card's .NET acceptor
# (loadtest/saea-responder, issue 13) and the seed baseline, side by side on 127.0.0.1. `loadtest/run.sh` runs
# the full comparison (about 4.5 minutes), `loadtest/run.sh --short` the CI run (about 55 seconds); other
# options are passed on (loadtest/README.md). Publishes the agent and the .NET responder and compiles the C
# responder when they are missing. Exits 1 only on failed checks, wrong answers or allocations
# on the check path, never on speed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dotnet build loadtest/PatroniAgent.LoadTest -c Release -warnaserror -nologo -clp:NoSummary -v quiet
exec loadtest/PatroniAgent.LoadTest/bin/Release/net10.0/patroni-agent-loadtest "$@"
