#!/usr/bin/env bash
# Sets up the machine, builds Castor and runs it on config/castor.yaml
# (MQTT on 127.0.0.1:1883). Extra arguments go to castor.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake -S . -B build -DCASTOR_SANITIZE=OFF -DCASTOR_FUZZ=OFF >/dev/null
cmake --build build -j"$(nproc)" --target castor
exec build/castor --config config/castor.yaml "$@"
