#!/usr/bin/python3
"""Interoperability with the Mosquitto command-line clients (mosquitto_pub,
mosquitto_sub) over MQTT 5 and 3.1.1."""

import os
import queue
import signal
import subprocess
import threading
import time

from mqtt_test import *  # noqa: F401,F403

PUB = "/usr/bin/mosquitto_pub"
SUB = "/usr/bin/mosquitto_sub"
VERSIONS = ("mqttv5", "mqttv311")


class Sub:
    """A running mosquitto_sub whose output lines are collected."""

    def __init__(self, port, args, version):
        # Line-buffered output: mosquitto_sub block-buffers a pipe.
        cmd = ["stdbuf", "-oL", SUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-d", "-W", "20"] + args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.lines = queue.Queue()
        self.all = []
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.all.append(line)
            self.lines.put(line)

    def wait_for(self, pred, timeout=5.0, what="line"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestError("mosquitto_sub: no %s within %.0f s; output:\n%s"
                                % (what, timeout, "\n".join(self.all[-20:])))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if pred(line):
                return line

    def subscribed(self):
        self.wait_for(lambda l: "SUBACK" in l, what="SUBACK")

    def messages(self, n, timeout=5.0):
        """The next n message lines (they start with MSG or the topic)."""
        out = []
        for _ in range(n):
            out.append(self.wait_for(lambda l: " MSG" in l or l.startswith("MSG"),
                                     timeout, "message"))
        return out

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestError("mosquitto_sub did not exit; output:\n%s" % "\n".join(self.all[-20:]))


def pub(port, version, topic, message=None, qos=0, extra=(), null=False):
    cmd = [PUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-t", topic, "-q", str(qos)]
    cmd += ["-n"] if null else ["-m", message]
    cmd += list(extra)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    if r.returncode != 0:
        raise TestError("mosquitto_pub failed (%d): %s" % (r.returncode, r.stdout.decode()))


@case()
def pub_sub_every_qos(srv):
    for v in VERSIONS:
        for q in (0, 1, 2):
            t = "ic/%s/q%d" % (v, q)
            s = Sub(srv.port, ["-t", t, "-q", str(q), "-v", "-C", "3"], v)
            try:
                s.subscribed()
                for i in range(3):
                    pub(srv.port, v, t, "MSG%d-%d" % (q, i), qos=q)
                got = s.messages(3)
                check_eq(got, ["%s MSG%d-%d" % (t, q, i) for i in range(3)], "%s QoS %d" % (v, q))
                check_eq(s.wait_exit(), 0, "mosquitto_sub exit status")
            finally:
                s.kill()


@case()
def cross_version(srv):
    t = "ic/cross"
    s = Sub(srv.port, ["-t", t, "-q", "2", "-v", "-C", "2"], "mqttv311")
    try:
        s.subscribed()
        pub(srv.port, "mqttv5", t, "MSG-from5", qos=2)
        pub(srv.port, "mqttv311", t, "MSG-from4", qos=1)
        # Two publishers: no order between them (and the client hands a QoS 2
        # message over only at PUBREL).
        check_eq(sorted(s.messages(2)), [t + " MSG-from4", t + " MSG-from5"], "messages")
    finally:
        s.kill()


@case()
def retained(srv):
    for v in VERSIONS:
        t = "ic/ret/" + v
        pub(srv.port, v, t, "MSG-retained", qos=1, extra=["-r"])
        s = Sub(srv.port, ["-t", t, "-v", "-C", "1", "-F", "%r %t %p"], v)
        try:
            line = s.wait_for(lambda l: "MSG-retained" in l, what="retained message")
            check_eq(line, "1 %s MSG-retained" % t, "retained flag, topic and payload")
            s.wait_exit()
        finally:
            s.kill()
        # Delete it: a later subscriber's first message is a live one
        # published after its SUBACK (a retained one would come first).
        pub(srv.port, v, t, null=True, qos=1, extra=["-r"])
        s = Sub(srv.port, ["-t", t, "-v", "-C", "1", "-F", "%r %t %p"], v)
        try:
            s.subscribed()
            pub(srv.port, v, t, "MSG-marker", qos=1)
            line = s.wait_for(lambda l: "MSG" in l, what="the live message")
            check_eq(line, "0 %s MSG-marker" % t, "no retained message after deletion")
            s.wait_exit()
        finally:
            s.kill()


@case()
def will_message(srv):
    for v in VERSIONS:
        t = "ic/will/" + v
        watcher = connect(srv.port, "ic-watch-" + v)
        watcher.subscribe(t, 1)
        s = Sub(srv.port, ["-t", "ic/nothing", "--will-topic", t, "--will-payload", "MSG-will",
                           "--will-qos", "1"], v)
        try:
            s.subscribed()
        finally:
            s.kill(signal.SIGKILL)  # no DISCONNECT: the will is published
        watcher.expect_publish(t, b"MSG-will", qos=1, ack=True)
        watcher.disconnect()


@case()
def no_will_on_clean_exit(srv):
    t = "ic/nowill"
    watcher = connect(srv.port, "ic-watch-nowill")
    watcher.subscribe(t, 1)
    cid = "ic-nowill-sub"
    s = Sub(srv.port, ["-t", "ic/x", "-C", "1", "-i", cid, "--will-topic", t,
                       "--will-payload", "MSG-no"], "mqttv5")
    try:
        s.subscribed()
        pub(srv.port, "mqttv5", "ic/x", "MSG-bye")
        s.wait_exit()  # exits with a DISCONNECT after one message
    finally:
        s.kill()
    # Its client id again: handled after its session ended (will sent or
    # not); then a marker through the will topic.
    again = connect(srv.port, cid)
    watcher.expect_nothing("will after a clean exit", via=again, topic=t)
    again.disconnect()
    watcher.disconnect()


@case()
def persistent_session(srv):
    for v in VERSIONS:
        t = "ic/persist/" + v
        cid = "ic-persist-" + v
        args = ["-t", t, "-q", "1", "-c", "-i", cid, "-v"]
        if v == "mqttv5":
            args += ["-x", "60"]
        s = Sub(srv.port, args, v)
        try:
            s.subscribed()
        finally:
            s.kill(signal.SIGINT)
        for i in range(3):
            pub(srv.port, v, t, "MSG-offline-%d" % i, qos=1)
        s = Sub(srv.port, args + ["-C", "3"], v)
        try:
            got = s.messages(3)
            check_eq(got, ["%s MSG-offline-%d" % (t, i) for i in range(3)], "queued messages")
            s.wait_exit()
        finally:
            s.kill()


@case()
def v5_properties(srv):
    t = "ic/props"
    s = Sub(srv.port, ["-t", t, "-C", "1", "-F", "%P|%p"], "mqttv5")
    try:
        s.subscribed()
        pub(srv.port, "mqttv5", t, "MSG-props", qos=1,
            extra=["-D", "publish", "user-property", "key", "value",
                   "-D", "publish", "content-type", "text/plain"])
        line = s.wait_for(lambda l: "MSG-props" in l, what="message")
        check_eq(line, "key:value|MSG-props", "user property and payload")
    finally:
        s.kill()


@case()
def many_lines_in_order(srv):
    t = "ic/lines"
    n = 500
    s = Sub(srv.port, ["-t", t, "-q", "1", "-C", str(n)], "mqttv5")
    try:
        s.subscribed()
        data = "".join("MSG%04d\n" % i for i in range(n)).encode()
        r = subprocess.run([PUB, "-h", "127.0.0.1", "-p", str(srv.port), "-V", "mqttv5",
                            "-t", t, "-q", "1", "-l"], input=data, timeout=20,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check_eq(r.returncode, 0, "mosquitto_pub -l status")
        got = s.messages(n, timeout=10)
        check_eq(got, ["MSG%04d" % i for i in range(n)], "messages in order")
    finally:
        s.kill()


if __name__ == "__main__":
    run_cases()
