#!/usr/bin/env python3
"""Checks that the typed actor interfaces are enforced by the compiler:
interfaces.cpp compiles as it is, and each PROBE_* variant fails with the
static assertion CAF gives for that mistake.

  check_interfaces.py CXX SOURCE_DIR
"""

import subprocess
import sys

PROBES = {
    "PROBE_SEND": "receiver does not accept given message",
    "PROBE_SEND_AS": "the receiver's interface does not accept this message",
    "PROBE_ANSWER": "unexpected handler at index 0",
    "PROBE_EXTRA": "too many message handlers",
}


def compile_(cxx, src_dir, define=None):
    cmd = [cxx, "-std=c++17", "-fsyntax-only", "-I" + src_dir,
           src_dir + "/tests/compile/interfaces.cpp"]
    if define:
        cmd.append("-D" + define)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return r.returncode, r.stdout


def main():
    cxx, src_dir = sys.argv[1], sys.argv[2]
    failures = 0
    rc, out = compile_(cxx, src_dir)
    if rc != 0:
        print("interfaces.cpp does not compile as it is:\n" + out[-4000:])
        return 1
    print("ok: interfaces.cpp compiles")
    for define, needle in PROBES.items():
        rc, out = compile_(cxx, src_dir, define)
        if rc == 0:
            print("FAIL: %s compiled; the interface did not reject it" % define)
            failures += 1
        elif ("static assertion failed" not in out
              and "static_assert failed" not in out) or needle not in out:
            print("FAIL: %s failed for another reason:\n%s" % (define,
                                                            out[-4000:]))
            failures += 1
        else:
            print("ok: %s is rejected at compile time" % define)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
