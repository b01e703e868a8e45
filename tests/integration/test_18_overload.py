#!/usr/bin/python3
"""Overload: publishers at full speed into subscribers that cannot keep up.

Every publisher here writes as fast as the server reads it (QoS 1 and 2:
its whole receive maximum in flight; QoS 0: its socket kept full), with no
pacing of its own, while subscribers read slowly through a small socket
buffer. The cases show that
- nothing the server acknowledged (PUBACK, or PUBREC for QoS 2) is lost,
  each message arrives once and in per-publisher order [MQTT-4.6.0-6];
- publishers are slowed to what the subscribers take: the acknowledgement
  rate falls to the subscriber's rate and the backlog of acknowledged but
  undelivered messages stays bounded (a per-second table shows both);
- the server's memory stays bounded while it lasts and is given back after
  (RSS before, at the peak and after);
- with a shared-subscription group one member that stops reading holds
  nobody up for longer than slow_consumer_timeout_ms, and its messages go to
  the others; the slow_consumer policy ends a stuck subscriber and the
  others carry on at full speed.

Memory bounds are not asserted in a sanitizer build (ASan keeps freed memory
in quarantine); every other assertion is.
"""

import os
import selectors
import socket
import time

from mqtt_test import *  # noqa: F401,F403

SUB_RCVBUF = 4096


def sanitized_build():
    """True when the server under test is built with AddressSanitizer."""
    if IS_MOSQUITTO:
        return False
    try:
        with open(castor_bin(), "rb") as f:
            head = f.read(8 << 20)  # the dynamic symbols come early
        return b"__asan_init" in head or b"libasan.so" in head
    except OSError:
        return False


SANITIZED = sanitized_build()


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def parse_packets(buf):
    """Whole packets at the front of buf (removed from it), decoded."""
    out = []
    while len(buf) >= 2:
        mult, rl, i = 1, 0, 1
        while True:
            if i >= len(buf):
                return out
            b = buf[i]
            rl += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(buf) < i + rl:
            break
        raw = bytes(buf[:i + rl])
        del buf[:i + rl]
        out.append(decode(raw, 5))
    return out


class Peer:
    """A non-blocking MQTT 5 connection."""

    def __init__(self, load, cid, rcvbuf=None, props=None):
        self.load = load
        self.cid = cid
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", load.srv.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.inb = bytearray()
        self.out = bytearray()
        self.closed = False
        self.ready = False
        self.registered = False
        self.queue(gen_connect(cid, keepalive=300, properties=props))

    def watch(self, read):
        """Which events the selector reports for this connection."""
        ev = (selectors.EVENT_READ if read else 0) | \
             (selectors.EVENT_WRITE if self.out or self.wants_write() else 0)
        sel = self.load.sel
        if self.closed:
            ev = 0
        if ev and self.registered:
            sel.modify(self.sock, ev, self)
        elif ev:
            sel.register(self.sock, ev, self)
            self.registered = True
        elif self.registered:
            sel.unregister(self.sock)
            self.registered = False

    def queue(self, data):
        self.out += data
        self.flush()

    def flush(self):
        while self.out and not self.closed:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                break
            except OSError:
                self.closed = True
                break
            del self.out[:n]
        self.watch(self.wants_read())

    def wants_read(self):
        return True

    def wants_write(self):
        return False

    def read(self, limit=262144):
        if self.closed:
            return []
        try:
            chunk = self.sock.recv(limit)
        except BlockingIOError:
            return []
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            self.watch(False)
            return []
        self.inb += chunk
        return parse_packets(self.inb)

    def close(self):
        self.closed = True
        self.watch(False)
        self.sock.close()


class Publisher(Peer):
    """Publishes (index, sequence number) messages as fast as the server
    takes them: QoS 1/2 with its whole window in flight, QoS 0 with its
    socket kept full."""

    def __init__(self, load, index, topic, qos, size):
        super().__init__(load, "ovl-pub-%d-%s" % (index, unique("p")))
        self.index, self.topic, self.qos, self.size = index, topic, qos, size
        self.seq = 0
        self.inflight = {}      # packet id -> sequence number
        self.released = set()   # QoS 2: PUBREL sent, PUBCOMP awaited
        self.free = []
        self.window = 0
        self.acked = []         # sequence numbers, in acknowledgement order
        self.refused = []       # (sequence number, reason code)
        self.publishing = False

    def body(self, seq):
        head = b"%03d:%08d:" % (self.index, seq)
        return head + b"x" * max(0, self.size - len(head))

    def top_up(self):
        if not (self.ready and self.publishing) or self.closed:
            return
        if self.qos == 0:
            if len(self.out) < 32768:
                chunk = []
                while sum(map(len, chunk)) < 65536:
                    chunk.append(gen_publish(self.topic, 0, self.body(self.seq)))
                    self.seq += 1
                self.out += b"".join(chunk)
        else:
            chunk = []
            while len(self.inflight) < self.window and len(self.out) < 65536:
                pid = self.free.pop()
                self.inflight[pid] = self.seq
                chunk.append(gen_publish(self.topic, self.qos, self.body(self.seq),
                                         packet_id=pid))
                self.seq += 1
            self.out += b"".join(chunk)
        self.flush()

    def on_packet(self, p):
        now = time.monotonic()
        if p.type == CONNACK:
            check_eq(p.reason_code, 0, "CONNACK of a publisher")
            self.window = min(p.props.get("receive_maximum", 65535), 256)
            self.free = list(range(self.window, 0, -1))
            self.ready = True
        elif p.type in (PUBACK, PUBREC):
            check(p.packet_id in self.inflight and p.packet_id not in self.released,
                  "%s for packet id %d, not in flight" % (p.name, p.packet_id))
            seq = self.inflight[p.packet_id]
            if p.reason_code < 0x80:
                self.acked.append(seq)
                self.load.acked_at.append(now)
            else:
                self.refused.append((seq, p.reason_code))
            if p.type == PUBREC and p.reason_code < 0x80:
                self.released.add(p.packet_id)
                self.out += gen_pubrel(p.packet_id)
            else:
                del self.inflight[p.packet_id]
                self.free.append(p.packet_id)
        elif p.type == PUBCOMP:
            check(p.packet_id in self.released, "PUBCOMP for packet id %d" % p.packet_id)
            self.released.discard(p.packet_id)
            del self.inflight[p.packet_id]
            self.free.append(p.packet_id)
        elif p.type == DISCONNECT:
            raise TestError("publisher %d got DISCONNECT 0x%02x" % (self.index, p.reason_code))

    def wants_write(self):
        # QoS 0: more as soon as the socket takes it (no acknowledgements
        # come back to wake the publisher).
        return getattr(self, "qos", 1) == 0 and self.publishing and self.ready

    def done(self):
        return not self.inflight and not self.out


class Subscriber(Peer):
    """Subscribes and records what it receives. pace = (bytes, seconds):
    reads at most that many bytes per period; None reads at once."""

    def __init__(self, load, name, filters, qos, pace=None, receive_maximum=None,
                 rcvbuf=SUB_RCVBUF):
        props = {"receive_maximum": receive_maximum} if receive_maximum else None
        self.pace = pace
        self.stuck = False
        super().__init__(load, "ovl-%s-%s" % (name, unique("s")), rcvbuf=rcvbuf,
                         props=props)
        self.name, self.filters, self.qos = name, filters, qos
        self.subscribed = False
        self.got = []       # (publisher, sequence), in arrival order
        self.got_at = []
        self.seen = set()
        self.duplicates = 0
        self.qos_seen = set()
        self.next_read = 0.0

    def wants_read(self):
        return self.pace is None and not self.stuck

    def paced_read(self, now):
        if self.pace is None or self.stuck or self.closed or now < self.next_read:
            return
        budget, period = self.pace
        self.next_read = max(self.next_read + period, now - period)
        for p in self.read(budget):
            self.on_packet(p)
        self.flush()

    def on_packet(self, p):
        if p.type == CONNACK:
            check_eq(p.reason_code, 0, "CONNACK of subscriber %s" % self.name)
            self.queue(gen_subscribe(1, self.filters, qos=self.qos))
        elif p.type == SUBACK:
            check(all(c < 0x80 for c in p.reason_codes), "SUBACK %r" % p)
            self.subscribed = True
        elif p.type == PUBLISH:
            a, b = p.payload.split(b":")[:2]
            key = (int(a), int(b))
            if key in self.seen:
                self.duplicates += 1
            self.seen.add(key)
            self.got.append(key)
            self.got_at.append(time.monotonic())
            self.qos_seen.add(p.qos)
            if p.qos == 1:
                self.out += gen_puback(p.packet_id)
            elif p.qos == 2:
                self.out += gen_pubrec(p.packet_id)
        elif p.type == PUBREL:
            self.out += gen_pubcomp(p.packet_id)
        elif p.type == DISCONNECT:
            self.load.disconnected[self.name] = (time.monotonic(), p.reason_code)


class Load:
    def __init__(self, srv):
        self.srv = srv
        self.sel = selectors.DefaultSelector()
        self.pubs, self.subs = [], []
        self.acked_at = []
        self.disconnected = {}
        self.rss = []          # (time, MB)
        self.t0 = None
        self.pid = srv.proc.pid

    def subscriber(self, *a, **kw):
        s = Subscriber(self, *a, **kw)
        self.subs.append(s)
        return s

    def _step(self, timeout=0.002):
        now = time.monotonic()
        for s in self.subs:
            s.paced_read(now)
        for key, ev in self.sel.select(timeout=timeout):
            c = key.data
            if ev & selectors.EVENT_WRITE:
                c.flush()
            if ev & selectors.EVENT_READ:
                for p in c.read():
                    c.on_packet(p)
                c.flush()
                if isinstance(c, Publisher):
                    c.top_up()
            elif isinstance(c, Publisher):
                c.top_up()
        if not self.rss or now - self.rss[-1][0] >= 0.1:
            self.rss.append((now, rss_mb(self.pid)))

    def until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            check(time.monotonic() < deadline, "%s within %.0f s" % (what, timeout))
            self._step()

    def start(self, npub, qos, topic_of, size):
        """Waits for the subscriptions, then connects the publishers."""
        self.until(lambda: all(s.subscribed for s in self.subs), 15, "SUBACKs")
        self.rss_before = rss_mb(self.pid)
        self.pubs = [Publisher(self, i, topic_of(i), qos, size) for i in range(npub)]
        self.until(lambda: all(p.ready for p in self.pubs), 15, "publishers' CONNACKs")
        self.t0 = time.monotonic()
        for p in self.pubs:
            p.publishing = True
            p.top_up()

    def run(self, seconds, at=()):
        """Runs the load for `seconds`; at: (second, fn) called once."""
        pending = sorted(at, key=lambda x: x[0])
        end = self.t0 + seconds
        while time.monotonic() < end:
            while pending and time.monotonic() - self.t0 >= pending[0][0]:
                pending.pop(0)[1]()
            self._step()

    def drain(self, timeout, complete):
        """Publishers stop; subscribers read at full speed until complete()
        (or nothing arrives for 2 s once the publishers are done)."""
        self.t_stop = time.monotonic()
        for p in self.pubs:
            p.publishing = False
            p.flush()
        for s in self.subs:
            if not s.stuck:
                s.pace = None
                s.watch(True)
        deadline = time.monotonic() + timeout
        checked = 0.0
        while time.monotonic() < deadline:
            self._step(0.01)
            if not all(p.done() or p.closed for p in self.pubs):
                continue
            # complete() compares large sets: now and then only, so that
            # the subscribers keep reading at full speed.
            if time.monotonic() - checked > 0.5:
                if complete():
                    break
                checked = time.monotonic()
            live = [s for s in self.subs if not s.stuck and not s.closed]
            last = max([self.t_stop] + [s.got_at[-1] for s in live if s.got_at])
            if time.monotonic() - last > 2.0:
                break
        self.t_end = time.monotonic()

    # -- figures -------------------------------------------------------------
    def acked(self):
        return {(p.index, s) for p in self.pubs for s in p.acked}

    def sent(self):
        return {(p.index, s) for p in self.pubs for s in range(p.seq)}

    def rate(self, times, a, b):
        """Events per second in [t0+a, t0+b)."""
        lo, hi = self.t0 + a, self.t0 + b
        return sum(1 for t in times if lo <= t < hi) / (b - a)

    def table(self, subs=None, seconds=None):
        subs = subs or [s for s in self.subs if not s.stuck]
        seconds = seconds or int(self.t_stop - self.t0 + 0.999)
        got_at = sorted(t for s in subs for t in s.got_at)
        print("      second  acknowledged/s  delivered/s  backlog  RSS MB")
        acked_i = got_i = 0
        for sec in range(seconds):
            hi = self.t0 + sec + 1
            a = self.rate(self.acked_at, sec, sec + 1)
            d = self.rate(got_at, sec, sec + 1)
            while acked_i < len(self.acked_at) and self.acked_at[acked_i] < hi:
                acked_i += 1
            while got_i < len(got_at) and got_at[got_i] < hi:
                got_i += 1
            rss = max([m for t, m in self.rss if hi - 1 <= t < hi] or [0])
            if self.pubs and self.pubs[0].qos == 0:
                print("      %6d  %14s  %11d  %7s  %6.1f" % (sec + 1, "-", d, "-", rss))
            else:
                print("      %6d  %14d  %11d  %7d  %6.1f" % (sec + 1, a, d, acked_i - got_i, rss))

    def max_backlog(self, subs):
        """The most messages acknowledged to publishers but not yet
        delivered, over the run."""
        events = [(t, 1) for t in self.acked_at] + \
                 [(t, -1) for s in subs for t in s.got_at]
        events.sort()
        n = worst = 0
        for _t, d in events:
            n += d
            worst = max(worst, n)
        return worst

    def peak_rss(self):
        return max(m for _t, m in self.rss)

    def close(self):
        for c in self.pubs + self.subs:
            if not c.closed:
                c.close()


def check_order(sub):
    last = {}
    for pub, seq in sub.got:
        check(seq > last.get(pub, -1),
              "%s: message %d of publisher %d after %d" % (sub.name, seq, pub, last.get(pub, -1)))
        last[pub] = seq


def check_lossless(load, subs, expected, what="acknowledged"):
    """Every message in `expected` reached the union of subs exactly once."""
    got = set()
    dups = 0
    for s in subs:
        dups += s.duplicates + len(got & s.seen)
        got |= s.seen
    lost = expected - got
    check(not lost, "%d %s messages never delivered, e.g. %s" % (len(lost), what, sorted(lost)[:5]))
    check_eq(dups, 0, "messages delivered twice")


def check_memory(load, grow_mb, what):
    peak = load.peak_rss()
    print("      RSS %.1f MB before, %.1f MB at the peak" % (load.rss_before, peak))
    if SANITIZED:
        print("      (memory bound not checked: sanitizer build)")
        return
    check(peak - load.rss_before < grow_mb,
          "%s: RSS grew by %.1f MB (bound %d MB)" % (what, peak - load.rss_before, grow_mb))


def fan_in(srv, qos, npub=100, wildcard=False, seconds=6, size=64):
    """npub publishers at full speed into one slow subscriber with receive
    maximum 10, reading 2 KB per 10 ms through a 4 KB socket buffer."""
    load = Load(srv)
    base = unique("ovl")
    if wildcard:
        sub = load.subscriber("slow", base + "/+/data", qos, pace=(2048, 0.01),
                              receive_maximum=10)
        topic_of = lambda i: "%s/%d/data" % (base, i)  # noqa: E731
    else:
        sub = load.subscriber("slow", base, qos, pace=(2048, 0.01), receive_maximum=10)
        topic_of = lambda i: base  # noqa: E731
    load.start(npub, qos, topic_of, size)
    load.run(seconds)
    load.drain(60, lambda: load.acked() <= sub.seen)
    load.table()
    acked = load.acked()
    refused = [r for p in load.pubs for r in p.refused]
    check(not refused, "%d publishes refused, e.g. %s" % (len(refused), refused[:3]))
    check_lossless(load, [sub], acked)
    check_order(sub)
    check_eq(sub.qos_seen, {qos}, "QoS of the deliveries")
    # Slowed: in the second half of the run the publishers are acknowledged
    # about as fast as the subscriber takes messages, and the backlog never
    # grows beyond what bounded queues hold (a few per publisher).
    half = seconds / 2.0
    ack_rate = load.rate(load.acked_at, half, seconds)
    sub_rate = load.rate(sub.got_at, half, seconds)
    backlog = load.max_backlog([sub])
    pubs_total = sum(p.seq for p in load.pubs)
    print("      second half: %.0f acknowledged/s, %.0f delivered/s; most acknowledged "
          "but undelivered %d; %d published in all" % (ack_rate, sub_rate, backlog, pubs_total))
    check(sub_rate > 200, "the subscriber received %.0f/s" % sub_rate)
    check(ack_rate < 1.25 * sub_rate + 100,
          "publishers acknowledged at %.0f/s while the subscriber takes %.0f/s"
          % (ack_rate, sub_rate))
    # One topic: its credit per subscriber (8 batches or 64 KiB) and the
    # session's queue bound it. Through a wildcard every matching topic has
    # that credit of its own, so the bound grows with the number of topics
    # (docs/architecture.md, known limits).
    bound = 600 * npub if wildcard else 40 * npub
    check(backlog < bound,
          "%d messages acknowledged but not delivered at once (bound %d)" % (backlog, bound))
    check_memory(load, 48, "fan-in")
    load.close()


@case(timeout=120)
def qos1_publishers_slowed_to_a_slow_subscriber(srv):
    fan_in(srv, 1)


@case(timeout=120)
def qos2_publishers_slowed_to_a_slow_subscriber(srv):
    fan_in(srv, 2, npub=50)


@case(timeout=120)
def qos1_wildcard_subscriber_slows_publishers_of_many_topics(srv):
    fan_in(srv, 1, wildcard=True)


@case(timeout=120)
def qos0_flood_memory_bounded_and_given_back(srv):
    # 20 publishers flood 1 KB QoS 0 messages at a subscriber that reads
    # about 3 MB/s: the server reads the publishers only as fast as it can
    # hand their messages on, so nothing piles up, and once the load is gone
    # its memory returns to about where it was.
    load = Load(srv)
    topic = unique("ovl0")
    sub = load.subscriber("slow", topic, 0, pace=(32768, 0.01), rcvbuf=65536)
    load.start(20, 0, lambda i: topic, 1024)
    load.run(6)
    during = load.peak_rss()
    load.drain(60, lambda: load.sent() <= sub.seen)
    load.table()
    sent = load.sent()
    print("      %d messages (%.0f MB) published" % (len(sent), len(sent) * 1024 / 1e6))
    # QoS 0 may be dropped by a configured bound (slow_consumer: drop_qos0);
    # by default nothing is.
    check_lossless(load, [sub], sent, "published")
    check_order(sub)
    load.close()
    # Memory: bounded while it lasts, and given back once the clients are
    # gone (memory_trim_interval_ms, 2 s by default).
    after = None
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = rss_mb(load.pid)
        if after - load.rss_before < 8:
            break
    print("      RSS %.1f MB before, %.1f MB at the peak, %.1f MB after"
          % (load.rss_before, max(during, load.peak_rss()), after))
    if SANITIZED:
        print("      (memory bounds not checked: sanitizer build)")
        return
    check(during - load.rss_before < 48,
          "RSS grew by %.1f MB under the flood" % (during - load.rss_before))
    check(after - load.rss_before < 8,
          "RSS %.1f MB after the load, %.1f MB before" % (after, load.rss_before))


def drained_to_eof(sub, timeout):
    """Reads and discards until the server closes; False if still open."""
    sub.watch(False)
    sub.sock.setblocking(True)
    sub.sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sub.sock.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError:
            return True
        if not chunk:
            return True
    return False


STUCK_TIMEOUT_MS = 2000


def stuck_member_run(srv, shared):
    """QoS 1 publishers at full speed; three subscribers (a shared group,
    or three plain subscriptions) read at full speed until one stops
    reading after 1 s. Returns (load, members, stuck)."""
    load = Load(srv)
    base = unique("ovls")
    filt = "$share/g/" + base if shared else base
    members = [load.subscriber("m%d" % i, filt, 1) for i in range(3)]
    stuck = members[2]

    def stop_reading():
        stuck.stuck = True
        stuck.watch(False)
        load.t_stuck = time.monotonic()

    load.start(20, 1, lambda i: base, 1024)
    load.run(1.0 + STUCK_TIMEOUT_MS / 1000.0 + 5, at=[(1.0, stop_reading)])
    others = members[:2]
    if shared:
        load.drain(60, lambda: load.acked() <= set().union(*[m.seen for m in members]))
    else:
        load.drain(60, lambda: all(load.acked() <= m.seen for m in others))
    return load, members, stuck


def rate_between(times, a, b):
    return sum(1 for t in times if a <= t < b) / (b - a)


def check_full_speed(load, others, before, after, what):
    """The others and the publishers run as fast after the stuck member's
    timeout as before it stopped reading (half of it at least: one member
    fewer)."""
    t_stuck = load.t_stuck
    got_at = sorted(t for s in others for t in s.got_at)
    base = rate_between(got_at, load.t0 + 0.3, t_stuck)
    base_acks = rate_between(load.acked_at, load.t0 + 0.3, t_stuck)
    lo = t_stuck + STUCK_TIMEOUT_MS / 1000.0 + 1.5
    hi = load.t_stop
    later = rate_between(got_at, lo, hi)
    later_acks = rate_between(load.acked_at, lo, hi)
    print("      %s: others %.0f/s and publishers %.0f/s before, %.0f/s and %.0f/s "
          "after the timeout" % (what, base, base_acks, later, later_acks))
    check(base > 500, "%.0f/s before the member stopped" % base)
    check(later > before * base, "others at %.0f/s after the timeout, %.0f/s before"
          % (later, base))
    check(later_acks > after * base_acks, "publishers at %.0f/s after the timeout, %.0f/s before"
          % (later_acks, base_acks))


@case(overrides={"slow_consumer_timeout_ms": STUCK_TIMEOUT_MS}, timeout=120)
def shared_group_member_stops_reading(srv):
    load, members, stuck = stuck_member_run(srv, shared=True)
    others = [m for m in members if m is not stuck]
    load.table(subs=members)
    # What the stuck member read it acknowledged; what it did not read went
    # to the others once it was ended (its session ends with it).
    check_lossless(load, members, load.acked())
    # No order check here: what the stuck member did not acknowledge reaches
    # another member after newer messages (MQTT orders per subscription).
    check_full_speed(load, others, 0.5, 0.5, "shared group")
    check(drained_to_eof(stuck, 10), "the stuck member was disconnected")
    load.close()


@case(overrides={"slow_consumer_timeout_ms": STUCK_TIMEOUT_MS}, timeout=120)
def slow_consumer_policy_ends_a_stuck_subscriber(srv):
    load, members, stuck = stuck_member_run(srv, shared=False)
    others = [m for m in members if m is not stuck]
    load.table(subs=others[:1])
    for m in others:
        check_lossless(load, [m], load.acked())
        check_order(m)
    check_full_speed(load, others, 0.5, 0.5, "plain subscriptions")
    check(drained_to_eof(stuck, 10), "the stuck subscriber was disconnected")
    load.close()


if __name__ == "__main__":
    run_cases()
