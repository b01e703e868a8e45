#!/usr/bin/python3
"""Request-response between clients through the C++ SDK: castor-cli
`serve` (add_handler: handlers/add, then answering each request PUBLISH on
its response topic with its correlation data) and `request`
(send_request), error answers with the `castor-error` user property.

Needs the server's message paths and `handlers/add`: not registered in
CTest until the server serves them (tests/CMakeLists.txt)."""

import json
import subprocess
import time

from mqtt_test import *  # noqa: F401,F403
import mqtt_test
from test_33_sdk_cli import cli, cli_path, fails, ok_cli

del mqtt_test._CASES[:]  # test_33's cases run in their own file


def start_server(port, path, *command, count=None):
    cmd = [cli_path(), "-h", "127.0.0.1", "-p", str(port), "serve", path]
    if count is not None:
        cmd += ["-C", str(count)]
    p = subprocess.Popen(cmd + ["--"] + list(command), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=client_env())
    line = p.stderr.readline().decode()
    check("serving" in line, "serve registered its handler: %r" % line)
    return p


@case(castor_only=True)
def cli_request_answered_by_cli_serve(srv):
    path = unique("c29/svc")
    server = start_server(srv.port, path, "tr", "a-z", "A-Z", count=2)
    check_eq(ok_cli(srv.port, "request", path, "hello"), "HELLO\n", "first answer")
    check_eq(json.loads(ok_cli(srv.port, "--json", "request", path, "again"))["payload"],
             "AGAIN", "second answer, --json")
    check_eq(server.wait(timeout=10), 0, "serve -C 2 exits after two requests")


@case(castor_only=True)
def a_failing_command_answers_an_error(srv):
    path = unique("c29/fail")
    server = start_server(srv.port, path, "sh", "-c", "cat >/dev/null; exit 3", count=1)
    fails(srv.port, 1, "error HANDLER_FAILED: ", "request", path, "x")
    check_eq(server.wait(timeout=10), 0, "serve exits")


@case(castor_only=True)
def request_to_a_path_nobody_serves_times_out(srv):
    fails(srv.port, 4, "error TIMEOUT: ", "--timeout", "1", "request", unique("c29/none"), "x")


if __name__ == "__main__":
    run_cases()
