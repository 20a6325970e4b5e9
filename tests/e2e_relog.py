#!/usr/bin/env python3
"""e2e_relog.py: a client that lost its log for a contact (a reinstall with the same key, or
a deleted log file) and a contact that kept its own, on a namespace LAN.

    python3 tests/e2e_relog.py build/tincan

Alice and bob talk; bob queues a message while alice is away; alice comes back with her key
and contacts but without her log for bob. Her numbering starts again while bob has stored her
old numbers (bob must not drop her new messages as duplicates: he gets a `restart` event and
then every new message), and bob's outbox starts past the numbers alice's new log expects
(alice must not wait for them). Then bob restarts with his log: nothing is shown twice. Every
new message must arrive exactly once and in order on both sides. Every wait is bounded. Root
only (network namespaces).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402


class Fail(Exception):
    pass


def texts(p, sender, start=0):
    """The texts of the messages p has shown from sender, from line start on."""
    with p._cond:
        lines = list(p.lines[start:])
    out = []
    for line in lines:
        m = re.match(rf"^msg {sender} \d+ \d+ (.*)$", line)
        if m:
            out.append(m.group(1))
    return out


def wait_texts(p, sender, want, start, timeout=20):
    """p shows exactly want from sender after line start, in order: the last one within
    timeout, then nothing else up to a /id sync."""
    p.expect(rf"^msg {sender} \d+ \d+ {re.escape(want[-1])}$", timeout=timeout)
    p.send("/id")
    p.expect(r"^id ")
    got = texts(p, sender, start)
    if got != want:
        raise Fail(f"{p.name} shows {got!r} from {sender}, wants {want!r}\n{p.tail()}")


def seen(p, regex, start, timeout=10):
    """A line matching regex after line start, wherever expect's cursor is."""
    pat = re.compile(regex)
    with p._cond:
        if not p._cond.wait_for(lambda: any(pat.search(x) for x in p.lines[start:]), timeout):
            raise Fail(f"{p.name}: no /{regex}/ within {timeout} s\n{p.tail()}")


def online(a, b):
    # "online ... direct" then "path ... lan" when the session came before the peer's beacon
    a.expect(rf"^(?:online|path) {b.id} lan", timeout=20)
    b.expect(rf"^(?:online|path) {a.id} lan", timeout=20)


def quit(p):
    p.send("/quit")
    if p.wait(10) != 0:
        raise Fail(f"{p.name}: exit status {p.popen.returncode}")


def run(lab, tincan):
    alice, bob = netlab.lan_alice_bob(lab, tincan, 79)
    alice.send("/peers")
    alice.expect(r"^peer \S+ bob ", timeout=20)
    alice.send("/add bob hi")
    bob.expect(r"^request ", timeout=20)
    bob.send("/accept alice")
    online(alice, bob)

    a0, b0 = len(alice.lines), len(bob.lines)
    old_a = [f"alice old {i}" for i in range(1, 4)]
    old_b = [f"bob old {i}" for i in range(1, 4)]
    for t in old_a:
        alice.send(f"/msg bob {t}")
    for t in old_b:
        bob.send(f"/msg alice {t}")
    wait_texts(bob, alice.id, old_a, b0)
    wait_texts(alice, bob.id, old_b, a0)
    seen(alice, rf"^durable {bob.id} 3$", a0)
    seen(bob, rf"^durable {alice.id} 3$", b0)

    # alice goes; bob queues one; alice comes back without her log for bob
    quit(alice)
    bob.expect(rf"^offline {alice.id}", timeout=20)
    bob.send("/msg alice bob while away")
    bob.expect(rf"^queued {alice.id} 4$")
    log = os.path.join(alice.home, "log", bob.id + ".jl")
    if not os.path.exists(log):
        raise Fail(f"no log {log}")
    os.unlink(log)
    b1 = len(bob.lines)
    alice = netlab.lan_client(lab, "alice", tincan, "alice", "alice2")
    online(alice, bob)

    new_a = [f"alice new {i}" for i in range(1, 5)]
    new_b = ["bob while away"] + [f"bob new {i}" for i in range(1, 5)]
    for t in new_a:
        alice.send(f"/msg bob {t}")
    for t in new_b[1:]:
        bob.send(f"/msg alice {t}")
    wait_texts(bob, alice.id, new_a, b1)
    wait_texts(alice, bob.id, new_b, 0)
    seen(alice, rf"^durable {bob.id} 4$", 0)
    seen(bob, rf"^durable {alice.id} 8$", b1)
    if sum(1 for line in bob.lines[b1:] if re.match(rf"^restart {alice.id} \d+$", line)) != 1:
        raise Fail(f"bob: not one restart event for alice:\n{bob.tail()}")

    # bob restarts with his log: no old message again, and the numbering goes on
    quit(bob)
    alice.expect(rf"^offline {bob.id}", timeout=20)
    bob = netlab.lan_client(lab, "bob", tincan, "bob", "bob2")
    online(alice, bob)
    a2 = len(alice.lines)
    alice.send("/msg bob after bob's restart")
    bob.send("/msg alice bob back")
    wait_texts(bob, alice.id, ["after bob's restart"], 0)
    wait_texts(alice, bob.id, ["bob back"], a2)
    if any(line.startswith("restart ") for line in bob.lines):
        raise Fail(f"bob2 saw a restart without one:\n{bob.tail()}")
    for p in (alice, bob):
        quit(p)


def main():
    return netlab.tincan_main("e2e-relog", "relog", 150, run, (Fail,))


if __name__ == "__main__":
    sys.exit(main())
