#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_channel, fuzz_tls, fuzz_jwt, fuzz_scram,
fuzz_config and fuzz_security_store under tests/fuzz/seeds/.

Each seed is a valid input of the kind the unit tests use, or an edge case,
in the input format the target's header comment describes. Run from
anywhere: python3 tests/fuzz/make_seeds.py (the TLS ClientHello seeds come
from Python's ssl module, so they change on each run; the others do not).
"""

import base64
import hashlib
import hmac
import os
import shutil
import ssl
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fresh(target):
    d = os.path.join(SEEDS, target)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)


def string(s):
    """A string operand: one length byte, then the bytes."""
    if isinstance(s, str):
        s = s.encode()
    assert len(s) <= 255
    return bytes([len(s)]) + s


# -- fuzz_channel ---------------------------------------------------------------
# The operations of tests/fuzz/fuzz_channel.cpp (opcode byte, operands).

TOPICS = ["a", "a/b", "sensors/1/temp", "deny/x", "exist/y", "$SYS/load",
          "a/b/c/d", "", "+", "a/#", "exist/z", "\u00e9", "x/y"]
FILTERS = ["a/#", "+/b", "#", "a/b", "$share/g/a/#", "$share/g/+", "a/#/b",
           "", "secret/#", "sensors/+/temp", "$SYS/#", "a/b/c/d", "$share//a",
           "exist/#", "+", "$share/g/a"]


def topic(name):
    return bytes([TOPICS.index(name)])


def filt(name):
    return bytes([FILTERS.index(name)])


def options(a=0, b=0, access=0):
    return bytes([a, b, access])


def connect(v311=False, clean=True, keep_alive=None, client_id="c1",
            will=None, username=None, password=None, props=b""):
    bits = (1 if v311 else 0) | (0 if clean else 2)
    out = b""
    if keep_alive is not None:
        bits |= 4
        out += struct.pack(">H", keep_alive)
    out += b"\x00" if client_id == "c1" else b"\xc0" if client_id == "" else (
        b"\xe0" + string(client_id))
    if will is not None:
        bits |= 8
        out += will
    if username is not None:
        bits |= 0x10
        out += string(username)
        if password is not None:
            bits |= 0x20
            out += string(password)
    if not v311:
        out += props if props else b"\x00"
    return b"\x00" + bytes([bits]) + out


def publish(name, qos=0, retain=False, packet_id=1, props=b"\x00",
            alias=None, payload=b"\x00"):
    bits = qos | (0x10 if retain else 0) | (0x40 if alias is not None else 0)
    out = b"\x02" + bytes([bits]) + topic(name)
    if qos > 0:
        out += bytes([packet_id - 1])
    out += props
    if alias is not None:
        out += bytes([alias])
    return out + payload


def publish311(name, qos=0, packet_id=1):
    out = b"\x02" + bytes([qos]) + topic(name)
    if qos > 0:
        out += bytes([packet_id - 1])
    return out + b"\x00"


def ack(op, index_of_recent=0, code=None):
    b = index_of_recent << 2
    out = b""
    if code is not None:
        b |= 1
        out = bytes([code])
    return bytes([op, b]) + out


def subscribe(packet_id, subs, sub_id=None):
    out = b"\x0a" + bytes([packet_id - 1, len(subs) - 1])
    for f, qos in subs:
        out += filt(f) + bytes([qos])
    out += b"\x00" + bytes([sub_id - 1]) if sub_id else b"\x01"
    return out


def subscribe311(packet_id, subs):
    out = b"\x0a" + bytes([packet_id - 1, len(subs) - 1])
    for f, qos in subs:
        out += filt(f) + bytes([qos])
    return out


def unsubscribe(packet_id, names):
    return b"\x0c" + bytes([packet_id - 1, len(names) - 1]) + b"".join(
        filt(n) for n in names)


def answer(index=0, how=0, extra=b""):
    return b"\x12" + bytes([index, how]) + extra


def deliver(name, qos=0, props=b"\x00", payload=b"\x40" + string("out")):
    return b"\x16" + topic(name) + bytes([qos]) + props + payload


PINGREQ = b"\x0d"
ANSWER_ALL = b"\x1c"
TIMEOUT = b"\x18"


def disconnect(code_index=0, expiry=None):
    b = 1 if expiry is not None else 0
    out = b"\x0e" + bytes([b, code_index])
    if expiry is not None:
        out += bytes([1 if expiry == 0 else 0])
    return out


def kick(index, will=False):
    return b"\x19" + bytes([index, 1 if will else 0])


def raw(data):
    return b"\x10" + string(data)


def channel_seeds():
    t = "fuzz_channel"
    fresh(t)
    # v5: connect, session, subscribe, publish QoS 0/1/2 routed back to the
    # client's own subscription, acknowledgements both ways, ping,
    # unsubscribe, disconnect.
    write(t, "v5_flow", options() + connect() + answer()
          + subscribe(1, [("a/#", 2)]) + answer()
          + publish("a/b", 0) + publish("a/b", 1, packet_id=2)
          + publish("a/b", 2, packet_id=3)
          + ack(0x06, 0) + ack(0x07, 1) + ack(0x09, 1)
          + ack(0x08, 0) + PINGREQ + unsubscribe(4, ["a/#"]) + answer()
          + disconnect())
    # MQTT 3.1.1, persistent session, QoS 2.
    write(t, "v311_flow", options() + connect(v311=True, clean=False)
          + answer(how=0x08) + subscribe311(1, [("a/#", 1), ("+/b", 2)])
          + answer() + publish311("a/b", 2, packet_id=5) + ack(0x08, 0)
          + PINGREQ + disconnect())
    # Packets before the session opens wait for the CONNACK.
    write(t, "deferred", options() + connect() + PINGREQ
          + subscribe(1, [("a/b", 1)]) + publish("a/b", 1) + answer()
          + ANSWER_ALL)
    # Topic aliases both ways: the client sets alias 1, the server uses the
    # client's maximum of 2.
    write(t, "aliases", options() + connect(props=b"\x08\x02")
          + answer() + subscribe(1, [("#", 0)]) + answer()
          + publish("sensors/1/temp", 0, alias=1)
          + b"\x02\x40\x07\x00\x01\x00"  # empty topic, alias 1
          + deliver("a/b") + deliver("a/b") + deliver("x/y")
          + deliver("a/b/c/d"))
    # Client limits: maximum packet size 64, receive maximum 1.
    write(t, "client_limits", options() + connect(props=b"\x06\x01\x03")
          + answer() + subscribe(1, [("#", 2)]) + answer()
          + deliver("a", 1) + deliver("a", 2)
          + b"\x16\x00\x01\x00\x10" + struct.pack(">H", 200)  # large
          + ack(0x06, 0) + ack(0x07, 1) + ack(0x09, 1))
    # Server limits: maximum QoS 1, no retain, receive maximum 1, aliases 0.
    write(t, "server_limits", options(a=0x05, b=0x06) + connect() + answer()
          + publish("a", 2) + publish("a", 0, retain=True))
    # Access policy: denied, existing only, refused subscriptions.
    write(t, "access", options(access=1) + connect() + answer()
          + publish("deny/x", 1) + publish("exist/y", 1, packet_id=2)
          + publish("exist/y", 2, packet_id=3) + answer(how=1)
          + subscribe(4, [("secret/#", 1), ("a/#", 1)]) + answer())
    write(t, "access_v311", options(access=1) + connect(v311=True) + answer()
          + publish311("deny/x", 1) + publish311("deny/x", 2, packet_id=2)
          + ack(0x08, 0))
    # Enhanced authentication: SCRAM-SHA-256 continued, then success.
    write(t, "auth_scram", options() + connect(
        props=b"\x20\x01\x01" + string("n,,n=user,r=abc")) + answer(how=1)
          + string("r=abcdef,s=c2FsdA==,i=4096")
          + b"\x0f\x1d" + string("c=biws,r=abcdef,p=AAAA")
          + answer(index=1, how=0) + string("v=ok") + b"\x00")
    write(t, "auth_other", options() + connect(props=b"\x20\x00\x00") + answer())
    # Refusals and closes.
    write(t, "session_refused", options() + connect() + answer(how=7) + b"\x00")
    write(t, "kick", options() + connect() + answer() + kick(0, will=True))
    write(t, "timeout", options(b=0x10) + connect(keep_alive=0) + answer()
          + TIMEOUT)
    write(t, "first_not_connect", options() + PINGREQ)
    write(t, "second_connect", options() + connect() + answer() + connect())
    write(t, "disconnect_expiry", options() + connect(props=b"\x01\x00\x3c")
          + answer() + disconnect(expiry=0))
    write(t, "will", options() + connect(
        will=topic("a/b") + string("bye") + b"\x01" + b"\x40\x05")
          + answer() + disconnect(code_index=1))
    # Raw bytes: a v5 CONNECT and a PUBLISH as the frame parser reads them.
    connect_bytes = bytes.fromhex("100f00044d5154540502003c0000026331")
    write(t, "raw_connect", options() + raw(connect_bytes) + answer()
          + raw(bytes.fromhex("3008000361 2f 62 00 6869".replace(" ", ""))))
    write(t, "raw_garbage", options() + raw(connect_bytes) + answer()
          + raw(b"\xff\xff\xff\xff\xff"))
    write(t, "parse_error_connect", options()
          + raw(bytes.fromhex("100c00044d5154540602003c0000")))


# -- fuzz_jwt ---------------------------------------------------------------------

JWT_SECRET = b"0123456789abcdef0123456789abcdef-castor"


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims, header='{"alg":"HS256","typ":"JWT"}'):
    token = b64url(header) + "." + b64url(claims)
    sig = hmac.new(JWT_SECRET, token.encode(), hashlib.sha256).digest()
    return token + "." + b64url(sig)


def jwt_seeds():
    t = "fuzz_jwt"
    fresh(t)
    claims = [
        '{"sub":"u","exp":10}',
        '{"sub":"alice","exp":100,"roles":["DEVICE","CLIENT"]}',
        '{"sub":"u","exp":10,"realm_access":{"roles":["ADMIN"]}}',
        '{"sub":"u","exp":10,"scope":"read  write"}',
        '{"sub":"u","exp":10,"roles":[1]}',
        '{"sub":"u","exp":10,"roles":{}}',
        '{"sub":"u","exp":10,"iss":"castor","aud":["x","mqtt"]}',
        '{"sub":"u","exp":10,"nbf":8}',
        '{"sub":"u","exp":9223372036854775807}',
        '{"sub":"u","exp":18446744073709551615}',
        '{"sub":"u","exp":1.5e300}',
        '{"sub":"u","exp":-5,"nbf":-9223372036854775808}',
        '{"sub":"u","exp":"soon"}',
        '{"sub":"","exp":10}',
        '["sub"]',
        '{"sub":"u"}',
    ]
    for i, c in enumerate(claims):
        # mode 2 (standard header, HS256), options 0 and with a leeway of
        # 30 seconds (option bits 0x20 -> byte 0 bit 7)
        write(t, "claims_%02d" % i, bytes([0x02, 0x00]) + c.encode())
        write(t, "leeway_%02d" % i, bytes([0x82, 0x00]) + c.encode())
        # mode 0: the same as a finished token
        write(t, "token_%02d" % i, bytes([0x00, 0x00]) + hs256(c).encode())
    headers = ['{"alg":"none"}', '{"alg":"HS256","crit":["x"]}',
               '{"alg":"RS256"}', '{"alg":"HS512"}', '{"alg":1}', '[]']
    for i, h in enumerate(headers):
        write(t, "header_%02d" % i,
              bytes([0x01, 0x00]) + h.encode() + b"\n" + claims[1].encode())
    write(t, "rs256", bytes([0x03, 0x00]) + b'{"alg":"RS256"}\n'
          + claims[1].encode())
    write(t, "tampered", bytes([0x02, 0x80, 0x00, 0x30, 0x01])
          + claims[0].encode())
    for i, text in enumerate(["abc", "a.b.c.d", "a*.b.c", "..", "my.pass.word",
                              b64url('{"alg":"none"}') + "." + b64url("{}")
                              + "."]):
        write(t, "raw_%02d" % i, b"\x00\x00" + text.encode())


# -- fuzz_scram ---------------------------------------------------------------------


def scram_seeds():
    t = "fuzz_scram"
    fresh(t)
    # RFC 7677's exchange; the target uses its server nonce, salt and count,
    # so the proof is right.
    write(t, "rfc7677", b"\x00n,,n=user,r=rOprNGfwEbeRWgbNEkqO\x00"
          b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
          b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    firsts = [
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "n,a=user,n=user,r=abc",
        "n,,n=a=2Cb=3Dc,r=abc",
        "y,,n=user,r=abc",
        "p=tls-unique,,n=user,r=abc",
        "n,,m=ext,n=user,r=abc",
        "n,,n=nobody,r=abc",
        "n,,n=user,r=a,b",
        "n,,n=user,r=abc,ext=1",
        "n,a=other,n=user,r=abc",
        "n,,n=bad=2,r=abc",
        "n,,n=,r=abc",
        "x,,n=user,r=abc",
        "n,,",
    ]
    for i, f in enumerate(firsts):
        write(t, "first_%02d" % i, b"\x01" + f.encode())
    for bit in (0x02, 0x04, 0x08, 0x10, 0x20):
        write(t, "mistake_%02x" % bit, bytes([0x01 | bit])
              + b"n,,n=user,r=abc\x00ext=value")
    write(t, "raw_final_garbage", b"\x00n,,n=user,r=abc\x00c=biws,r=abc,p=!!")
    write(t, "raw_three", b"\x00n,,n=user,r=abc\x00c=biws\x00again")


# -- fuzz_config and fuzz_security_store ---------------------------------------------


def config_seeds():
    t = "fuzz_config"
    fresh(t)
    for path in ["config/castor.yaml"] + sorted(
            os.path.join("config/examples", f)
            for f in os.listdir(os.path.join(ROOT, "config/examples"))):
        with open(os.path.join(ROOT, path), "rb") as f:
            write(t, os.path.basename(path), f.read())
    snippets = {
        "empty": "",
        "comment": "# nothing\n",
        "null_section": "mqtt:\n",
        "bools": "mqtt:\n  retain_available: True\n  shared_subscription_available: FALSE\n",
        "bad_bool": "mqtt:\n  retain_available: yes\n",
        "range": "mqtt:\n  max_packet_size: 63\n",
        "huge": "mqtt:\n  receive_maximum: 99999999999999999999999\n",
        "negative": "mqtt:\n  receive_maximum: -1\n",
        "list_value": "mqtt:\n  receive_maximum: [1]\n",
        "missing_value": "mqtt:\n  receive_maximum:\nlog_level: info\n",
        "typo": "log_level: info\nmqtt:\n  recieve_maximum: 5\n",
        "duplicate": "mqtt:\n  maximum_qos: 1\n  maximum_qos: 2\n",
        "no_listeners": "listeners: []\n",
        "top_list": "- a\n- b\n",
        "listeners": (
            "listeners:\n"
            "  - name: plain\n    port: 1883\n"
            "  - name: secure\n    transport: tls\n    port: 8883\n"
            "    tls:\n      cert_file: server.pem\n      key_file: server.key\n"
            "      ca_file: ca.pem\n      verify_client: required\n"
            "      principal_from: uri\n"
            "  - name: web\n    transport: wss\n    port: 8443\n"
            "    tls: {cert_file: s.pem, key_file: s.key}\n"
            "    websocket: {path: /ws/mqtt, max_frame_size: 65536}\n"),
        "duplicate_port": "listeners:\n  - name: a\n    port: 1\n  - name: b\n    port: 1\n",
        "tls_missing": "listeners:\n  - transport: tls\n",
        "tls_on_tcp": "listeners:\n  - tls: {cert_file: x}\n",
        "security": (
            "security:\n  store_file: store.yaml\n  anonymous: store\n"
            "  anonymous_roles: [GUEST, CLIENT]\n"
            "  jwt:\n    hs256_secret_file: secret\n    roles_claim: realm_access.roles\n"
            "    issuer: https://idp\n    audience: castor\n    leeway_seconds: 30\n"
            "  failed_login_threshold: 5\n"),
        "anchors": "mqtt: &m\n  maximum_qos: 1\nsecurity: *m\n",
        "flow": "{log_level: debug, mqtt: {maximum_qos: 0}, listeners: [{port: 1}]}\n",
        "quoted": "listeners:\n  - name: \"null\"\n    bind: '~'\n    port: 1\n",
        "tag": "mqtt: !!map {maximum_qos: !!str 1}\n",
        "multi_doc": "log_level: info\n---\nlog_level: debug\n",
        "nested": "mqtt: " + "[" * 40 + "]" * 40 + "\n",
        "control_chars": ('security:\n  jwt:\n    roles_claim: "\\r"\n'
                          '    issuer: "a\\r"\n    audience: "\\t\\x7f"\n'),
        "crlf": "log_level: debug\r\nmqtt:\r\n  maximum_qos: 1\r\n",
    }
    for name, text in snippets.items():
        write(t, name + ".yaml", text)


def store_seeds():
    t = "fuzz_security_store"
    fresh(t)
    hash1000 = ("pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg==$"
                + base64.b64encode(hashlib.pbkdf2_hmac(
                    "sha256", b"pencil", b"0123456789abcdef", 1000, 32)).decode())
    docs = {
        "docs_example": (
            "principals:\n"
            "  admin:\n"
            '    password: "pbkdf2-sha256$100000$YQy1BVNqbXs//09t1qHmwg==$5KWif2GT6G3ozGUJ5lsC2GSyvsrfuo9hg501mfFkyJs="\n'
            "    roles: [ADMINISTRATOR]\n"
            "  sensor-1:\n"
            '    password: "' + hash1000 + '"\n'
            "    roles: [DEVICE]\n"
            "roles:\n"
            "  CLIENT:\n    default_path: [SELECT_TOPIC, READ_TOPIC]\n"
            "  DEVICE:\n    includes: [CLIENT]\n    paths:\n"
            "      devices: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]\n"
            "      devices/firmware: [SELECT_TOPIC, READ_TOPIC]\n"
            "  OPERATOR:\n    includes: [CLIENT]\n    global: [VIEW_SESSION, VIEW_SERVER]\n"
            "    paths:\n      ops: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]\n"
            "  ADMINISTRATOR:\n    includes: [OPERATOR]\n"
            "    global: [MODIFY_SESSION, REGISTER_HANDLER, CONTROL_SERVER,\n"
            "             VIEW_SECURITY, MODIFY_SECURITY]\n"
            "    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC,\n"
            "                   SEND_TO_MESSAGE_HANDLER, SEND_TO_SESSION]\n"
            "    paths:\n      secret: [SELECT_TOPIC, READ_TOPIC]\n"
            "anonymous:\n  allow: true\n  roles: [CLIENT]\n"
            "isolated_paths: [secret]\n"),
        "inherit": (
            "roles:\n  CLIENT:\n    global: [VIEW_SESSION]\n"
            "    default_path: [SELECT_TOPIC, READ_TOPIC]\n    paths:\n"
            "      devices: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC]\n"
            "      devices/locked: [SELECT_TOPIC]\n      secret/public: [READ_TOPIC]\n"
            "  ADMIN:\n    global: [CONTROL_SERVER, VIEW_SECURITY, MODIFY_SECURITY]\n"
            "    default_path: [MODIFY_TOPIC]\n    paths:\n"
            "      secret: [READ_TOPIC, MODIFY_TOPIC]\n    includes: [CLIENT]\n"
            "isolated_paths: [secret]\n"),
        "diamond": ("roles:\n  TOP: {includes: [L, R]}\n  L: {includes: [BASE]}\n"
                    "  R: {includes: [BASE]}\n  BASE: {global: [VIEW_SERVER]}\n"),
        "cycle": ("roles:\n  A: {includes: [B]}\n  B: {includes: [C]}\n"
                  "  C: {includes: [A]}\n"),
        "self_cycle": "roles:\n  SELF: {includes: [SELF]}\n",
        "unknown_permission": "roles:\n  A:\n    global: [VIEW_SESSION, FLY]\n",
        "wrong_kind": "roles:\n  A: {global: [READ_TOPIC]}\n",
        "bad_hash": ('principals:\n  u:\n'
                     '    password: "pbkdf2-sha256$1000$c2FsdHNhbHQ=$c2VjcmV0"\n'),
        "missing_password": "principals:\n  u:\n    roles: []\n",
        "unknown_role": ('principals:\n  u:\n    password: "' + hash1000
                         + '"\n    roles: [GHOST]\n'),
        "anonymous_bad": "roles: {}\nanonymous: {allow: maybe}\n",
        "unknown_key": "roles: {}\nusers: {}\n",
        "wildcard_path": "roles:\n  A:\n    paths:\n      a/+/b: [READ_TOPIC]\n",
        "isolated_wildcard": 'isolated_paths: [ok, "a/#"]\n',
        "syntax": "roles: [unclosed\n",
        "closed": "principals: {}\n",
        "anonymous_denied": "anonymous: {allow: false, roles: []}\n",
        "scram_user": ('principals:\n  user:\n    password: "' + hash1000 + '"\n'),
        "alias_keys": "roles:\n  &a A: {}\n  *a : {}\n",
        "empty": "",
    }
    for name, text in docs.items():
        write(t, name + ".yaml", text)


# -- fuzz_tls ---------------------------------------------------------------------------


def client_hello(maximum):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = maximum
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_seeds():
    t = "fuzz_tls"
    fresh(t)
    # Raw mode (bit 0 clear): a ClientHello, whole and split.
    hello13 = client_hello(ssl.TLSVersion.TLSv1_3)
    hello12 = client_hello(ssl.TLSVersion.TLSv1_2)
    write(t, "raw_hello13", b"\x00\x00" + hello13)
    write(t, "raw_hello12_split", b"\x00\x07" + hello12)
    write(t, "raw_hello_transport", b"\x10\x03" + hello13)
    write(t, "raw_hello_verify", b"\x02\x00" + hello13)
    write(t, "raw_http", b"\x00\x05GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    write(t, "raw_record_garbage", b"\x00\x01\x16\x03\x01\x00\x05hello")
    write(t, "raw_alert", b"\x00\x00\x15\x03\x03\x00\x02\x02\x28")
    write(t, "raw_sslv2", b"\x00\x00\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10"
          + b"\x07\x00\xc0" * 7 + b"\x00" * 16)
    # Handshake mode (bit 0 set): operations after a real handshake.
    data_both = (b"\x00" + string("\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00")
                 + b"\x06" + string("\x20\x03\x00\x00\x00")
                 + b"\x01" + string("x" * 200) + b"\x7f\x7f" + b"\x07\x00")
    write(t, "hs13_data", b"\x01" + data_both)
    write(t, "hs12_data", b"\x09" + data_both)
    write(t, "hs_transport", b"\x11" + data_both)
    write(t, "hs_client_cert", b"\x07" + data_both)
    write(t, "hs_client_cert12", b"\x0f" + data_both)
    write(t, "hs_flip", b"\x01" + b"\x02" + string("hello") + b"\x00\x05\x01")
    write(t, "hs_inject", b"\x01" + b"\x03" + string("\x17\x03\x03\x00\x05abcde"))
    write(t, "hs_record", b"\x01" + b"\x04\x17" + string("0123456789") + b"\x01")
    write(t, "hs_record_handshake", b"\x09" + b"\x04\x16"
          + string("\x01\x00\x00\x04\x03\x03\x00\x00") + b"\x01")
    write(t, "hs_partial", b"\x01" + b"\x05" + string("partial record")
          + b"\x00\x08\x7f\x01" + b"\x00" + string("after"))
    write(t, "hs_hole", b"\x01" + b"\x05" + string("partial record")
          + b"\x00\x08\x7f\x00" + b"\x00" + string("after"))
    write(t, "hs_server_close", b"\x11" + b"\x06" + string("bye") + b"\x08"
          + b"\x00" + string("late"))
    write(t, "hs_drop", b"\x01" + b"\x05" + string("some data here")
          + b"\x00\x04\x7f\x01" + b"\x09\x00\x02\x00\x03")


def main():
    channel_seeds()
    jwt_seeds()
    scram_seeds()
    config_seeds()
    store_seeds()
    tls_seeds()
    for t in ["fuzz_channel", "fuzz_tls", "fuzz_jwt", "fuzz_scram",
              "fuzz_config", "fuzz_security_store"]:
        print(t, len(os.listdir(os.path.join(SEEDS, t))), "seeds")


if __name__ == "__main__":
    sys.exit(main())
