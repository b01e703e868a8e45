#!/usr/bin/env bash
# Builds the Debian package from a configured build directory and checks it
# with dpkg-deb: the files and where they go, the conffile, the maintainer
# scripts, the runtime dependencies, and that the packaged binaries run.
#   tests/package/check_package.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
out="$(mktemp -d /tmp/castor-package.XXXXXX)"
trap 'rm -rf "$out"' EXIT
fail() { echo "check_package: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) \
  || { cat "$out/cpack.log" >&2; fail "cpack failed"; }
deb="$(ls "$out"/castor_*_amd64.deb 2>/dev/null | head -1)"
[ -n "$deb" ] || fail "no castor_<version>_amd64.deb in $out"
version="$(dpkg-deb -f "$deb" Version)"
[ "$(basename "$deb")" = "castor_${version}_amd64.deb" ] || fail "file name $(basename "$deb")"

contents="$(dpkg-deb --contents "$deb" | awk '{print $6}')"
for f in ./usr/bin/castor ./usr/bin/castor-cli ./etc/castor/castor.yaml \
         ./lib/systemd/system/castor.service ./usr/share/doc/castor/README.md \
         ./usr/share/doc/castor/operations.md ./usr/share/doc/castor/configuration.md; do
  grep -qx "$f" <<<"$contents" || fail "$f missing from the package"
done

ctl="$out/control"
dpkg-deb --control "$deb" "$ctl"
grep -qx /etc/castor/castor.yaml "$ctl/conffiles" || fail "castor.yaml is not a conffile"
grep -q "adduser --system" "$ctl/postinst" || fail "postinst does not create the castor user"
depends="$(dpkg-deb -f "$deb" Depends)"
for d in libcaf-core0.17 libcaf-io0.17 libssl3 libyaml-cpp0.7 libhttp-parser2.9 adduser; do
  grep -q "$d" <<<"$depends" || fail "Depends lacks $d: $depends"
done

root="$out/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/castor" --version | grep -qx "castor $version" \
  || fail "packaged castor --version: $("$root/usr/bin/castor" --version 2>&1)"
"$root/usr/bin/castor-cli" --help >/dev/null 2>&1 || fail "packaged castor-cli --help failed"
grep -q "^ExecStart=/usr/bin/castor --config /etc/castor/castor.yaml" \
  "$root/lib/systemd/system/castor.service" || fail "unit's ExecStart"
grep -q "^ExecReload=/bin/kill -HUP" "$root/lib/systemd/system/castor.service" \
  || fail "unit's ExecReload"
echo "check_package: $(basename "$deb") ok ($(du -h "$deb" | cut -f1)); Depends: $depends"
