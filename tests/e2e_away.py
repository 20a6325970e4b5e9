#!/usr/bin/env python3
"""e2e_away.py: ICQ's away auto-reply between two real headless clients on a namespace LAN.

    python3 tests/e2e_away.py build/tincan

Bob is away with a message. The first message alice sends gets "[auto-reply] <message>"
back, as a normal message (bob prints `autoreply`, alice gets a `msg`); the next ones get
nothing until bob replies or comes back online; busy answers too; away without a message,
online and invisible do not; an auto-reply is never answered by another one. Absence is
checked against a later line that must come after it (both clients handle a message and its
auto-reply in one pass). Every wait is bounded. Root only (network namespaces).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402


class Fail(Exception):
    pass


def since(p, start):
    with p._cond:
        return list(p.lines[start:])


def sync(p):
    """A marker: /id's line comes after everything p printed for earlier input."""
    n = len(p.lines)
    p.send("/id")
    p.expect(r"^id ")
    return n


def exchange(alice, bob, text, reply=None):
    """alice sends text; bob shows it. With reply (the away message), bob says `autoreply` and
    alice gets the reply; without, neither appears (checked up to a /id sync on both)."""
    a0, b0 = len(alice.lines), len(bob.lines)
    alice.send(f"/msg bob {text}")
    bob.expect(rf"^msg {alice.id} \d+ \d+ {re.escape(text)}$")
    if reply is not None:
        m = bob.expect(rf"^autoreply {alice.id} (\d+) {re.escape('[auto-reply] ' + reply)}$")
        got = alice.expect(rf"^msg {bob.id} (\d+) \d+ (.*)$")
        if got.group(2) != "[auto-reply] " + reply or got.group(1) != m.group(1):
            raise Fail(f"alice got {got.group(0)!r} for bob's auto-reply {m.group(0)!r}")
        return
    sync(bob)
    if any(line.startswith("autoreply ") for line in since(bob, b0)):
        raise Fail(f"bob auto-replied to {text!r}:\n{bob.tail()}")
    alice.expect(rf"^delivered {bob.id} ")
    sync(alice)
    if any(line.startswith(f"msg {bob.id} ") for line in since(alice, a0)):
        raise Fail(f"alice got a message for {text!r}:\n{alice.tail()}")


def run(lab, tincan):
    alice, bob = netlab.lan_alice_bob(lab, tincan, 78)
    for me in (alice, bob):
        me.send("/peers")
    alice.expect(r"^peer \S+ bob ", timeout=20)
    bob.expect(r"^peer \S+ alice ", timeout=20)
    alice.send("/add bob hi")
    bob.expect(r"^request ")
    bob.send("/accept alice")
    # "online ... direct" then "path ... lan" when the session came before the peer's beacon
    alice.expect(rf"^(?:online|path) {bob.id} lan", timeout=20)
    bob.expect(rf"^(?:online|path) {alice.id} lan", timeout=20)

    exchange(alice, bob, "before away")                        # online: nothing
    bob.send("/status away")
    alice.expect(rf"^status {bob.id} away")
    exchange(alice, bob, "away without a message")             # nothing to send
    bob.send("/status away gone fishing, back at 6")
    alice.expect(rf"^status {bob.id} away gone fishing, back at 6")
    exchange(alice, bob, "are you there?", "gone fishing, back at 6")
    exchange(alice, bob, "hello??")                            # once only
    exchange(alice, bob, "really?")
    bob.send("/msg alice one minute")                          # bob replies: again once
    alice.expect(rf"^msg {bob.id} \d+ \d+ one minute$")
    exchange(alice, bob, "ok", "gone fishing, back at 6")
    exchange(alice, bob, "ok!")
    bob.send("/status busy in a meeting")                      # busy answers too, not again
    alice.expect(rf"^status {bob.id} busy in a meeting")
    exchange(alice, bob, "still?")
    bob.send("/status online")                                 # back: reset
    alice.expect(rf"^status {bob.id} online")
    exchange(alice, bob, "welcome back")
    bob.send("/status busy in a meeting")
    alice.expect(rf"^status {bob.id} busy in a meeting")
    exchange(alice, bob, "now?", "in a meeting")
    bob.send("/status invisible gone")                         # invisible: no auto-reply
    alice.expect(rf"^offline {bob.id}")
    exchange(alice, bob, "invisible check")
    bob.send("/status online")
    alice.expect(rf"^online {bob.id}")
    # both away: bob's auto-reply reaches alice, who is away too, and gets no answer
    alice.send("/status away out for lunch")
    bob.expect(rf"^status {alice.id} away out for lunch")
    bob.send("/status away fishing")
    alice.expect(rf"^status {bob.id} away fishing")
    exchange(alice, bob, "ping", "fishing")
    b0 = len(bob.lines)
    sync(alice)
    if any(line.startswith("autoreply ") for line in since(alice, 0)):
        raise Fail(f"alice answered bob's auto-reply:\n{alice.tail()}")
    sync(bob)
    if any(line.startswith(f"msg {alice.id} ") for line in since(bob, b0)):
        raise Fail(f"bob got an answer to his auto-reply:\n{bob.tail()}")
    # but a real message from bob gets alice's away message
    bob.send("/msg alice are you back?")
    alice.expect(rf"^msg {bob.id} \d+ \d+ are you back\?$")
    alice.expect(rf"^autoreply {bob.id} \d+ \[auto-reply\] out for lunch$")
    bob.expect(rf"^msg {alice.id} \d+ \d+ \[auto-reply\] out for lunch$")
    for p in (alice, bob):
        p.send("/quit")
        if p.wait(10) != 0:
            raise Fail(f"{p.name}: exit status {p.popen.returncode}")


def main():
    return netlab.tincan_main("e2e-away", "away", 120, run, (Fail,))


if __name__ == "__main__":
    sys.exit(main())
