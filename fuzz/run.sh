#!/usr/bin/env bash
# Runs one fuzz target as docs/fuzzing.md records it: one job, niced, at least RUNS executions (default one
# million), with a time guard; crashes go to fuzz/artifacts/TARGET/. Build first (RUSTC_BOOTSTRAP=1 cargo fuzz build).
# Usage: fuzz/run.sh TARGET [RUNS] [MAX_SECONDS]
set -euo pipefail
target=$1 runs=${2:-1000000} max_time=${3:-1800}
cd "$(dirname "$0")"
mkdir -p "artifacts/$target" "corpus/$target" logs
log=logs/$target.log
start=$(date +%s)
nice -n 10 "target/x86_64-unknown-linux-gnu/release/$target" "corpus/$target" \
    -runs="$runs" -max_total_time="$max_time" -max_len=16384 -timeout=10 -jobs=1 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1 || true
# With -jobs, libFuzzer writes the job's output to fuzz-0.log in the working directory.
[ -f fuzz-0.log ] && mv fuzz-0.log "$log"
end=$(date +%s)
echo "$target: $((end - start)) s; $(grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" | tr '\n' ' ')"
grep -E 'cov: ' "$log" | tail -1
ls "artifacts/$target" | head
