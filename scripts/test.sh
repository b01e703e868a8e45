#!/usr/bin/env bash
# Sets up the machine, builds Castor and runs the whole test suite under CTest.
# Extra arguments go to CMake (e.g. -DCASTOR_SANITIZE=ON); BUILD_DIR picks the
# build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
build="${BUILD_DIR:-build}"
# Sanitizer settings for -DCASTOR_SANITIZE=ON builds (ignored otherwise).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/sanitizers/ubsan.supp}"
cmake -S . -B "$build" -DCASTOR_TESTS=ON -DCASTOR_SANITIZE=OFF -DCASTOR_FUZZ=OFF "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
