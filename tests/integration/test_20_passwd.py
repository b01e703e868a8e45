#!/usr/bin/python3
"""`castor passwd`: prints a PBKDF2 hash line for the security store."""

import base64
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("CASTOR_BIN")
if not BIN:
    here = os.path.dirname(os.path.abspath(__file__))
    BIN = os.path.join(here, "..", "..", "build", "castor")

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def passwd(args, stdin):
    return subprocess.run([BIN, "passwd"] + args, input=stdin,
                          capture_output=True, timeout=60)


def parse(line):
    parts = line.split("$")
    assert len(parts) == 4, "four '$'-separated parts: %r" % line
    assert parts[0] == "pbkdf2-sha256", parts[0]
    return int(parts[1]), base64.b64decode(parts[2], validate=True), \
        base64.b64decode(parts[3], validate=True)


def verifies(line, password):
    iterations, salt, digest = parse(line)
    again = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations,
                                len(digest))
    return again == digest


@case
def piped_password_hashes_and_verifies():
    r = passwd(["--iterations", "1000"], b"s3cret-pass\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    iterations, salt, digest = parse(lines[0])
    assert iterations == 1000, iterations
    assert len(salt) == 16 and len(digest) == 32, (len(salt), len(digest))
    assert verifies(lines[0], "s3cret-pass")
    assert not verifies(lines[0], "s3cret-pasS")
    assert b"s3cret" not in r.stdout + r.stderr, "the password is never printed"


@case
def password_stdin_reads_one_line_and_default_iterations():
    r = passwd(["--password-stdin"], b"first line\r\nsecond line\n")
    assert r.returncode == 0, r.stderr
    line = r.stdout.decode().strip()
    assert parse(line)[0] == 100000, line
    assert verifies(line, "first line"), "only the first line, without CR LF"


@case
def two_runs_use_different_salts():
    a = passwd(["--iterations=1000"], b"same\n")
    b = passwd(["--iterations=1000"], b"same\n")
    assert a.returncode == 0 and b.returncode == 0
    la, lb = a.stdout.decode().strip(), b.stdout.decode().strip()
    assert la != lb
    assert parse(la)[1] != parse(lb)[1], "salts differ"
    assert verifies(la, "same") and verifies(lb, "same")


@case
def malformed_invocations_fail_with_a_message():
    for args, stdin, needle in [
        (["--bogus"], b"x\n", b"--bogus"),
        (["--iterations"], b"x\n", b"--iterations"),
        (["--iterations", "12"], b"x\n", b"--iterations"),
        (["--iterations", "abc"], b"x\n", b"--iterations"),
        (["--iterations", "99999999999"], b"x\n", b"--iterations"),
        ([], b"", b"no password"),
        ([], b"\n", b"empty"),
    ]:
        r = passwd(args, stdin)
        assert r.returncode != 0, (args, r.returncode)
        assert r.stdout == b"", (args, r.stdout)
        assert needle in r.stderr, (args, r.stderr)


def run_on_tty(answers):
    """Runs passwd on a pseudo-terminal, typing `answers` when asked."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, "passwd", "--iterations", "1000"])
    seen = b""
    typed = 0
    deadline = time.time() + 30
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if typed < len(answers) and seen.count(b"Password") > typed:
            os.write(fd, answers[typed] + b"\n")
            typed += 1
    if time.time() >= deadline:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen


@case
def terminal_asks_twice_without_echo():
    code, seen = run_on_tty([b"tty-secret-1", b"tty-secret-1"])
    assert code == 0, (code, seen)
    assert b"tty-secret-1" not in seen, "the password is not echoed"
    line = [l for l in seen.decode().split() if l.startswith("pbkdf2-sha256$")]
    assert len(line) == 1, seen
    assert verifies(line[0], "tty-secret-1")
    code, seen = run_on_tty([b"one-password", b"another-one"])
    assert code != 0 and b"differ" in seen, (code, seen)
    assert b"pbkdf2" not in seen


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_with_store(store_text):
    """Starts castor with a security store; returns (process, port, dir)."""
    d = tempfile.mkdtemp(prefix="castor-passwd-")
    store = os.path.join(d, "security.yaml")
    with open(store, "w") as f:
        f.write(store_text)
    cfg = os.path.join(d, "castor.yaml")
    with open(cfg, "w") as f:
        f.write("security:\n  store_file: %s\n  anonymous: store\n" % store)
    port = free_port()
    p = subprocess.Popen([BIN, "--config", cfg, "--mqtt-port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, port, store


def store_with(hash_line):
    return ("principals:\n  alice:\n    password: \"%s\"\n"
            "    roles: [READER]\nroles:\n  READER:\n"
            "    default_path: [SELECT_TOPIC, READ_TOPIC]\n" % hash_line)


@case
def the_hash_loads_in_a_security_store_at_startup():
    r = passwd(["--iterations", "1000"], b"alice-password\n")
    assert r.returncode == 0, r.stderr
    p, port, _ = start_with_store(store_with(r.stdout.decode().strip()))
    try:
        deadline = time.time() + 10
        up = False
        while time.time() < deadline and p.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                up = True
                break
            except OSError:
                time.sleep(0.1)
        assert up, "server with the store did not start: %r" % (
            p.stderr.read() if p.poll() is not None else b"still starting")
    finally:
        if p.poll() is None:
            p.terminate()
        p.wait(10)


@case
def a_bad_store_stops_startup_naming_file_line_and_key():
    r = passwd(["--iterations", "1000"], b"alice-password\n")
    broken = r.stdout.decode().strip().replace("pbkdf2-sha256$", "pbkdf2-sha1$")
    p, _, store = start_with_store(store_with(broken))
    try:
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 2, (p.returncode, err)
    text = err.decode()
    assert store + ":3: principals.alice.password" in text, text
    assert "alice-password" not in text


def main():
    passed = failed = 0
    for fn in CASES:
        try:
            fn()
            print("PASS  %s" % fn.__name__)
            passed += 1
        except Exception:
            print("FAIL  %s" % fn.__name__)
            traceback.print_exc()
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
