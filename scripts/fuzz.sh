#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default
# 60) on a seed corpus made by the unit tests' round trips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-60}"
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found, skipped"
  exit 0
fi
build="${BUILD_DIR:-build-fuzz}"
CXX=clang++ cmake -S . -B "$build" -DCASTOR_FUZZ=ON -DCASTOR_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_frame_parser fuzz_topic_filter \
  fuzz_websocket fuzz_transport
for target in fuzz_frame_parser fuzz_topic_filter fuzz_websocket fuzz_transport; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  cp -n tests/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s"
  "$build/tests/$target" -max_total_time="$seconds" -rss_limit_mb=1024 \
    -malloc_limit_mb=256 -max_len=4096 -print_final_stats=1 "$corpus" \
    2>&1 | tail -n 12
  # tail hides the exit status; libFuzzer writes crash-* files on failure.
  if ls crash-* leak-* oom-* timeout-* >/dev/null 2>&1; then
    echo "fuzz: $target found a failure"; exit 1
  fi
done
