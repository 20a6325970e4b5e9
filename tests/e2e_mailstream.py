#!/usr/bin/env python3
"""e2e_mailstream.py: sealed mail names the sender's stream: a sender that lost its log and
mails while the contact is offline, through a real tincand, in network namespaces.

    python3 tests/e2e_mailstream.py build/tincan build/tincand

Alice and bob (both registered on one tincand) talk directly, so bob counts alice's messages
on her first stream. Bob leaves. Alice comes back without her log for bob (a new stream that
numbers from 1 again), sends 3 messages that go as sealed mail, and leaves too, so that mail
is the only way they can reach bob. Bob comes back: he shows the 3 once, in order, after one
`restart` for alice, and drops nothing. Then alice comes back: a direct session on the same
stream (no second restart), delivered for the 3, and one more message each way shown once.
Root only. Every wait is bounded.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdvlab  # noqa: E402
from e2e_lan import Fail  # noqa: E402
from e2e_rdv import Client, befriend, chat, register  # noqa: E402

NET = "10.99.0."
SRV1 = NET + "1"
ADDRS = {"alice": NET + "11", "bob": NET + "12"}
PORT = 7787


def restarts(c, peer):
    return [f for f in c.events("restart") if f[0] == peer.id]


def shown(c, peer, word):
    return [t for _, t in c.sync().msgs[peer.id, word]]


def run(client):
    alice, bob = client("alice"), client("bob")
    register(alice, "alice", SRV1)
    register(bob, "bob", SRV1)
    befriend(alice, bob, SRV1, "hello bob, it is alice")
    chat(alice, bob, "direct")
    bob.wait(lambda s: s.durable.get(alice.id, 0) >= 3, 20, "bob: alice's 3 durable")

    # bob leaves; alice comes back without her log for bob, mails 3, and leaves too
    bob.quit()
    alice.expect("offline", lambda f: f[0] == bob.id, 20, "bob offline")
    alice.quit()
    log = os.path.join(alice.home, "log", bob.id + ".jl")
    if not os.path.exists(log):
        raise Fail(f"no log {log}")
    os.unlink(log)
    alice = client("alice", 1)
    alice.expect("login", lambda f: f[0] == SRV1, 20, "login")
    want = [f"mailed-after-relog {k}" for k in range(1, 4)]
    alice.send(*[f"/msg {bob.id} {t}" for t in want])
    alice.wait(lambda s: len(s.queued[bob.id]) >= 3, 10, "alice: 3 queued")
    queued = alice.sync().queued[bob.id]
    if queued != [1, 2, 3]:
        raise Fail(f"alice2: queued {queued}, want a numbering from 1 (a new log)")
    alice.wait(lambda s: {int(f[1]) for f in s.ev["mailbox"] if f[0] == bob.id} >= {1, 2, 3}, 60,
               "alice2: 3 mailbox events")
    alice.quit()

    # bob comes back: mail is the only way in, and it names alice's new stream
    bob = client("bob", 1)
    bob.expect("login", lambda f: f[0] == SRV1, 20, "login")
    bob.wait(lambda s: len(s.msgs[alice.id, "mailed-after-relog"]) >= 3, 30,
             "bob2: alice's 3 mails shown",
             lambda s: f"{len(s.msgs[alice.id, 'mailed-after-relog'])} so far, "
                       f"{len(restarts(s, alice))} restart")
    got = bob.sync().msgs[alice.id, "mailed-after-relog"]
    if [t for _, t in got] != want or [m for m, _ in got] != [1, 2, 3]:
        raise Fail(f"bob2: mail from alice shown as {got}")
    if len(restarts(bob, alice)) != 1:
        raise Fail(f"bob2: restart events for alice {restarts(bob, alice)}, want one")

    # alice comes back: the same stream on a direct session, nothing shown twice
    alice = client("alice", 2)
    alice.expect("login", lambda f: f[0] == SRV1, 20, "login")
    for me, other in ((alice, bob), (bob, alice)):
        me.expect("online", lambda f: f[0] == other.id, 40, f"online {other.name}")
    alice.wait(lambda s: all(s.delivered[bob.id][m] >= 1 for m in (1, 2, 3)), 30,
               "alice3: delivered for the 3 mails")
    chat(alice, bob, "after")
    time.sleep(1)
    if shown(bob, alice, "mailed-after-relog") != want:
        raise Fail(f"bob2: the mails shown again: {shown(bob, alice, 'mailed-after-relog')}")
    if len(restarts(bob, alice)) != 1:
        raise Fail(f"bob2: restart events for alice {restarts(bob, alice)} after the session")
    if restarts(alice, bob):
        raise Fail(f"alice3: a restart for bob, who kept his log: {restarts(alice, bob)}")
    for c in (alice, bob):
        c.quit()


def main():
    if len(sys.argv) != 3:
        print("usage: e2e_mailstream.py path/to/tincan path/to/tincand", file=sys.stderr)
        return 2
    tincan, tincand = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

    def body(lab, tmp):
        world = rdvlab.World(lab, tincand, tmp, NET, ADDRS, [SRV1], PORT)
        srv = world.start_server(0)
        homes = {n: os.path.join(tmp, n) for n in ADDRS}
        for h in homes.values():
            os.makedirs(h)

        def client(name, run=0):
            return Client(lab, world.hosts[name], name, tincan, homes[name], run)

        run(client)
        srv.proc.kill(signal.SIGTERM)
        rc = srv.proc.wait(15)
        err = srv.stderr()
        if rc != 0 or "Sanitizer" in err or "runtime error" in err:
            raise Fail(f"tincand {srv.addr}: status {rc} after SIGTERM\n{srv.proc.tail()}")

    return rdvlab.lab_main("e2e_mailstream", "mstrm", 150, body, (Fail,))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
