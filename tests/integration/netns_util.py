"""Network partitions for node-group tests (docs/cluster.md, "Partitions").

Each node of a group runs in a network namespace of its own (ip netns) and
listens on 127.0.0.1 there only. A switchboard in the test process relays
every node's ports onto the loopback of the other namespaces (its cluster
port) and of the test's own (its MQTT and HTTP ports), so every node and
every client sees each node at 127.0.0.1:<its port>. cut(a, b) stops
carrying bytes between the namespaces of `a` and those of `b`, as a network
that drops their packets would (nothing is closed: heartbeats just stop
arriving); heal() closes the connections that were cut, as TCP gives up on
them after a long partition, and carries new ones again."""

import contextlib
import ctypes
import os
import selectors
import shutil
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
HOST = "host"  # the test's own namespace
MAX_BUFFERED = 4 << 20  # bytes a relay holds for one direction


def unavailable():
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "no ip command (iproute2)"
    name = "castor-probe-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if r.returncode != 0:
        return "ip netns add failed: %s" % r.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


class Namespace:
    """A network namespace with its loopback up, deleted by delete()."""

    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True,
                       capture_output=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"],
                       check=True, capture_output=True)

    def command(self, args):
        return ["ip", "netns", "exec", self.name] + list(args)

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@contextlib.contextmanager
def entered(ns):
    """This thread in namespace `ns` (HOST: the one it runs in), so that
    the sockets it makes meanwhile belong there."""
    if ns == HOST:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(%s)" % ns)
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


class _Link:
    """One relayed connection: `a` accepted in namespace `src`, `b`
    connected in `dst`."""

    def __init__(self, a, b, src, dst):
        self.a, self.b = a, b
        self.src, self.dst = src, dst
        self.out = {a: bytearray(), b: bytearray()}  # bytes to write to it
        self.cut = False

    def peer(self, s):
        return self.b if s is self.a else self.a


class Switchboard:
    """Relays ports between namespaces in one thread (see the module)."""

    def __init__(self):
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake",))
        self._cut = set()  # (src, dst) namespace pairs not carried
        self._links = set()
        self._held = []  # connections accepted across a cut
        self._listeners = []
        self._commands = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # -- the test's side -----------------------------------------------------

    def relay(self, src, dst, port):
        """Accepts on 127.0.0.1:`port` in `src` and connects each to
        127.0.0.1:`port` in `dst`."""
        with entered(src):
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(128)
        ls.setblocking(False)
        self._call(lambda: self._listen(ls, src, dst, port))

    def cut(self, side_a, side_b):
        """Stops carrying bytes between namespaces of `side_a` and `side_b`
        (in both directions)."""
        pairs = {(x, y) for x in side_a for y in side_b}
        pairs |= {(y, x) for x, y in pairs}
        self._call(lambda: self._do_cut(pairs))

    def heal(self):
        """Closes what was cut, and carries every new connection again."""
        self._call(self._do_heal)

    def close(self):
        self._call(self._do_close)
        self._thread.join(5)

    def _call(self, fn):
        done = threading.Event()
        with self._lock:
            self._commands.append((fn, done))
        self._wake_w.send(b"x")
        if not done.wait(10):
            raise RuntimeError("the switchboard did not answer")

    # -- the relay thread ----------------------------------------------------

    def _run(self):
        while not self._stop:
            for key, events in self._sel.select(timeout=0.5):
                kind = key.data[0]
                if kind == "wake":
                    self._wake_r.recv(4096)
                    with self._lock:
                        cmds, self._commands = self._commands, []
                    for fn, done in cmds:
                        try:
                            fn()
                        finally:
                            done.set()
                elif kind == "listen":
                    self._accept(key.fileobj, *key.data[1:])
                else:
                    self._service(key.fileobj, key.data[1], events)
        self._sel.close()

    def _listen(self, ls, src, dst, port):
        self._listeners.append(ls)
        self._sel.register(ls, selectors.EVENT_READ, ("listen", src, dst, port))

    def _accept(self, ls, src, dst, port):
        try:
            a, _ = ls.accept()
        except OSError:
            return
        if (src, dst) in self._cut:
            self._held.append(a)  # accepted, never answered: a dead route
            return
        b = None
        try:
            with entered(dst):
                b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            b.settimeout(2)
            b.connect(("127.0.0.1", port))
        except OSError:
            a.close()
            if b is not None:
                b.close()
            return
        for s in (a, b):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(a, b, src, dst)
        self._links.add(link)
        for s in (a, b):
            self._sel.register(s, selectors.EVENT_READ, ("link", link))

    def _interest(self, link, s):
        if link.cut:
            return 0
        ev = 0
        if len(link.out[link.peer(s)]) < MAX_BUFFERED:
            ev |= selectors.EVENT_READ
        if link.out[s]:
            ev |= selectors.EVENT_WRITE
        return ev

    def _update(self, link):
        for s in (link.a, link.b):
            ev = self._interest(link, s)
            try:
                key = self._sel.get_key(s)
            except KeyError:
                key = None
            if key and not ev:
                self._sel.unregister(s)
            elif not key and ev:
                self._sel.register(s, ev, ("link", link))
            elif key and key.events != ev:
                self._sel.modify(s, ev, ("link", link))

    def _drop(self, link):
        for s in (link.a, link.b):
            try:
                self._sel.unregister(s)
            except KeyError:
                pass
            s.close()
        self._links.discard(link)

    def _service(self, s, link, events):
        if link not in self._links or link.cut:
            return
        if events & selectors.EVENT_READ:
            try:
                data = s.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                return self._drop(link)
            if data:
                link.out[link.peer(s)] += data
        for t in (link.a, link.b):
            buf = link.out[t]
            if buf:
                try:
                    n = t.send(buf)
                    del buf[:n]
                except BlockingIOError:
                    pass
                except OSError:
                    return self._drop(link)
        self._update(link)

    def _do_cut(self, pairs):
        self._cut |= pairs
        for link in list(self._links):
            if (link.src, link.dst) in self._cut:
                link.cut = True
                self._update(link)

    def _do_heal(self):
        for link in [l for l in self._links if l.cut]:
            self._drop(link)
        for s in self._held:
            s.close()
        self._held = []
        self._cut = set()

    def _do_close(self):
        for link in list(self._links):
            self._drop(link)
        for s in self._held + self._listeners:
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._stop = True
