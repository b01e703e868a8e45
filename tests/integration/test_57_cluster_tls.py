#!/usr/bin/python3
"""TLS on the cluster port (docs/cluster.md, "TLS on the cluster port"):
with cluster.tls, nodes connect to each other over TLS through CAF's OpenSSL
module, and each side checks the other's certificate against the group's
CA. A group over TLS routes publishes as any group does; the port answers
only TLS, with the node's certificate; a node whose certificate another CA
signed, or that speaks plain BASP, never joins. Bad files stop the server
at startup, naming the key and the file. Certificates are made at test time
with the openssl command."""

import json
import os
import shutil
import socket
import ssl
import tempfile

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from transport_util import _ca, _leaf, expect_startup_failure

NODE_EXT = ("basicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth,clientAuth\n")


def node_pki(d):
    """ca.pem and n1..n3.pem/.key signed by it; rogue.pem/.key (CN n3)
    signed by other_ca.pem. Returns {name: {cert_file, key_file, ca_file}}."""
    _ca(d, "ca", "Castor Group CA")
    _ca(d, "other_ca", "Another CA")
    out = {}
    for name, ca in (("n1", "ca"), ("n2", "ca"), ("n3", "ca"),
                     ("rogue", "other_ca")):
        _leaf(d, name, ca, "/O=Castor Test/CN=%s" % name.replace("rogue", "n3"),
              NODE_EXT)
        out[name] = {"cert_file": os.path.join(d, name + ".pem"),
                     "key_file": os.path.join(d, name + ".key"),
                     "ca_file": os.path.join(d, "ca.pem")}
    return out


class Pki:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="castor-group-pki-")
        self.tls = node_pki(self.dir)
        return self.tls

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


def probe(port, ca_file, cert=None):
    """A TLS connection to the cluster port that trusts `ca_file` and
    presents `cert` ((cert_file, key_file) or none): the CN of the node's
    certificate once the node has sent something over it (CAF's BASP
    handshake), or why the node refused it."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(*cert)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as s:
                subject = dict(x[0] for x in s.getpeercert()["subject"])
                if not s.recv(1):
                    return "refused: closed"
                return subject["commonName"]
    except (ssl.SSLError, ConnectionError, socket.timeout) as e:
        return "refused: %s" % e


@case(server=False, castor_only=True, timeout=120)
def a_group_over_tls_routes_publishes():
    with Pki() as tls:
        with group(tls={n: tls[n] for n in ("n1", "n2", "n3")}) as g:
            n1, n2, n3 = g.nodes["n1"], g.nodes["n2"], g.nodes["n3"]
            for n in (n1, n2, n3):
                check("seeds, over TLS" in n.log(),
                      "%s says its cluster port is TLS" % n.name)
            sub = mosquitto_sub(n1, "tls57/#", 1, 3, "g57-sub")
            wait_metric(n3, "castor_cluster_routes", lambda v: v >= 1,
                        "n1's filter reached n3")
            mosquitto_pub(n3, "tls57/a", 1, ["x", "y", "z"])
            out, err = sub.communicate(timeout=40)
            check_eq(sub.returncode, 0, "mosquitto_sub's status (%r)" % err)
            check_eq(out.decode().split(), ["x", "y", "z"],
                     "across the nodes over TLS, in order")
            # The port speaks TLS with the node's certificate, and takes a
            # client with a certificate of the group's CA only.
            ca = tls["n1"]["ca_file"]
            n1_cert = (tls["n1"]["cert_file"], tls["n1"]["key_file"])
            check_eq(probe(g.ports["n2"], ca, n1_cert), "n2",
                     "n2's cluster port to a client with n1's certificate")
            for what, cert in (("no certificate", None),
                               ("another CA's certificate",
                                (tls["rogue"]["cert_file"],
                                 tls["rogue"]["key_file"]))):
                got = probe(g.ports["n2"], ca, cert)
                check(got.startswith("refused"),
                      "n2's cluster port to a client with %s: %s"
                      % (what, got))


@case(server=False, castor_only=True, timeout=120)
def nodes_without_the_groups_certificate_never_join():
    with Pki() as tls:
        with group(mesh=False, tls={"n1": tls["n1"], "n2": tls["n2"]}) as g:
            n1, n2 = g.start("n1"), g.start("n2")
            wait_members(n1, ["n2"], what="n2 joined n1 over TLS")
            # A certificate of another CA: refused in the handshake, both
            # ways (n3 asks n1, and n1's certificate is not of n3's CA).
            rogue = dict(tls["rogue"], ca_file=os.path.join(
                os.path.dirname(tls["rogue"]["cert_file"]), "other_ca.pem"))
            n3 = g.start("n3", tls=rogue)
            wait_log(n3, "cannot join 127.0.0.1:%d" % g.ports["n1"])
            # Plain BASP on a TLS port: no answer it can read.
            n3.stop()
            n3 = g.start("n3", tls={})
            wait_log(n3, "cannot join 127.0.0.1:%d" % g.ports["n1"])
            check_eq(n1.members().keys(), {"n2"}, "n1's members")
            check_eq(n3.members(), {}, "n3's members")
            check_eq(n1.metric("castor_cluster_members"), 2.0,
                     "n1 counts itself and n2")


CLUSTER = "cluster: {enabled: true, port: %d, secret_file: %s, tls: %s}\n"


@case(server=False, castor_only=True, timeout=60)
def bad_tls_files_stop_startup_naming_key_and_file():
    with Pki() as tls:
        d = os.path.dirname(tls["n1"]["cert_file"])
        secret_file = secret(d, "secret", "group-secret-0123456789")
        port = free_port()

        def fails(settings, *texts):
            out = expect_startup_failure(CLUSTER % (port, secret_file,
                                                    json.dumps(settings)))
            for t in texts:
                check(t in out, "%r in the output:\n%s" % (t, out))
            check("BEGIN" not in out and "PRIVATE" not in out,
                  "no file contents: %r" % out)

        n1 = tls["n1"]
        fails({"cert_file": n1["cert_file"], "key_file": n1["key_file"]},
              "cluster.tls.ca_file", "required with TLS")
        fails(dict(n1, cert_file=os.path.join(d, "missing.pem")),
              "cluster.tls.cert_file", "missing.pem")
        fails(dict(n1, key_file=tls["n2"]["key_file"]),
              "cluster.tls.key_file", "does not match")
        fails(dict(n1, ca_file=n1["key_file"]), "cluster.tls.ca_file")


if __name__ == "__main__":
    run_cases()
