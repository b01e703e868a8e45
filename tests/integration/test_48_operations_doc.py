#!/usr/bin/python3
"""Every curl example of docs/operations.md, run in order against the real
server on the configuration the document names (config/examples/rest.yaml
and its security store config/examples/stores/admin.yaml, copied: the
examples change it), with 127.0.0.1:8080 replaced by the test's port.

An example is a line starting with `curl ` in a ```sh block; the comment
line `# -> ...` after it is its documented answer: `# -> 401 {...}` names
the status (else any 2xx), and an answer documented with "ok":true must
hold "ok":true. The session examples name client id pump-7: a paho client
of that id is connected first."""

import os
import re
import shutil
import subprocess
import tempfile
import time

from mqtt_test import *  # noqa: F401,F403
from transport_util import TransportServer

DOC = os.path.join(os.environ.get("CASTOR_SOURCE_DIR", "../.."), "docs", "operations.md")
EXAMPLES = os.path.join(os.environ.get("CASTOR_SOURCE_DIR", "../.."), "config", "examples")


def examples():
    """[[command, expected status or None, documented answer]]."""
    out = []
    in_sh = False
    pending = ""
    with open(DOC) as f:
        for raw in f:
            s = raw.strip()
            if s.startswith("```"):
                in_sh = s in ("```sh", "```bash") and not in_sh
                continue
            if not in_sh:
                continue
            m = re.match(r"#\s*->\s*(.*)", s)
            if m and out and out[-1][2] is None:
                answer = m.group(1)
                status = re.match(r"(\d{3})\b", answer)
                out[-1][1] = int(status.group(1)) if status else None
                out[-1][2] = answer
                continue
            if pending or s.startswith("curl "):
                pending += s[:-1] + " " if s.endswith("\\") else s
                if s.endswith("\\"):
                    continue
                out.append([pending, None, None])
                pending = ""
    return out


class DocServer(TransportServer):
    """The server on the example configuration's security settings."""

    def __init__(self, security_yaml):
        super().__init__([{"name": "http", "transport": "http"}])
        self.security_yaml = security_yaml

    def _write_castor_config(self, port):
        path = super()._write_castor_config(port)
        with open(path, "a") as f:
            f.write(self.security_yaml)
        return path


@case(server=False, castor_only=True, timeout=120)
def the_curl_examples_of_the_operations_guide_work():
    found = examples()
    check(len(found) >= 10, "only %d curl examples in %s" % (len(found), DOC))
    work = tempfile.mkdtemp(prefix="castor-doc-")
    # The example store is edited by the examples: work on a copy.
    shutil.copy(os.path.join(EXAMPLES, "stores", "admin.yaml"), work)
    with open(os.path.join(EXAMPLES, "rest.yaml")) as f:
        text = f.read()
    security = text[text.index("security:"):]
    security = security.replace("config/examples/stores/admin.yaml",
                                os.path.join(work, "admin.yaml"))
    clients = []
    try:
        with DocServer(security) as srv:
            port = srv.ports["http"]
            import paho.mqtt.client as mqtt
            pump = mqtt.Client(client_id="pump-7", protocol=mqtt.MQTTv5)
            pump.username_pw_set("admin", "admin-secret")
            pump.connect("127.0.0.1", srv.port)
            pump.loop_start()
            clients.append(pump)
            deadline = time.monotonic() + 10
            while not pump.is_connected() and time.monotonic() < deadline:
                time.sleep(0.05)
            check(pump.is_connected(), "pump-7 did not connect")
            for cmd, expect, answer in found:
                run = cmd.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)
                run = run.replace("localhost:8080", "127.0.0.1:%d" % port)
                r = subprocess.run(run + " -w '\\n%{http_code}'", shell=True,
                                   capture_output=True, timeout=20, cwd=work)
                text = r.stdout.decode("utf-8", "replace")
                body, _, status = text.rpartition("\n")
                check(status.isdigit(), "no status from %r: %r %r" % (cmd, text, r.stderr))
                status = int(status)
                if expect is None:
                    check(200 <= status < 300, "%s\n-> %d %s" % (cmd, status, body))
                else:
                    check_eq(status, expect, "%s -> %s" % (cmd, body))
                if answer and '"ok":true' in answer.replace(" ", ""):
                    check('"ok":true' in body.replace(" ", ""), "%s\n-> %s" % (cmd, body))
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_cases()
