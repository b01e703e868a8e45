#!/usr/bin/env bash
# The example Prometheus configuration and alert rules pass promtool.
#   tests/package/check_prometheus.sh config/prometheus
set -euo pipefail
dir="$1"
command -v promtool >/dev/null || { echo "promtool missing (Debian package prometheus; scripts/setup.sh installs it)" >&2; exit 1; }
promtool check rules "$dir/castor-alerts.yml"
promtool check config "$dir/prometheus.yml"
