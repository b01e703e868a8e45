#!/usr/bin/env bash
# Installs everything Castor needs to build, run and test on Debian 12.
# Idempotent: when every package is present it returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake g++ pkg-config
  libcaf-dev libssl-dev libyaml-cpp-dev doctest-dev
  libhttp-parser-dev nlohmann-json3-dev libre2-dev libasio-dev librocksdb-dev
  clang libclang-rt-14-dev
  mosquitto mosquitto-clients python3-paho-mqtt python3-jsonpatch python3-yaml
  openssl strace
  prometheus dpkg-dev
  chromium
)
# Node.js may come from another source that bundles npm (and conflicts with
# Debian's npm package); install Debian's only when there is no npm at all.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian mosquitto package starts a system broker on 1883; Castor's
  # quick start and tests need that port free.
  if command -v systemctl >/dev/null 2>&1; then
    $sudo_cmd systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
  $sudo_cmd pkill -x mosquitto >/dev/null 2>&1 || true
  # Only promtool is used (tests, config/prometheus/): the Prometheus
  # server the package may start is not.
  if command -v systemctl >/dev/null 2>&1; then
    $sudo_cmd systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
  $sudo_cmd pkill -x prometheus >/dev/null 2>&1 || true
  $sudo_cmd pkill -f prometheus-node-exporter >/dev/null 2>&1 || true
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# MQTT.js and fast-json-patch for the interoperability tests, and
# playwright-core for the web console's browser test (it drives the
# Debian chromium above), installed into tests/integration (again when one
# of them is missing). MQTT.js's browser bundle is built into the console.
missing=0
for m in mqtt fast-json-patch playwright-core; do
  [ -d "$here/tests/integration/node_modules/$m" ] || missing=1
done
if [ -f "$here/tests/integration/package.json" ] && [ "$missing" = 1 ]; then
  echo "setup: installing MQTT.js, fast-json-patch and playwright-core"
  (cd "$here/tests/integration" && npm install --no-audit --no-fund --silent)
fi
exit 0
