#!/usr/bin/env bash
# Runs the packet-level integration tests against Mosquitto
# (CASTOR_TEST_BROKER=mosquitto, /usr/sbin/mosquitto or MOSQUITTO_BIN) and
# compares the result with tests/integration/mosquitto_differences.txt:
#   - a case that fails and is not listed differs unexpectedly (FAIL);
#   - a listed case that passes agrees now (XPASS): the list is out of date;
#   - a listed case that no test file has is stale.
# Exit status 0 only when none of these happened. Needs no Castor build; not
# part of CI. Arguments: test files to run (default: every packet-level one).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../tests/integration"
mosquitto="${MOSQUITTO_BIN:-/usr/sbin/mosquitto}"
if [ ! -x "$mosquitto" ]; then
  echo "compare_mosquitto: $mosquitto not found (scripts/setup.sh installs it)" >&2
  exit 2
fi
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(test_0*.py test_1*.py)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for f in "${files[@]}"; do
  name="$(basename "$f" .py)"
  echo "== $name"
  CASTOR_TEST_BROKER=mosquitto /usr/bin/python3 "$f" >"$out/$name.log" 2>&1
  grep -E '^[0-9]+ (skipped|passed)' "$out/$name.log" | sed 's/^/   /'
  # Case lines carry the file, for the summary.
  grep -E '^(FAIL|XPASS|XDIFF) ' "$out/$name.log" | sed "s/^\([A-Z]*\) *\([^ ]*\)/\1 $name::\2/" \
    >>"$out/cases"
  grep -E '^(PASS|FAIL|XPASS|XDIFF|SKIP) ' "$out/$name.log" | awk -v f="$name" '{print f "::" $2}' \
    >>"$out/seen"
done
touch "$out/cases" "$out/seen"
unexpected="$(grep '^FAIL ' "$out/cases" | cut -c1-300)"
agree="$(grep '^XPASS ' "$out/cases" | cut -c1-300)"
differs="$(grep -c '^XDIFF ' "$out/cases")"
stale=""
ran=" $(printf '%s ' "${files[@]}" | sed 's/\.py / /g')"
while IFS= read -r line; do
  key="$(printf '%s' "$line" | sed 's/ *|.*//')"
  file="${key%%::*}"
  case "$ran" in *" $file "*) ;; *) continue ;; esac
  grep -qxF "$key" "$out/seen" || stale+="$key"$'\n'
done < <(grep -vE '^[[:space:]]*(#|$)' mosquitto_differences.txt)
echo
echo "$differs listed differences confirmed (XDIFF)"
status=0
if [ -n "$unexpected" ]; then
  status=1
  echo "Cases that differ from the specification but are not listed (FAIL):"
  printf '%s\n' "$unexpected" | sed 's/^/  /'
fi
if [ -n "$agree" ]; then
  status=1
  echo "Cases listed as differing that Mosquitto passes now (XPASS):"
  printf '%s\n' "$agree" | sed 's/^/  /'
fi
if [ -n "$stale" ]; then
  status=1
  echo "Listed cases that no test file ran:"
  printf '%s' "$stale" | sed 's/^/  /'
fi
[ $status -eq 0 ] && echo "mosquitto_differences.txt is accurate."
exit $status
