#!/usr/bin/env python3
"""e2e_mailstream.py: sealed mail names the sender's stream: a sender that lost its log and
mails while the contact is offline, through a real tincand, in network namespaces.

    python3 tests/e2e_mailstream.py build/tincan build/tincand

Alice and bob (both registered on one tincand) talk directly, so bob counts alice's messages
on her first stream. Bob leaves; alice mails one more on that stream, which the test copies
out of tincand's journal. Alice comes back without her log for bob (a new stream that
numbers from 1 again), sends 3 messages that go as sealed mail, and leaves too, so that mail
is the only way they can reach bob. Bob comes back: he shows the 3 once, in order, after one
`restart` for alice, and drops nothing. Then the server replays the copied mail, from the
stream bob has left: bob (restarted, so what he left comes from his log) deletes it without
showing it or a restart. Then alice comes back: a direct session on the same
stream (no second restart), delivered for the 3, and one more message each way shown once.
Root only. Every wait is bounded.
"""

import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdvlab  # noqa: E402
from e2e_lan import Fail, pk_of  # noqa: E402
from e2e_rdv import Client, befriend, chat, register  # noqa: E402

NET = "10.99.0."
SRV1 = NET + "1"
ADDRS = {"alice": NET + "11", "bob": NET + "12"}
PORT = 7787


def restarts(c, peer):
    return [f for f in c.events("restart") if f[0] == peer.id]


def shown(c, peer, word):
    return [t for _, t in c.sync().msgs[peer.id, word]]


# tincand's state journal (journal.h framing, accounts.h records), enough to copy a stored
# mail and put it back as a replaying server would.
MAIL_PUT = 9


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def journals(state):
    names = [n for n in os.listdir(state) if n.startswith("journal.")]
    return [os.path.join(state, n) for n in sorted(names, key=lambda n: int(n.split(".")[1]))]


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 14 <= len(data) and data[off] == 0xFA:
        n = struct.unpack(">I", data[off + 1:off + 5])[0]
        yield data[off + 5:off + 5 + n]
        off += 14 + n


def stored_mails(state, sender_pk):
    return [r for p in journals(state) for r in records(p)
            if len(r) > 73 and r[0] == MAIL_PUT and r[41:73] == sender_pk]


def put_back(state, rec, mail_id):
    """Append rec with a new mail id to the newest journal of a stopped tincand."""
    rec = rec[:33] + struct.pack(">Q", mail_id) + rec[41:]
    path = journals(state)[-1]
    off = os.path.getsize(path)
    head = bytes([0xFA]) + struct.pack(">I", len(rec)) + rec
    crc = crc32c(head, crc32c(struct.pack(">Q", off)))
    with open(path, "ab") as f:
        f.write(head + struct.pack(">II", crc, len(rec)) + bytes([0xFB]))


def run(client, srv, restart_srv):
    alice, bob = client("alice"), client("bob")
    register(alice, "alice", SRV1)
    register(bob, "bob", SRV1)
    befriend(alice, bob, SRV1, "hello bob, it is alice")
    chat(alice, bob, "direct")
    bob.wait(lambda s: s.durable.get(alice.id, 0) >= 3, 20, "bob: alice's 3 durable")

    # bob leaves; alice comes back without her log for bob, mails 3, and leaves too
    bob.quit()
    alice.expect("offline", lambda f: f[0] == bob.id, 20, "bob offline")
    first = "mailed-on-first"
    alice.send(f"/msg {bob.id} {first}")
    alice.wait(lambda s: any(f[0] == bob.id for f in s.ev["mailbox"]), 60,
               "alice: the mail on her first stream")
    old = stored_mails(srv.state, pk_of(alice.id))
    if len(old) != 1:
        raise Fail(f"{len(old)} mails from alice in tincand's journal, want 1")
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
    if shown(bob, alice, first) != [first]:
        raise Fail(f"bob2: the mail on alice's first stream shown as {shown(bob, alice, first)}")

    # the server replays the mail from alice's first stream, which bob has left
    bob.quit()
    srv = restart_srv(lambda state: put_back(state, old[0], 1 << 40))
    bob = client("bob", 2)
    bob.expect("login", lambda f: f[0] == SRV1, 20, "login")
    replay = "a mail from a replaced stream of its messages: deleted"
    bob.wait(lambda s: replay in bob.stderr() or s.msgs[alice.id, first], 30,
             "bob3: the replayed mail deleted")
    time.sleep(1)
    if restarts(bob, alice) or shown(bob, alice, first) or shown(bob, alice, "mailed-after-relog"):
        raise Fail(f"bob3: the replay shown: restarts {restarts(bob, alice)}, "
                   f"{shown(bob, alice, first)} {shown(bob, alice, 'mailed-after-relog')}")

    # alice comes back: the same stream on a direct session, nothing shown twice
    alice = client("alice", 2)
    alice.expect("login", lambda f: f[0] == SRV1, 20, "login")
    for me, other in ((alice, bob), (bob, alice)):
        me.expect("online", lambda f: f[0] == other.id, 40, f"online {other.name}")
    alice.wait(lambda s: all(s.delivered[bob.id][m] >= 1 for m in (1, 2, 3)), 30,
               "alice3: delivered for the 3 mails")
    chat(alice, bob, "after")
    time.sleep(1)
    if shown(bob, alice, "mailed-after-relog") or shown(bob, alice, first):
        raise Fail(f"bob3: the mails shown again: {shown(bob, alice, 'mailed-after-relog')} "
                   f"{shown(bob, alice, first)}")
    if restarts(bob, alice):
        raise Fail(f"bob3: restart events for alice {restarts(bob, alice)} after the session")
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

        def restart_srv(change):
            """Stop tincand, change its state directory, start it again."""
            srv.proc.kill(signal.SIGTERM)
            if srv.proc.wait(15) != 0:
                raise Fail(f"tincand {srv.addr}: stopped badly\n{srv.proc.tail()}")
            change(srv.state)
            return world.start_server(0)

        run(client, srv, restart_srv)
        srv.proc.kill(signal.SIGTERM)
        rc = srv.proc.wait(15)
        err = srv.stderr()
        if rc != 0 or "Sanitizer" in err or "runtime error" in err:
            raise Fail(f"tincand {srv.addr}: status {rc} after SIGTERM\n{srv.proc.tail()}")

    return rdvlab.lab_main("e2e_mailstream", "mstrm", 150, body, (Fail,))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
