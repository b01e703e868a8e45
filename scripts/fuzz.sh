#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang and runs
# each for SECONDS (default 60) on its committed seed corpus
# (tests/fuzz/seeds/<target>/) plus what earlier runs added in the build
# directory, with tests/fuzz/<target>.dict when there is one. Further
# arguments name the targets to run (default: all).
#
# Any crash, AddressSanitizer or UndefinedBehaviorSanitizer report, leak,
# out-of-memory or timeout fails the run: every target still runs, then the
# script lists the failures and exits 1. The input that failed is kept as
# $BUILD_DIR/artifacts/<target>/crash-... (reproduce with
# `$BUILD_DIR/tests/<target> <file>`), the full log as
# $BUILD_DIR/logs/<target>.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-60}"
shift || true
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found, skipped"
  exit 0
fi
build="${BUILD_DIR:-build-fuzz}"
jobs="${JOBS:-2}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz_*.cpp; do
    targets+=("$(basename "$src" .cpp)")
  done
fi

CXX=clang++ cmake -S . -B "$build" -DCASTOR_FUZZ=ON -DCASTOR_TESTS=ON \
  -DCASTOR_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# Sanitizer reports end the process with an error (UBSan recovers by
# default; the targets are also built with -fno-sanitize-recover).
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=0:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# A smaller quarantine than ASan's 256 MB keeps the targets' memory modest
# (freed memory still waits there to catch uses after free).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:quarantine_size_mb=64${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

failed=()
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  log="$build/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  if [ -d "tests/fuzz/seeds/$target" ]; then
    cp -n tests/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  fi
  dict=()
  if [ -f "tests/fuzz/$target.dict" ]; then
    dict=(-dict="tests/fuzz/$target.dict")
  fi
  echo "fuzz: $target for ${seconds}s"
  status=0
  "$build/tests/$target" -max_total_time="$seconds" -rss_limit_mb=1024 \
    -malloc_limit_mb=256 -max_len=4096 -timeout=10 -print_final_stats=1 \
    "${dict[@]}" -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 \
    || status=$?
  # A report without a failed exit would still be a finding.
  if [ "$status" -ne 0 ] \
    || grep -q -E "runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|ERROR: libFuzzer" "$log"; then
    echo "fuzz: $target FAILED (exit status $status); log: $log"
    # The report: from the first error line, at most 40 lines.
    grep -n -m1 -E "check failed|runtime error:|==ERROR|ERROR: libFuzzer|^fuzz_" \
      "$log" | cut -d: -f1 | while read -r first; do
      tail -n "+$first" "$log" | head -n 40
    done || true
    grep -E "Test unit written to|^(MS|Base64):" "$log" | sed 's/^/fuzz:   /' || true
    failed+=("$target")
  else
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done )" \
      "$log" | tr '\n' ' ' || true
    echo
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed (${seconds}s each)"
