#!/usr/bin/python3
"""Every curl example of docs/operations.md, run in order against the real
server on the configuration the document names (config/examples/rest.yaml
and its security store config/examples/stores/admin.yaml), with 127.0.0.1:8080 replaced by the test's port.

An example is a line starting with `curl ` in a ```sh block. A comment line
`# expect: STATUS` before it names the HTTP status it must answer (default:
any 2xx); `# expect-body: TEXT` names text its answer must hold. Examples
that need a live MQTT client say `# needs: subscriber TOPIC` (a paho client
connected with client id `sensor-1`, subscribed to TOPIC, is started
before the example)."""

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
    """[(expect_status or None, [expected body texts], needs, command)]."""
    out = []
    in_sh = False
    expect, bodies, needs = None, [], []
    pending = ""
    with open(DOC) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("```"):
                in_sh = line.strip() in ("```sh", "```bash") and not in_sh
                expect, bodies, needs, pending = None, [], [], ""
                continue
            if not in_sh:
                continue
            s = line.strip()
            m = re.match(r"#\s*expect:\s*(\d{3})", s)
            if m:
                expect = int(m.group(1))
                continue
            m = re.match(r"#\s*expect-body:\s*(.+)", s)
            if m:
                bodies.append(m.group(1).strip())
                continue
            m = re.match(r"#\s*needs:\s*(.+)", s)
            if m:
                needs.append(m.group(1).strip())
                continue
            if pending or s.startswith("curl "):
                pending += s[:-1] + " " if s.endswith("\\") else s
                if s.endswith("\\"):
                    continue
                out.append((expect, bodies, needs, pending))
                expect, bodies, needs, pending = None, [], [], ""
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
            for expect, bodies, needs, cmd in found:
                for need in needs:
                    kind, _, arg = need.partition(" ")
                    check_eq(kind, "subscriber", "unknown need in %r" % cmd)
                    import paho.mqtt.client as mqtt
                    c = mqtt.Client(client_id="sensor-1", protocol=mqtt.MQTTv5)
                    c.username_pw_set("admin", "admin-secret")
                    c.connect("127.0.0.1", srv.port)
                    c.loop_start()
                    c.subscribe(arg, qos=1)
                    clients.append(c)
                    time.sleep(0.3)
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
                for b in bodies:
                    check(b in body, "%s\n-> %r lacks %r" % (cmd, body, b))
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_cases()
