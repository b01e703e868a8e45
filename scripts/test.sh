#!/usr/bin/env bash
# Sets up the machine, builds Castor and runs the whole test suite under CTest.
# Extra arguments go to CMake (e.g. -DCASTOR_SANITIZE=ON); BUILD_DIR picks the
# build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
build="${BUILD_DIR:-build}"
cmake -S . -B "$build" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
