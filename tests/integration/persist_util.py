"""Helpers of the persistence tests (test_65, test_66): restarts on the
same store, and a server on a slow disk."""

import os
import shutil
import subprocess

from mqtt_test import castor_bin, check

REAL_BIN = castor_bin()


def restart(srv, kill=True):
    """Ends the server (kill -9, or SIGTERM) and starts it again in the same
    directory: the same store."""
    if kill:
        srv.kill()
    else:
        problems = srv.stop()
        check(not problems, "clean stop: %s" % problems)
    srv.stopped = False
    srv.exit_expected = None
    srv.start()


def slow_disk_binary(tmp):
    """A wrapper that runs the server with every fsync and fdatasync 40 ms
    slower (strace's fault injection), as on a slow disk: records wait for
    their sync long enough that a kill -9 often comes while some do, which
    is what the acknowledgements must wait for. None if strace cannot do
    it here (not installed, or ptrace not allowed)."""
    strace = shutil.which("strace")
    if not strace:
        return None
    args = [strace, "-f", "--seccomp-bpf", "-qq", "-o", "/dev/null",
            "-e", "trace=fsync,fdatasync",
            "-e", "inject=fsync,fdatasync:delay_enter=40000"]
    if subprocess.run(args + ["true"], capture_output=True).returncode != 0:
        return None
    path = os.path.join(tmp, "castor-slow-disk")
    with open(path, "w") as f:
        # LeakSanitizer cannot run under ptrace: leaks are checked by the
        # other cases.
        f.write("#!/bin/sh\nASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" exec %s %s \"$@\"\n"
                % (" ".join(args), castor_bin()))
    os.chmod(path, 0o755)
    return path
