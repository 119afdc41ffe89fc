#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds with warnings as errors,
# publishes the native AOT binary as the release does (scripts/publish.sh, failing on any warning), runs every test against it (unit,
# socket, end-to-end and real-cluster tests), then the benchmarks' allocation guard and short job
# and the short load test, and prints the test totals as "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

echo "== build"
dotnet build PatroniAgent.sln -c Release -warnaserror -nologo -clp:NoSummary

echo "== publish (native AOT, linked for glibc 2.28 as released; fails on any warning)"
rm -rf artifacts/publish
scripts/publish.sh x64 artifacts/publish
ls -l artifacts/publish/patroni-agent

echo "== tests"
rm -rf artifacts/test-results
status=0
# One project after the other: the real-cluster tests load both cores, which the socket and
# timing tests of the unit project should not have to share.
for project in tests/PatroniAgent.Tests tests/PatroniAgent.ClusterTests; do
    name=$(basename "$project")
    echo "== $name"
    AGENT_UNDER_TEST="$PWD/artifacts/publish/patroni-agent" dotnet test "$project" -c Release --no-build -nologo \
        --logger "console;verbosity=minimal" --logger "trx;LogFileName=$name.trx" \
        --results-directory artifacts/test-results || status=$?
done

# Speed is printed, never judged here: these fail only on allocations on the check path, failed
# checks or wrong answers (docs/performance.md has the full figures and how to get them).
echo "== benchmarks: allocation guard"
dotnet run -c Release --project benchmarks/PatroniAgent.Benchmarks --no-build -- --check-allocations || status=$?
echo "== benchmarks: short job"
dotnet run -c Release --project benchmarks/PatroniAgent.Benchmarks --no-build -- --filter '*' --job short --iterationTime 200 --inProcess || status=$?
echo "== load test: short run"
loadtest/run.sh --short || status=$?

counters=$(grep -ho '<Counters [^>]*>' artifacts/test-results/*.trx 2>/dev/null || true)
count() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' | awk '{s+=$1} END {print s+0}'; }
passed=$(count passed); failed=$(count failed); total=$(count total); executed=$(count executed)
skipped=$((total - executed))
# The failed tests go last, next to the totals, where the tail of a long log shows them: each
# name with the first lines of its message (a property's replay seed is among them).
for trx in artifacts/test-results/*.trx; do
    [ -f "$trx" ] && python3 scripts/failed-tests.py "$trx"
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ]; then
    exit 1
fi
