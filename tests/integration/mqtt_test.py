"""Integration test harness for Castor.

Two parts:

* Server control: starts the broker under test (Castor, or Mosquitto when
  CASTOR_TEST_BROKER=mosquitto) on a free loopback port with a generated
  configuration, waits until it accepts connections and stops it afterwards.
* A packet-level MQTT helper in the manner of Mosquitto's test/mosq_test.py:
  an independent encoder for every packet (MQTT 5.0 and 3.1.1, with
  properties), exact-bytes expectations with a hex diff, a small decoder for
  assertions where exact bytes would be brittle, and receive helpers that
  never block for longer than a bounded timeout.

Plus a tiny test runner: cases are registered with @case, each runs against
its own freshly started server, one line is printed per case and the last
line is "N passed, N failed"; the exit status is non-zero on any failure.
"""

import atexit
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

# ---------------------------------------------------------------------------
# Which broker
# ---------------------------------------------------------------------------

BROKER = os.environ.get("CASTOR_TEST_BROKER", "castor").strip().lower() or "castor"
IS_MOSQUITTO = BROKER == "mosquitto"
IS_CASTOR = not IS_MOSQUITTO
MOSQUITTO_BIN = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULT_TIMEOUT = 5.0


def castor_bin():
    b = os.environ.get("CASTOR_BIN")
    if b:
        # The broker runs in its own directory: a relative path would not do.
        return os.path.abspath(b)
    src = os.environ.get("CASTOR_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
    for d in ("build", "build-integ"):
        p = os.path.join(src, d, "app", "castor")
        if os.path.exists(p):
            return p
        p = os.path.join(src, d, "castor")
        if os.path.exists(p):
            return p
    raise RuntimeError("CASTOR_BIN is not set and no castor binary was found; "
                       "set CASTOR_BIN or CASTOR_TEST_BROKER=mosquitto")


# ---------------------------------------------------------------------------
# The broker process: sanitizer settings, reports, exit status
# ---------------------------------------------------------------------------

# How long a broker may take to exit after SIGTERM before the case fails
# as a hang at shutdown (a sanitizer build needs longer than a plain one).
STOP_TIMEOUT = float(os.environ.get("CASTOR_TEST_STOP_TIMEOUT", "10"))

# Lines by which AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
# announce a finding (UBSan's "runtime error:" also when it continues).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "LeakSanitizer has encountered a fatal error",
                     "AddressSanitizer:DEADLYSIGNAL", "ERROR: UndefinedBehaviorSanitizer",
                     "UndefinedBehaviorSanitizer:DEADLYSIGNAL", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: AddressSanitizer",
                     "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_reports(text):
    """The lines of `text` that belong to a sanitizer report (empty when
    there is none)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


def _with_defaults(options, defaults):
    """options: a sanitizer option string (a:b=1:c=2); adds each default
    whose key is not set yet (explicit settings win)."""
    have = {o.split("=", 1)[0] for o in options.split(":") if o}
    extra = ["%s=%s" % (k, v) for k, v in defaults if k not in have]
    return ":".join([o for o in options.split(":") if o] + extra)


def broker_env():
    """The environment for a castor process started by the tests. In a
    sanitizer build (-DCASTOR_SANITIZE=ON) every report must reach the log and
    end the process with a non-zero status: leaks are checked at exit, UBSan
    stops at its first report (with a stack), reports go to stderr; the
    project's UBSan suppressions apply. Settings already in the environment
    (scripts/test.sh sets them) are kept; these fill in what is missing.
    Ignored by a build without sanitizers."""
    env = dict(os.environ)
    src = os.environ.get("CASTOR_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
    env["ASAN_OPTIONS"] = _with_defaults(env.get("ASAN_OPTIONS", ""), [
        ("detect_leaks", "1"), ("exitcode", "1"), ("log_path", "stderr")])
    ubsan = [("print_stacktrace", "1"), ("halt_on_error", "1"), ("log_path", "stderr")]
    supp = os.path.join(src, "tests", "sanitizers", "ubsan.supp")
    if os.path.exists(supp):
        ubsan.append(("suppressions", supp))
    env["UBSAN_OPTIONS"] = _with_defaults(env.get("UBSAN_OPTIONS", ""), ubsan)
    return env


def run_castor(args, input=None, timeout=60, status=0):
    """Runs `castor ARGS` to its end (a command such as passwd, or a server
    that must not start); returns the CompletedProcess. Fails on a sanitizer
    report, a death by signal, a run longer than timeout, and an exit status
    other than `status` (None: any non-zero status, for commands that are
    expected to fail)."""
    # In a directory of its own: a server that gets as far as opening its
    # store (storage.data_dir, relative) leaves it there.
    cwd = tempfile.mkdtemp(prefix="castor-run-")
    try:
        r = subprocess.run([castor_bin()] + list(args), input=input, capture_output=True,
                           timeout=timeout, env=broker_env(), cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise TestError("castor %s did not exit within %d s: %r"
                        % (" ".join(args[:1]), timeout, e.stderr))
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    what = "castor " + " ".join(args[:1])
    reports = sanitizer_reports(r.stdout + r.stderr)
    if reports:
        raise TestError("%s: sanitizer report:\n%s\n%s"
                        % (what, "\n".join(reports[:10]), r.stderr.decode("utf-8", "replace")[-3000:]))
    if r.returncode < 0:
        raise TestError("%s: killed by signal %d" % (what, -r.returncode))
    if status is None:
        if r.returncode == 0:
            raise TestError("%s: exit status 0, expected a failure" % what)
    elif r.returncode != status:
        raise TestError("%s: exit status %d, expected %d (%r)"
                        % (what, r.returncode, status, r.stderr[-500:]))
    return r


_PASSWORD_HASHES = {}


def password_hash(password, iterations=1000):
    """The store's hash of `password` (`castor passwd`, few iterations so
    that tests log in fast), made once per password."""
    key = (password, iterations)
    if key not in _PASSWORD_HASHES:
        r = run_castor(["passwd", "--iterations", str(iterations)],
                       input=(password + "\n").encode())
        _PASSWORD_HASHES[key] = r.stdout.decode().strip()
    return _PASSWORD_HASHES[key]


class Skip(Exception):
    """Raised by a case that does not apply to the broker under test."""


class TestError(AssertionError):
    pass


class Closed(TestError):
    """The peer closed the connection while a packet was expected."""


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Castor mqtt settings -> Mosquitto configuration lines. A value of None
# means Mosquitto has no equivalent.
def _mosq_bool(v):
    return "true" if v else "false"


MOSQUITTO_GLOBAL = {
    "max_packet_size": lambda v: "max_packet_size %d" % v,
    "receive_maximum": lambda v: "max_inflight_messages %d" % v,
    "max_keep_alive": lambda v: "max_keepalive %d" % v,
    "retain_available": lambda v: "retain_available %s" % _mosq_bool(v),
    "allow_empty_client_id": lambda v: "allow_zero_length_clientid %s" % _mosq_bool(v),
    "max_queued_messages": lambda v: "max_queued_messages %d" % v,
}
MOSQUITTO_LISTENER = {
    "topic_alias_maximum": lambda v: "max_topic_alias %d" % v,
    "maximum_qos": lambda v: "max_qos %d" % v,
}


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return str(v)


class Server:
    """The broker under test on a free loopback port.

    overrides: mqtt settings (keys of app/config.hpp's mqtt_config). For
    Mosquitto they are mapped where an equivalent exists; the others are
    listed in self.unmapped so that a case can skip assertions that depend
    on them (see require()).
    """

    def __init__(self, overrides=None, start_timeout=10.0, extra_config="",
                 log_level=os.environ.get("CASTOR_TEST_LOG_LEVEL", "info")):
        self.overrides = dict(overrides or {})
        # Castor only: YAML appended to the generated configuration (other
        # top-level sections such as security:), and the log level.
        self.extra_config = extra_config
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.dir = tempfile.mkdtemp(prefix="castor-integ-")
        self.log_path = os.path.join(self.dir, "server.log")
        self.unmapped = set()
        self.kind = BROKER
        self.logf = None
        self.stopped = False
        self.exit_expected = None
        self.problems = []

    # -- configuration -----------------------------------------------------
    # The port is given on the command line too (--mqtt-port: the first tcp
    # listener's), as an operator would.
    port_on_command_line = True

    def _write_castor_config(self, port):
        path = os.path.join(self.dir, "castor.yaml")
        lines = ["log_level: info"]
        # CASTOR_TEST_PLACEMENT=workers|io_thread runs sessions and topics
        # where the test suite asks (default: the configuration's default).
        if os.environ.get("CASTOR_TEST_PLACEMENT"):
            lines.append("actor_placement: %s"
                         % os.environ["CASTOR_TEST_PLACEMENT"])
        lines += ["listeners:",
                 "  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d}" % port]
        if self.overrides:
            lines.append("mqtt:")
            for k, v in self.overrides.items():
                lines.append("  %s: %s" % (k, _yaml_scalar(v)))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
            if self.extra_config:
                f.write(self.extra_config.rstrip("\n") + "\n")
        return path

    def _write_mosquitto_config(self, port):
        path = os.path.join(self.dir, "mosquitto.conf")
        glob = ["allow_anonymous true", "persistence false",
                "log_dest stderr", "log_type all", "log_timestamp true"]
        lst = ["listener %d 127.0.0.1" % port]
        self.unmapped = set()
        for k, v in self.overrides.items():
            if k in MOSQUITTO_GLOBAL:
                glob.append(MOSQUITTO_GLOBAL[k](v))
            elif k in MOSQUITTO_LISTENER:
                lst.append(MOSQUITTO_LISTENER[k](v))
            else:
                self.unmapped.add(k)
        with open(path, "w") as f:
            f.write("\n".join(glob + lst) + "\n")
        return path

    def require(self, *keys):
        """Skip when one of the given settings has no Mosquitto equivalent."""
        missing = [k for k in keys if k in self.unmapped]
        if missing:
            raise Skip("%s has no equivalent in %s" % (", ".join(missing), self.kind))

    # -- life cycle --------------------------------------------------------
    def start(self):
        last_err = None
        for _attempt in range(3):
            port = free_port()
            if IS_MOSQUITTO:
                conf = self._write_mosquitto_config(port)
                cmd = [MOSQUITTO_BIN, "-c", conf]
            else:
                conf = self._write_castor_config(port)
                cmd = [castor_bin(), "--config", conf, "--log-level",
                       self.log_level]
                if self.port_on_command_line:
                    cmd += ["--mqtt-port", str(port)]
            self.logf = open(self.log_path, "ab")
            self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir,
                                         start_new_session=True, env=broker_env())
            if self not in _STARTED:
                _STARTED.append(self)
            self.port = port
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    c = socket.create_connection(("127.0.0.1", port), timeout=0.5)
                    c.close()
                    return self
                except OSError:
                    time.sleep(0.02)
            if self.proc.poll() is None:
                last_err = "did not accept connections within %.0f s" % self.start_timeout
                self.stop()
                break
            last_err = "exited with status %s" % _status(self.proc.returncode)
            self.logf.close()
            if sanitizer_reports(self.log()):
                break
            # maybe the port was taken in between: retry with another one
        self.expect_exit("failed to start")
        raise RuntimeError("%s failed to start: %s\n--- server log ---\n%s"
                           % (self.kind, last_err, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def expect_exit(self, why="the case ends the server on purpose"):
        """Declares that this server will exit (or be killed) during the case,
        so that an exit before stop() and its status are not failures. A
        sanitizer report in its log still is."""
        self.exit_expected = why

    def kill(self, sig=signal.SIGKILL):
        """Kills the server on purpose (default SIGKILL) and waits for it."""
        self.expect_exit("killed with signal %d by the case" % sig)
        if self.alive():
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self):
        """Stops the server with SIGTERM and records what is wrong with it
        in self.problems: it exited before (a crash during the case), it did
        not exit within STOP_TIMEOUT seconds (a hang at shutdown; it is then
        killed), its exit status is not 0, or its log has a sanitizer report.
        Idempotent; raises nothing (run_cases() turns problems into a
        failure)."""
        if self.proc is None or self.stopped:
            return self.problems
        self.stopped = True
        status_before = self.proc.poll()
        if status_before is not None:
            if not self.exit_expected:
                self.problems.append("the server exited during the case (status %s)"
                                     % _status(status_before))
        else:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.problems.append("the server did not exit within %.0f s after SIGTERM "
                                     "(hang at shutdown); killed" % STOP_TIMEOUT)
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait(timeout=10)
            else:
                if self.proc.returncode != 0 and not self.exit_expected:
                    self.problems.append("exit status %s after SIGTERM, expected 0"
                                         % _status(self.proc.returncode))
        try:
            self.logf.close()
        except Exception:  # noqa: BLE001
            pass
        reports = sanitizer_reports(self.log())
        if reports:
            self.problems.append("sanitizer report in the server's output:\n  "
                                 + "\n  ".join(reports[:12]))
        return self.problems

    def cleanup(self):
        """stop(); the directory (configuration, log) is removed once the
        case's result is known (run_cases), or at exit."""
        self.stop()
        if self not in _STARTED:
            self.remove_dir()

    def remove_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False


# Every server started by this process, until run_cases() has checked it.
_STARTED = []


def _status(code):
    return "killed by signal %d" % -code if code is not None and code < 0 else str(code)


def finish_servers():
    """Stops every server started since the last call; returns them (their
    .problems say whether one crashed, hung at shutdown, exited non-zero or
    reported a sanitizer finding). The caller removes their directories."""
    out = []
    while _STARTED:
        srv = _STARTED.pop(0)
        srv.stop()
        out.append(srv)
    return out


def _finish_at_exit():
    bad = False
    for srv in finish_servers():
        for p in srv.problems:
            print("%s problem (outside a case): %s" % (srv.kind, p))
            bad = True
        srv.remove_dir()
    if bad:
        sys.stdout.flush()
        os._exit(1)


atexit.register(_finish_at_exit)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15
PACKET_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
                6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
                10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
                14: "DISCONNECT", 15: "AUTH"}

# Property id -> (name, type)
PROPERTIES = {
    1: ("payload_format_indicator", "byte"),
    2: ("message_expiry_interval", "u32"),
    3: ("content_type", "str"),
    8: ("response_topic", "str"),
    9: ("correlation_data", "bin"),
    11: ("subscription_identifier", "varint"),
    17: ("session_expiry_interval", "u32"),
    18: ("assigned_client_identifier", "str"),
    19: ("server_keep_alive", "u16"),
    21: ("authentication_method", "str"),
    22: ("authentication_data", "bin"),
    23: ("request_problem_information", "byte"),
    24: ("will_delay_interval", "u32"),
    25: ("request_response_information", "byte"),
    26: ("response_information", "str"),
    28: ("server_reference", "str"),
    31: ("reason_string", "str"),
    33: ("receive_maximum", "u16"),
    34: ("topic_alias_maximum", "u16"),
    35: ("topic_alias", "u16"),
    36: ("maximum_qos", "byte"),
    37: ("retain_available", "byte"),
    38: ("user_property", "pair"),
    39: ("maximum_packet_size", "u32"),
    40: ("wildcard_subscription_available", "byte"),
    41: ("subscription_identifier_available", "byte"),
    42: ("shared_subscription_available", "byte"),
}
PROPERTY_IDS = {name: pid for pid, (name, _t) in PROPERTIES.items()}


def pack_varint(n):
    if n < 0 or n > 268435455:
        raise ValueError("varint out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _b(s):
    if s is None:
        return b""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return s.encode("utf-8")


def pack_str(s):
    s = _b(s)
    return struct.pack("!H", len(s)) + s


def pack_property(name, value):
    pid = PROPERTY_IDS[name] if isinstance(name, str) else name
    ptype = PROPERTIES[pid][1]
    head = pack_varint(pid)
    if ptype == "byte":
        return head + struct.pack("!B", value)
    if ptype == "u16":
        return head + struct.pack("!H", value)
    if ptype == "u32":
        return head + struct.pack("!I", value)
    if ptype == "varint":
        return head + pack_varint(value)
    if ptype in ("str", "bin"):
        return head + pack_str(value)
    if ptype == "pair":
        return head + pack_str(value[0]) + pack_str(value[1])
    raise ValueError(ptype)


def pack_properties(props):
    """props: None, a dict or a list of (name, value) pairs (a list may hold
    the same name twice, e.g. user_property or a deliberate duplicate)."""
    if props is None:
        items = []
    elif isinstance(props, dict):
        items = []
        for k, v in props.items():
            if k == "user_property" and isinstance(v, list):
                items.extend(("user_property", p) for p in v)
            else:
                items.append((k, v))
    elif isinstance(props, (bytes, bytearray)):
        body = bytes(props)  # pre-encoded, for malformed tests
        return pack_varint(len(body)) + body
    else:
        items = list(props)
    body = b"".join(pack_property(k, v) for k, v in items)
    return pack_varint(len(body)) + body


def fixed_header(ptype, flags, remaining):
    return struct.pack("!B", (ptype << 4) | flags) + pack_varint(remaining)


def packet(ptype, flags, body):
    return fixed_header(ptype, flags, len(body)) + body


def gen_connect(client_id, version=5, clean_start=True, keepalive=60, username=None,
                password=None, will_topic=None, will_payload=b"", will_qos=0,
                will_retain=False, will_properties=None, properties=None,
                proto_name=None, connect_flags=None):
    if proto_name is None:
        proto_name = "MQIsdp" if version == 3 else "MQTT"
    flags = 0
    if clean_start:
        flags |= 0x02
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if connect_flags is not None:
        flags = connect_flags
    body = pack_str(proto_name) + struct.pack("!BBH", version, flags, keepalive)
    if version == 5:
        body += pack_properties(properties)
    body += pack_str(client_id)
    if will_topic is not None:
        if version == 5:
            body += pack_properties(will_properties)
        body += pack_str(will_topic) + pack_str(will_payload)
    if username is not None:
        body += pack_str(username)
    if password is not None:
        body += pack_str(password)
    return packet(CONNECT, 0, body)


def gen_connack(session_present=False, rc=0, version=5, properties=None):
    body = struct.pack("!BB", 1 if session_present else 0, rc)
    if version == 5:
        body += pack_properties(properties)
    return packet(CONNACK, 0, body)


def gen_publish(topic, qos=0, payload=b"", retain=False, dup=False, packet_id=None,
                properties=None, version=5):
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = pack_str(topic)
    if qos > 0:
        body += struct.pack("!H", packet_id if packet_id is not None else 1)
    if version == 5:
        body += pack_properties(properties)
    body += _b(payload)
    return packet(PUBLISH, flags, body)


def _gen_ack(ptype, flags, packet_id, reason_code, properties, version):
    body = struct.pack("!H", packet_id)
    if version == 5 and (reason_code or properties):
        body += struct.pack("!B", reason_code or 0)
        if properties:
            body += pack_properties(properties)
    return packet(ptype, flags, body)


def gen_puback(packet_id, reason_code=0, properties=None, version=5):
    return _gen_ack(PUBACK, 0, packet_id, reason_code, properties, version)


def gen_pubrec(packet_id, reason_code=0, properties=None, version=5):
    return _gen_ack(PUBREC, 0, packet_id, reason_code, properties, version)


def gen_pubrel(packet_id, reason_code=0, properties=None, version=5):
    return _gen_ack(PUBREL, 2, packet_id, reason_code, properties, version)


def gen_pubcomp(packet_id, reason_code=0, properties=None, version=5):
    return _gen_ack(PUBCOMP, 0, packet_id, reason_code, properties, version)


def sub_options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    return qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) | \
        (retain_handling << 4)


def gen_subscribe(packet_id, topics, qos=0, version=5, properties=None, **opts):
    """topics: a filter string, or a list of filter strings or (filter,
    options byte) pairs."""
    if isinstance(topics, str):
        topics = [topics]
    body = struct.pack("!H", packet_id)
    if version == 5:
        body += pack_properties(properties)
    for t in topics:
        if isinstance(t, tuple):
            f, o = t
        else:
            f, o = t, sub_options(qos, **opts) if version == 5 else qos
        body += pack_str(f) + struct.pack("!B", o)
    return packet(SUBSCRIBE, 2, body)


def gen_suback(packet_id, codes, version=5, properties=None):
    if isinstance(codes, int):
        codes = [codes]
    body = struct.pack("!H", packet_id)
    if version == 5:
        body += pack_properties(properties)
    body += bytes(codes)
    return packet(SUBACK, 0, body)


def gen_unsubscribe(packet_id, topics, version=5, properties=None):
    if isinstance(topics, str):
        topics = [topics]
    body = struct.pack("!H", packet_id)
    if version == 5:
        body += pack_properties(properties)
    for t in topics:
        body += pack_str(t)
    return packet(UNSUBSCRIBE, 2, body)


def gen_unsuback(packet_id, codes=None, version=5, properties=None):
    body = struct.pack("!H", packet_id)
    if version == 5:
        if isinstance(codes, int):
            codes = [codes]
        body += pack_properties(properties) + bytes(codes or [])
    return packet(UNSUBACK, 0, body)


def gen_pingreq():
    return b"\xc0\x00"


def gen_pingresp():
    return b"\xd0\x00"


def gen_disconnect(reason_code=0, properties=None, version=5):
    body = b""
    if version == 5 and (reason_code or properties):
        body = struct.pack("!B", reason_code)
        if properties:
            body += pack_properties(properties)
    return packet(DISCONNECT, 0, body)


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------

class Props(list):
    """Decoded properties: a list of (name, value) pairs in wire order."""

    def get(self, name, default=None):
        for k, v in self:
            if k == name:
                return v
        return default

    def getall(self, name):
        return [v for k, v in self if k == name]

    def names(self):
        return [k for k, _v in self]


class ProtocolError(TestError):
    pass


class Reader:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def left(self):
        return len(self.d) - self.i

    def take(self, n):
        if self.i + n > len(self.d):
            raise ProtocolError("truncated packet")
        out = self.d[self.i:self.i + n]
        self.i += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        mult, val = 1, 0
        for _ in range(4):
            b = self.u8()
            val += (b & 0x7F) * mult
            if not b & 0x80:
                return val
            mult *= 128
        raise ProtocolError("malformed variable byte integer")

    def binary(self):
        return self.take(self.u16())

    def string(self):
        raw = self.binary()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid UTF-8 in string %r" % raw)

    def properties(self):
        n = self.varint()
        end = self.i + n
        if end > len(self.d):
            raise ProtocolError("property length beyond packet")
        out = Props()
        while self.i < end:
            pid = self.varint()
            if pid not in PROPERTIES:
                raise ProtocolError("unknown property id %d" % pid)
            name, t = PROPERTIES[pid]
            if t == "byte":
                v = self.u8()
            elif t == "u16":
                v = self.u16()
            elif t == "u32":
                v = self.u32()
            elif t == "varint":
                v = self.varint()
            elif t == "str":
                v = self.string()
            elif t == "bin":
                v = self.binary()
            else:
                v = (self.string(), self.string())
            out.append((name, v))
        if self.i != end:
            raise ProtocolError("property length mismatch")
        repeatable = ("user_property", "subscription_identifier")
        seen = [k for k in out.names() if k not in repeatable]
        if len(seen) != len(set(seen)):
            raise ProtocolError("duplicate property in %s" % out.names())
        return out


class Packet:
    """A decoded packet. Fields depend on the type; see decode()."""

    def __init__(self, raw, ptype, flags):
        self.raw = raw
        self.type = ptype
        self.name = PACKET_NAMES.get(ptype, "RESERVED")
        self.flags = flags
        self.props = Props()
        self.reason_code = 0
        self.packet_id = None

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k not in ("raw", "type", "flags")}
        if "payload" in fields and len(fields["payload"]) > 64:
            fields["payload"] = fields["payload"][:64] + b"..."
        return "<%s %s>" % (self.name, fields)


EXPECTED_FLAGS = {CONNACK: 0, PUBACK: 0, PUBREC: 0, PUBREL: 2, PUBCOMP: 0, SUBACK: 0,
                  UNSUBACK: 0, PINGRESP: 0, DISCONNECT: 0, AUTH: 0}


def decode(raw, version=5):
    """Decodes one whole packet (fixed header included), as sent by a server.
    Checks reserved flags and structure; raises ProtocolError."""
    r = Reader(raw)
    b0 = r.u8()
    ptype, flags = b0 >> 4, b0 & 0x0F
    rl = r.varint()
    if r.left() != rl:
        raise ProtocolError("remaining length %d but %d bytes" % (rl, r.left()))
    p = Packet(raw, ptype, flags)
    if ptype in EXPECTED_FLAGS and flags != EXPECTED_FLAGS[ptype]:
        raise ProtocolError("%s with reserved flags 0x%x" % (p.name, flags))
    v5 = version == 5
    if ptype == CONNACK:
        ack = r.u8()
        if ack & 0xFE:
            raise ProtocolError("CONNACK acknowledge flags 0x%x" % ack)
        p.session_present = bool(ack & 1)
        p.reason_code = r.u8()
        if v5:
            p.props = r.properties()
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 3
        p.dup = bool(flags & 8)
        p.retain = bool(flags & 1)
        if p.qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        p.topic = r.string()
        if p.qos:
            p.packet_id = r.u16()
            if p.packet_id == 0:
                raise ProtocolError("PUBLISH with packet id 0")
        if v5:
            p.props = r.properties()
        p.payload = r.take(r.left())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.packet_id = r.u16()
        if v5 and r.left():
            p.reason_code = r.u8()
            if r.left():
                p.props = r.properties()
    elif ptype in (SUBACK, UNSUBACK):
        p.packet_id = r.u16()
        if v5:
            p.props = r.properties()
        p.reason_codes = list(r.take(r.left()))
    elif ptype == PINGRESP:
        pass
    elif ptype in (DISCONNECT, AUTH):
        if v5 and r.left():
            p.reason_code = r.u8()
            if r.left():
                p.props = r.properties()
    else:
        raise ProtocolError("a server does not send %s (first byte 0x%02x)" % (p.name, b0))
    if r.left():
        raise ProtocolError("%d trailing bytes in %s" % (r.left(), p.name))
    return p


def to_hex(data):
    return " ".join("%02x" % b for b in data)


def describe(raw, version=5):
    try:
        return repr(decode(raw, version))
    except Exception as e:  # noqa: BLE001
        return "(not decodable: %s)" % e


# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------

# Packets that may be in flight when the server closes a connection.
IN_FLIGHT = (PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP)

# Packet identifier of the marker subscription (until_marker); cases use
# small identifiers.
MARKER_PACKET_ID = 0xFFF7
# Payloads of the markers sent so far: every connection ignores them.
_MARKERS = set()


def _is_marker(p):
    return p.type == PUBLISH and p.payload in _MARKERS


class Conn:
    """A client connection with a receive buffer and bounded reads."""

    def __init__(self, port, version=5, timeout=DEFAULT_TIMEOUT, host="127.0.0.1"):
        self.version = version
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.pending = []  # decoded packets set aside by recv_matching()

    # -- raw I/O ------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise Closed("connection closed by the server")
        self.buf += chunk

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            if self.eof:
                raise Closed("connection closed by the server")
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _packet_len(self):
        """Length of the first buffered packet, or None if not known yet."""
        if len(self.buf) < 2:
            return None
        mult, val = 1, 0
        for i in range(1, 5):
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            val += (b & 0x7F) * mult
            if not b & 0x80:
                return 1 + i + val
            mult *= 128
        raise ProtocolError("malformed remaining length from server")

    def recv_raw(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            n = self._packet_len()
            if n is not None and len(self.buf) >= n:
                out = bytes(self.buf[:n])
                del self.buf[:n]
                return out
            if self.eof:
                raise Closed("connection closed by the server")
            try:
                self._fill(deadline)
            except socket.timeout:
                raise TestError("no packet within %.1f s" % timeout) from None

    def recv(self, timeout=None, skip_ping=True):
        """Next decoded packet (PINGRESP skipped unless skip_ping=False; copies
        of a marker of until_marker() are skipped too)."""
        if self.pending:
            return self.pending.pop(0)
        while True:
            p = decode(self.recv_raw(timeout), self.version)
            if p.type == PINGRESP and skip_ping:
                continue
            if _is_marker(p):
                continue
            return p

    def recv_matching(self, pred, timeout=None, stash=lambda p: p.type == PUBLISH):
        """Next packet for which pred is true; packets for which stash is true
        are set aside for later recv() calls (a server may interleave a
        PUBLISH with the acknowledgement being waited for)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        held = []
        try:
            while True:
                p = decode(self.recv_raw(max(0.01, deadline - time.monotonic())), self.version)
                if p.type == PINGRESP or _is_marker(p):
                    continue
                if pred(p):
                    return p
                if stash(p):
                    held.append(p)
                    continue
                raise TestError("unexpected %r" % p)
        finally:
            self.pending.extend(held)

    def poll(self, timeout=0.2):
        """Next packet if one arrives within timeout, else None."""
        try:
            return self.recv(timeout)
        except TestError as e:
            if isinstance(e, (Closed, ProtocolError)):
                raise
            return None

    # -- absence -----------------------------------------------------------
    def until_marker(self, via=None, topic=None, timeout=None):
        """A marker round trip: `via` (default: this connection) publishes a
        marker (QoS 0, a payload unique to this call) that this connection
        receives; returns the packets that reached this connection before
        the marker.

        The marker proves that routing has caught up: every publish that
        `via` sent before it has been read and handed on by the server, so a
        message that should not reach this connection would have had its
        chance. `topic`: a topic this connection is subscribed to already,
        so that the marker takes the same path as the message that must not
        come (messages are ordered per topic and subscriber: that message
        would arrive first); by default the connection subscribes to a fresh
        marker topic for the round trip and unsubscribes again.

        Copies of the marker (overlapping subscriptions, other connections
        subscribed to `#`) are ignored by every recv() later on."""
        via = via or self
        timeout = self.timeout if timeout is None else timeout
        payload = b"marker " + unique("m").encode()
        _MARKERS.add(payload)
        got = []
        own = topic is None
        if own:
            topic = unique("marker")
            self.send(gen_subscribe(MARKER_PACKET_ID, topic, qos=0, version=self.version))
            ack = self._collect_until(lambda p: p.type == SUBACK
                                      and p.packet_id == MARKER_PACKET_ID, got, timeout,
                                      "SUBACK of the marker subscription")
            if ack.reason_codes != [0]:
                raise TestError("marker subscription refused: %r" % ack)
        via.send(gen_publish(topic, 0, payload, version=via.version))
        self._collect_until(lambda p: p.type == PUBLISH and p.payload == payload, got,
                            timeout, "marker publish on %s" % topic)
        if own:
            self.send(gen_unsubscribe(MARKER_PACKET_ID, topic, version=self.version))
            self._collect_until(lambda p: p.type == UNSUBACK and p.packet_id == MARKER_PACKET_ID,
                                got, timeout, "UNSUBACK of the marker subscription")
        return got

    def _collect_until(self, pred, got, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if self.pending:
                    p = self.pending.pop(0)
                else:
                    p = decode(self.recv_raw(max(0.01, left)), self.version)
            except Closed:
                raise Closed("connection closed while waiting for the %s (received %r)"
                             % (what, got))
            except ProtocolError:
                raise
            except TestError:
                raise TestError("no %s within %.1f s (received %r)" % (what, timeout, got))
            if pred(p):
                return p
            if p.type == PINGRESP or (p.type == PUBLISH and p.payload in _MARKERS):
                continue
            got.append(p)

    def expect_nothing(self, what="packet", via=None, topic=None, linger=0.1):
        """Asserts that no packet (`what` names the one feared) reaches this
        connection: a marker round trip (until_marker(via, topic)) must come
        back with nothing before it, and nothing may follow within `linger`
        seconds (for messages on other topics, which are not ordered with
        the marker)."""
        got = self.until_marker(via, topic)
        if got:
            raise TestError("expected no %s, got %r" % (what, got[0]))
        self.expect_quiet(linger, what)

    def expect_quiet(self, duration, what="packet"):
        """Nothing arrives within `duration` seconds. Only for absences that
        are about time (no retransmission while connected, a will before its
        delay); an absence that depends on routing uses expect_nothing()."""
        p = self.poll(duration)
        if p is not None:
            raise TestError("expected no %s, got %r" % (what, p))

    def expect_packet(self, name, expected, timeout=None):
        return expect_packet(self, name, expected, timeout)

    def expect(self, ptype, timeout=None, **fields):
        """Next packet must be of type ptype with the given field values."""
        p = self.recv(timeout)
        check_packet(p, ptype, **fields)
        return p

    def expect_closed(self, timeout=None):
        """Waits for the server to close; returns the packets before the close."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = []
        while True:
            try:
                got.append(decode(self.recv_raw(max(0.01, deadline - time.monotonic())),
                                  self.version))
            except Closed:
                return got
            except ProtocolError:
                raise
            except TestError:
                raise TestError("connection still open after %.1f s (received %r)"
                                % (self.timeout if timeout is None else timeout, got))

    def expect_disconnect(self, reason_code=None, timeout=None):
        """v5: a DISCONNECT (with reason_code if given) then the close; v3.1.1:
        the close. Any other packet before the DISCONNECT is ignored only if it
        is a PUBLISH/ack already in flight."""
        got = self.expect_closed(timeout)
        others = [p for p in got if p.type not in IN_FLIGHT + (DISCONNECT,)]
        if others:
            raise TestError("expected the connection to be closed%s, got %r"
                            % (" with DISCONNECT 0x%02x" % reason_code
                               if reason_code is not None and self.version == 5 else "",
                               others))
        if self.version == 5 and reason_code is not None:
            discs = [p for p in got if p.type == DISCONNECT]
            if not discs:
                raise TestError("closed without DISCONNECT 0x%02x (got %r)" % (reason_code, got))
            if discs[-1].reason_code != reason_code:
                raise TestError("DISCONNECT reason 0x%02x, expected 0x%02x"
                                % (discs[-1].reason_code, reason_code))
            return discs[-1]
        return got

    def is_closed(self, timeout=0.5):
        try:
            self.expect_closed(timeout)
            return True
        except TestError:
            return False

    # -- MQTT helpers --------------------------------------------------------
    def connect(self, client_id="", rc=0, session_present=None, **kw):
        kw.setdefault("version", self.version)
        self.send(gen_connect(client_id, **kw))
        p = self.recv()
        if p.type != CONNACK:
            raise TestError("expected CONNACK, got %r" % p)
        if p.reason_code != rc:
            raise TestError("CONNACK reason 0x%02x, expected 0x%02x (%r)" % (p.reason_code, rc, p))
        if session_present is not None and p.session_present != session_present:
            raise TestError("CONNACK session present %s, expected %s" % (p.session_present, session_present))
        self.connack = p
        return p

    def subscribe(self, topics, qos=0, packet_id=1, codes=None, properties=None, **opts):
        self.send(gen_subscribe(packet_id, topics, qos=qos, version=self.version,
                                properties=properties, **opts))
        p = self.expect(SUBACK, packet_id=packet_id)
        n = 1 if isinstance(topics, str) else len(topics)
        if codes is None:
            codes = [qos] * n
        if p.reason_codes != list(codes):
            raise TestError("SUBACK codes %s, expected %s" % (p.reason_codes, list(codes)))
        return p

    def unsubscribe(self, topics, packet_id=1, codes=None):
        self.send(gen_unsubscribe(packet_id, topics, version=self.version))
        p = self.expect(UNSUBACK, packet_id=packet_id)
        if self.version == 5 and codes is not None and p.reason_codes != list(codes):
            raise TestError("UNSUBACK codes %s, expected %s" % (p.reason_codes, list(codes)))
        return p

    def publish(self, topic, payload=b"", qos=0, retain=False, packet_id=None,
                properties=None, dup=False, ack=True):
        """Publishes; for QoS 1/2 completes the flow when ack is true."""
        if qos and packet_id is None:
            packet_id = 1
        self.send(gen_publish(topic, qos, payload, retain, dup, packet_id, properties,
                              self.version))
        if not ack or qos == 0:
            return None
        # 0x10: no matching subscribers (MQTT 5, optional) is a success too.
        if qos == 1:
            return expect_ack(self, PUBACK, packet_id, (0x00, 0x10))
        expect_ack(self, PUBREC, packet_id, (0x00, 0x10))
        self.send(gen_pubrel(packet_id, version=self.version))
        return expect_ack(self, PUBCOMP, packet_id)

    def expect_publish(self, topic=None, payload=None, qos=None, retain=None, dup=None,
                       timeout=None, ack=False, **props):
        """Next packet must be a PUBLISH matching the given values. With ack,
        acknowledges it (PUBACK, or PUBREC/PUBREL/PUBCOMP)."""
        p = self.recv(timeout)
        if p.type != PUBLISH:
            raise TestError("expected PUBLISH, got %r" % p)
        want = dict(topic=topic, payload=_b(payload) if payload is not None else None,
                    qos=qos, retain=retain, dup=dup)
        for k, v in want.items():
            if v is not None and getattr(p, k) != v:
                raise TestError("PUBLISH %s=%r, expected %r (%r)" % (k, getattr(p, k), v, p))
        for k, v in props.items():
            got = p.props.getall(k) if isinstance(v, list) else p.props.get(k)
            if got != v:
                raise TestError("PUBLISH property %s=%r, expected %r (%r)" % (k, got, v, p))
        if ack:
            self.ack(p)
        return p

    def ack(self, p):
        if p.qos == 1:
            self.send(gen_puback(p.packet_id, version=self.version))
        elif p.qos == 2:
            self.send(gen_pubrec(p.packet_id, version=self.version))
            rel = self.recv_matching(lambda q: q.type == PUBREL and q.packet_id == p.packet_id)
            check_packet(rel, PUBREL, reason_code=0)
            self.send(gen_pubcomp(p.packet_id, version=self.version))

    def disconnect(self, reason_code=0, properties=None):
        try:
            self.send(gen_disconnect(reason_code, properties, self.version))
        except OSError:
            pass
        self.close()

    def ping(self):
        self.send(gen_pingreq())
        p = self.recv(skip_ping=False)
        check_packet(p, PINGRESP)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes abruptly (RST), like a client that died."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()


def check_packet(p, ptype, **fields):
    if p.type != ptype:
        raise TestError("expected %s, got %r" % (PACKET_NAMES[ptype], p))
    for k, v in fields.items():
        if getattr(p, k, None) != v:
            raise TestError("%s %s=%r, expected %r (%r)" % (p.name, k, getattr(p, k, None), v, p))
    return p


def expect_ack(conn, ptype, packet_id, reason_code=0, timeout=None):
    """An acknowledgement compared by meaning: in MQTT 5 a success ack may or
    may not carry its reason code and properties (both forms are valid).
    PUBLISH packets that come first are kept for later recv() calls: a
    server may deliver a message to its publisher's own subscription before
    it acknowledges it (Castor acknowledges a retained message or a typed
    topic's update once it is on disk, docs/persistence.md)."""
    p = conn.recv_matching(lambda q: q.type != PUBLISH, timeout)
    if isinstance(reason_code, (tuple, list)):
        check_packet(p, ptype, packet_id=packet_id)
        if p.reason_code not in reason_code:
            raise TestError("%s reason 0x%02x, expected one of %s (%r)"
                            % (p.name, p.reason_code, reason_code, p))
        return p
    return check_packet(p, ptype, packet_id=packet_id, reason_code=reason_code)


def expect_packet(conn, name, expected, timeout=None):
    """Reads exactly len(expected) bytes and compares; prints a hex diff and
    raises TestError on mismatch. conn: a Conn or a plain socket."""
    if isinstance(conn, Conn):
        try:
            got = conn.recv_exact(len(expected), timeout)
        except Closed:
            got = bytes(conn.buf)
            conn.buf.clear()
            print("  %s: connection closed after %d of %d bytes" % (name, len(got), len(expected)))
            raise
        except socket.timeout:
            got = bytes(conn.buf)
            raise TestError("%s: only %d of %d bytes within timeout: %s"
                            % (name, len(got), len(expected), to_hex(got)))
        version = conn.version
    else:
        conn.settimeout(DEFAULT_TIMEOUT if timeout is None else timeout)
        got = b""
        while len(got) < len(expected):
            chunk = conn.recv(len(expected) - len(got))
            if not chunk:
                break
            got += chunk
        version = 5
    if got != expected:
        print("  mismatched %s" % name)
        print("    received: %s  %s" % (to_hex(got), describe(got, version)))
        print("    expected: %s  %s" % (to_hex(expected), describe(expected, version)))
        raise TestError("mismatched %s" % name)
    return True


def do_client_connect(connect_packet, connack_packet, port, version=5, timeout=DEFAULT_TIMEOUT):
    """Connects, sends connect_packet and expects exactly connack_packet."""
    c = Conn(port, version=version, timeout=timeout)
    c.send(connect_packet)
    expect_packet(c, "connack", connack_packet)
    return c


def client_env():
    """The environment for the SDK's client programs (castor-cli, the
    examples): under the sanitizer build, without LeakSanitizer, which
    still reports objects their exit paths leave behind (the server keeps
    it)."""
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    return env


def connect(port, client_id="", version=5, **kw):
    """A connected Conn (CONNACK checked with rc, default 0)."""
    c = Conn(port, version=version)
    c.connect(client_id, **kw)
    return c


def receive_topics(conn, want, via, may_repeat=(), ack=True, topic=None):
    """Receives one PUBLISH for each topic in `want` (in any order: order is
    kept per topic only), then proves with a marker round trip from `via`
    (on `topic`, see Conn.until_marker) that nothing else comes: returns the
    topics received. Topics in `may_repeat` may come twice (overlapping
    subscriptions)."""
    got = []
    while set(got) != set(want):
        p = conn.expect_publish()
        check(p.topic in want, "unexpected PUBLISH on %r (%r)" % (p.topic, p))
        check(p.topic not in got or p.topic in may_repeat, "a second copy of %r" % p.topic)
        got.append(p.topic)
        if ack:
            conn.ack(p)
    for p in conn.until_marker(via=via, topic=topic) + [conn.poll(0.1)]:
        if p is None:
            continue
        check(p.type == PUBLISH and p.topic in may_repeat and got.count(p.topic) < 2,
              "unexpected %r after %s" % (p, got))
        got.append(p.topic)
        if ack:
            conn.ack(p)
    return got


def wait_until(pred, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def check(cond, msg="check failed"):
    if not cond:
        raise TestError(msg)


def check_eq(got, want, what="value"):
    if got != want:
        raise TestError("%s: got %r, expected %r" % (what, got, want))


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

_CASES = []


def case(name=None, overrides=None, castor_only=False, server=True, timeout=40):
    """Registers a test case.

    overrides: mqtt settings for this case's server.
    castor_only: skipped when the broker under test is Mosquitto.
    server: when false, the case gets no server (it starts its own).

    Every server a case starts (Server, or a subclass) is checked when the
    case ends: the case fails if the server crashed during it, does not exit
    within STOP_TIMEOUT after SIGTERM, exits with a status other than 0, or
    printed a sanitizer report. A case that ends its server on purpose says
    so with srv.expect_exit() or srv.kill().

    Where Mosquitto 2.0.11 deviates from the specification, the case is
    listed in mosquitto_differences.txt; a failure against Mosquitto is then
    reported as XDIFF, a pass as XPASS (the list is out of date).
    """
    def deco(fn):
        _CASES.append(dict(fn=fn, name=name or fn.__name__, overrides=overrides,
                           castor_only=castor_only, server=server, timeout=timeout))
        return fn
    return deco


DIFFERENCES_FILE = os.path.join(HERE, "mosquitto_differences.txt")


def mosquitto_differences(path=DIFFERENCES_FILE):
    """{"file::case": (clause, what Mosquitto does)} from the differences
    file: one case a line, `file::case | spec clause | what Mosquitto does`;
    lines starting with `#` are comments. `file` is the test file's name without .py."""
    out = {}
    try:
        f = open(path, encoding="utf-8")
    except OSError:
        return out
    with f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [x.strip() for x in line.split("|")]
            if len(parts) != 3 or "::" not in parts[0] or not all(parts):
                raise RuntimeError("%s:%d: expected `file::case | clause | what mosquitto "
                                   "does`, got %r" % (path, n, line))
            if parts[0] in out:
                raise RuntimeError("%s:%d: %s listed twice" % (path, n, parts[0]))
            out[parts[0]] = (parts[1], parts[2])
    return out


def _test_file():
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or sys.argv[0]
    return os.path.splitext(os.path.basename(path))[0]


class CaseTimeout(Exception):
    pass


def _alarm(_sig, _frm):
    raise CaseTimeout("case exceeded its time limit")


def _server_failure(servers):
    """A TestError naming every problem of the servers, or None."""
    lines = []
    for srv in servers:
        for p in srv.problems:
            lines.append("%s on port %s: %s" % (srv.kind, srv.port, p))
    return TestError("\n".join(lines)) if lines else None


def run_cases():
    """Runs the registered cases (those whose name contains argv[1], if
    given) and exits with 0 only if none failed."""
    only = sys.argv[1:] or None
    passed = failed = skipped = differs = xpassed = 0
    failures = []
    t_all = time.monotonic()
    signal.signal(signal.SIGALRM, _alarm)
    listed = mosquitto_differences() if IS_MOSQUITTO else {}
    tfile = _test_file()
    print("broker under test: %s" % (BROKER if IS_MOSQUITTO else "castor (%s)" % os.environ.get("CASTOR_BIN", "?")))
    sys.stdout.flush()
    finish_servers()  # none should be running yet
    for c in _CASES:
        name = c["name"]
        if only and not any(o in name for o in only):
            continue
        if c["castor_only"] and IS_MOSQUITTO:
            print("SKIP  %s (castor only)" % name)
            skipped += 1
            continue
        diff = listed.get("%s::%s" % (tfile, name))
        t0 = time.monotonic()
        err = None
        skip = None
        tb = ""
        try:
            signal.alarm(c["timeout"])
            if c["server"]:
                srv = Server(c["overrides"])
                srv.start()
                c["fn"](srv)
            else:
                c["fn"]()
        except Skip as e:
            skip = e
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, KeyboardInterrupt):
                raise
            err = e
            tb = traceback.format_exc()
        finally:
            signal.alarm(0)
        servers = finish_servers()
        server_err = _server_failure(servers)
        dt = time.monotonic() - t0
        if server_err is not None:
            # A broker that crashed, hung or reported a sanitizer finding
            # fails the case whatever the case itself found.
            if err is None:
                err, tb = server_err, ""
            else:
                err = TestError("%s: %s\n%s" % (type(err).__name__, err, server_err))
            diff = None
        if skip is not None and err is None:
            print("SKIP  %s (%s)" % (name, skip))
            skipped += 1
        elif err is None:
            if diff:
                print("XPASS %s (%.2fs): listed in %s, but Mosquitto now agrees"
                      % (name, dt, os.path.basename(DIFFERENCES_FILE)))
                xpassed += 1
            else:
                print("PASS  %s (%.2fs)" % (name, dt))
            passed += 1
        elif diff:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            if len(detail) > 160:
                detail = detail[:160] + "..."
            print("XDIFF %s (%.2fs): %s: mosquitto %s [%s]" % (name, dt, diff[0], diff[1], detail))
            differs += 1
        else:
            print("FAIL  %s (%.2fs): %s: %s" % (name, dt, type(err).__name__, err))
            for line in tb.rstrip().splitlines()[3:]:
                print("      " + line)
            for srv in servers:
                print("      --- %s log, port %s (tail) ---" % (srv.kind, srv.port))
                for line in srv.log_tail(25).splitlines():
                    print("      " + line)
            failed += 1
            failures.append(name)
        for srv in servers:
            srv.remove_dir()
        sys.stdout.flush()
    print("%d skipped, %d expected mosquitto differences, %d listed differences passed, %.1f s"
          % (skipped, differs, xpassed, time.monotonic() - t_all))
    if failures:
        print("failed: " + ", ".join(failures))
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


def unique(prefix="t"):
    """A topic or client-id fragment unique to this process and call."""
    unique.n += 1
    return "%s-%d-%d" % (prefix, os.getpid(), unique.n)


unique.n = 0
