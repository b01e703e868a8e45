#!/usr/bin/python3
"""`castor passwd`: prints a PBKDF2 hash line for the security store."""

import base64
import hashlib
import os
import time

from mqtt_test import *  # noqa: F401,F403


def passwd(args, stdin, status=0):
    """`castor passwd ARGS` with stdin; status: the exit status expected
    (None: any failure). A sanitizer report or a signal fails the case."""
    return run_castor(["passwd"] + args, input=stdin, status=status)


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


@case(server=False, castor_only=True)
def piped_password_hashes_and_verifies():
    r = passwd(["--iterations", "1000"], b"s3cret-pass\n")
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    iterations, salt, digest = parse(lines[0])
    assert iterations == 1000, iterations
    assert len(salt) == 16 and len(digest) == 32, (len(salt), len(digest))
    assert verifies(lines[0], "s3cret-pass")
    assert not verifies(lines[0], "s3cret-pasS")
    assert b"s3cret" not in r.stdout + r.stderr, "the password is never printed"


@case(server=False, castor_only=True)
def password_stdin_reads_one_line_and_default_iterations():
    r = passwd(["--password-stdin"], b"first line\r\nsecond line\n")
    line = r.stdout.decode().strip()
    assert parse(line)[0] == 100000, line
    assert verifies(line, "first line"), "only the first line, without CR LF"


@case(server=False, castor_only=True)
def two_runs_use_different_salts():
    a = passwd(["--iterations=1000"], b"same\n")
    b = passwd(["--iterations=1000"], b"same\n")
    la, lb = a.stdout.decode().strip(), b.stdout.decode().strip()
    assert la != lb
    assert parse(la)[1] != parse(lb)[1], "salts differ"
    assert verifies(la, "same") and verifies(lb, "same")


@case(server=False, castor_only=True)
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
        r = passwd(args, stdin, status=None)  # each one is expected to fail
        assert r.stdout == b"", (args, r.stdout)
        assert needle in r.stderr, (args, r.stderr)


def run_on_tty(answers):
    """Runs passwd on a pseudo-terminal, typing `answers` when asked."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(castor_bin(), [castor_bin(), "passwd", "--iterations", "1000"], broker_env())
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
    code = os.waitstatus_to_exitcode(status)
    check(code >= 0, "castor passwd killed by signal %d: %r" % (-code, seen))
    reports = sanitizer_reports(seen)
    check(not reports, "sanitizer report from castor passwd: %s" % reports)
    return code, seen


@case(server=False, castor_only=True)
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


def store_with(hash_line):
    return ("principals:\n  alice:\n    password: \"%s\"\n"
            "    roles: [READER]\nroles:\n  READER:\n"
            "    default_path: [SELECT_TOPIC, READ_TOPIC]\n"
            "anonymous:\n  allow: false\n" % hash_line)


def server_with_store(store_text):
    """A Castor whose security store is store_text (anonymous clients are
    refused)."""
    srv = Server()
    store = os.path.join(srv.dir, "security.yaml")
    with open(store, "w") as f:
        f.write(store_text)
    srv.extra_config = "security:\n  store_file: %s\n  anonymous: store\n" % store
    return srv, store


@case(server=False, castor_only=True)
def a_hash_logs_in_and_a_wrong_password_does_not():
    # The line `castor passwd` prints goes into a security store as it is;
    # the server loads it, lets alice in with her password and only with it.
    r = passwd(["--iterations", "1000"], b"alice-password\n")
    srv, _store = server_with_store(store_with(r.stdout.decode().strip()))
    srv.start()
    for version, refused in ((5, 0x86), (4, 4)):
        c = connect(srv.port, "c20-alice%d" % version, version=version,
                    username="alice", password="alice-password")
        # The store's role applies: alice may read (subscribe) ...
        c.subscribe("any/topic", 1, codes=[1])
        c.disconnect()
        for user, pw in (("alice", "alice-passworD"), ("alice", ""), ("bob", "alice-password")):
            c = Conn(srv.port, version)
            c.send(gen_connect("c20-bad%d" % version, version=version, username=user,
                               password=pw))
            p = c.expect(CONNACK)
            check_eq(p.reason_code, refused, "CONNACK for %s/%r, v%d" % (user, pw, version))
            c.expect_closed()
        # Anonymous: refused by the store.
        c = Conn(srv.port, version)
        c.send(gen_connect("c20-anon%d" % version, version=version))
        check_eq(c.expect(CONNACK).reason_code, 0x87 if version == 5 else 5,
                 "CONNACK for an anonymous client, v%d" % version)
        c.expect_closed()


@case(server=False, castor_only=True)
def a_bad_store_stops_startup_naming_file_line_and_key():
    r = passwd(["--iterations", "1000"], b"alice-password\n")
    broken = r.stdout.decode().strip().replace("pbkdf2-sha256$", "pbkdf2-sha1$")
    srv, store = server_with_store(store_with(broken))
    cfg = os.path.join(srv.dir, "castor.yaml")
    srv._write_castor_config(free_port())
    # The server must refuse to start: exit status 2 is expected.
    r = run_castor(["--config", cfg], timeout=20, status=2)
    text = r.stderr.decode()
    check(store + ":3: principals.alice.password" in text, text)
    check("alice-password" not in text, "the password is not printed")


if __name__ == "__main__":
    run_cases()
