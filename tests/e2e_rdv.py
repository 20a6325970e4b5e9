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
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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

    def has(self, word, pred=lambda f: True):
        return any(pred(f) for f in self.ev[word])

    def errors(self):
        return self.events("error")


def register(c, name, host, server_id=None):
    c.send(f"/register {name}@{host}" + (f" {server_id}" if server_id else ""))
    c.expect("registered", lambda f: f[0] == f"{name}@{host}", 20, f"registered {name}@{host}")
    c.expect("login", lambda f: f[0] == host, 20, f"login {host}")
    # The client asks its home for its public address with a standard STUN Binding request on
    # its session socket; the answer must be this client's own address in the lab.
    me = ADDRS[c.name] + ":"
    c.expect("info", lambda f: "(STUN): " + me in " ".join(f), 20,
             f"info with its STUN-mapped address {me}PORT")


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


# Sizes of what the server may send carol (rdvmsg.h, rel.h, noise.h): a DATA packet is
# 32 bytes of Noise around frames of type u8 | length u16 | body: at most one ACK first
# (24 bytes with no out-of-order ranges), then, if it carries messages, one TS (7) and rel
# DATA frames (19 + message), then perhaps a PING (3). Carol's messages can only be RESULTs:
# 6 bytes (type, req, code), 38 with a LOOKUP's key, 142 with a BUNDLE.
RESULT_FRAMES = {25: "plain", 57: "lookup", 161: "bundle"}


def decompose(p):
    """The RESULT frames a server DATA plaintext of p bytes can hold: a dict of counts, or
    None if no mix of ACK, TS, PING and RESULT frames makes exactly p bytes."""
    for ack in (24, 0):      # the server acknowledges carol's requests: an ACK first
        for ping in (0, 3):
            rest = p - ack - ping
            if rest == 0 and ack + ping:
                return {}
            rest -= 7
            if rest < 25:
                continue
            for k3 in range(rest // 161 + 1):
                for k2 in range((rest - 161 * k3) // 57 + 1):
                    r = rest - 161 * k3 - 57 * k2
                    if r % 25 == 0:
                        return {"plain": r // 25, "lookup": k2, "bundle": k3}
    return None


def check_capture(sniff, what):
    """Every packet the server sent to the host is explained by the host's own requests:
    KEY, RESP, COOKIE, STUN answers, and DATA packets holding only RESULT-sized messages.
    Returns a summary."""
    kinds = {"key": 0, "resp": 0, "cookie": 0, "stun": 0, "data": 0}
    frames = {"plain": 0, "lookup": 0, "bundle": 0}
    out_data = out_bytes = 0
    biggest = 0
    sizes = []
    for line in list(sniff.lines):
        f = line.split()
        if f[0] == "v6":
            raise Fail(f"{what}: an IPv6 packet between the server and the host: {line}")
        if f[0] != "pkt":
            continue
        d, proto, sport, dport, n, head = f[1], int(f[2]), int(f[3]), int(f[4]), int(f[5]), f[6]
        if d == "out":
            if proto == 17 and head.startswith("f104"):
                out_data += 1
                out_bytes += n - 32
            continue
        if proto == 1 and head.startswith("0303"):
            # ICMP port unreachable from the server host's kernel while tincand is down (it is
            # SIGKILLed and restarted in the offline phase): no daemon, no data about anyone.
            kinds["icmp-unreach"] = kinds.get("icmp-unreach", 0) + 1
            continue
        if proto != 17 or sport != 7787:
            raise Fail(f"{what}: the server sent a packet that is not from its UDP port: {line}")
        biggest = max(biggest, n)
        if head.startswith("f111") and n == 36:
            kinds["key"] += 1
        elif head.startswith("f102") and n == 92:
            kinds["resp"] += 1
        elif head.startswith("f103") and n == 64:
            kinds["cookie"] += 1
        elif head.startswith("0101") and n in (32, 44):
            kinds["stun"] += 1
        elif head.startswith("f104") and n > 32:
            kinds["data"] += 1
            sizes.append(n)
            got = decompose(n - 32)
            if got is None:
                raise Fail(f"{what}: a DATA packet of {n} bytes from the server holds something "
                           "other than RESULTs (PRESENCE/REQUESTED/MAIL sizes)")
            for k, v in got.items():
                frames[k] += v
        else:
            raise Fail(f"{what}: unexpected packet from the server: {line}")
    if os.environ.get("E2E_RDV_DEBUG"):
        print(f"{what}: DATA sizes from the server: {sizes}")
    return kinds, frames, out_data, out_bytes, biggest


def phase_carol(carol, alice, bob, world):
    """carol registers and asks bob and alice, who do not answer; she tries lookups, a
    subscription (the /add does both) and mail. Presence changes of alice and bob follow."""
    register(carol, "carol", SRV1)
    carol.send(f"/add bob@{SRV1} carol here, let me in", f"/add alice@{SRV1} and you too")
    carol.expect("added", lambda f: f[0] == bob.id, 20, "added bob")
    carol.expect("added", lambda f: f[0] == alice.id, 20, "added alice")
    # the requests did reach them: bob and alice are asked, and do not answer
    bob.expect("request", lambda f: f[0] == carol.id, 20, "request from carol")
    alice.expect("request", lambda f: f[0] == carol.id, 20, "request from carol")
    carol.send(f"/msg {bob.id} are you there, bob?")
    carol.expect("queued", lambda f: f[0] == bob.id, 10, "queued for bob")
    # presence changes that alice and bob see of each other (so the server pushed them)
    bob.send("/status away gone fishing")
    alice.expect("status", lambda f: f[0] == bob.id and f[1] == "away", 15, "bob away")
    alice.send("/status busy in a meeting")
    bob.expect("status", lambda f: f[0] == alice.id and f[1] == "busy", 15, "alice busy")
    bob.send("/status online")
    alice.send("/status online")
    alice.expect("status", lambda f: f[0] == bob.id and f[1] == "online", 15, "bob online again")
    bob.expect("status", lambda f: f[0] == alice.id and f[1] == "online", 15,
               "alice online again")


def check_carol(carol, alice, bob, sniff):
    """After everything (presence changes, bob's logout and login, the server's restart):
    carol saw nothing of alice's and bob's presence, nor did any packet carry it."""
    carol.sync()
    for word in ("online", "offline", "status", "path", "msg", "delivered", "mailbox"):
        for f in carol.ev[word]:
            if f and f[0] in (alice.id, bob.id):
                raise Fail(f"carol: {word} {' '.join(f)}: she is not authorised")
    err = carol.stderr()
    for who in (alice, bob):
        if re.search(re.escape(who.id) + r": (presence|session up)", err):
            raise Fail(f"carol's debug log shows presence or a session for {who.name}")
    kinds, frames, out_data, out_bytes, biggest = check_capture(sniff, "carol")
    n = sum(frames.values())
    # carol's requests: REGISTER, LOGIN, PREKEYS, for each /add LOOKUP, ALLOW, REQUEST,
    # SUBSCRIBE, a BUNDLE for her /msg to bob (NOTFOUND); after each new login (the server's
    # restart) LOGIN and both SUBSCRIBEs again. Each gets exactly one RESULT, nothing else.
    logins = len(carol.events("login"))
    want = 12 + 3 * (logins - 1)
    if frames["lookup"] != 2:
        raise Fail(f"carol: {frames['lookup']} LOOKUP-sized results for her two lookups")
    if not want <= n <= want + 3:
        raise Fail(f"carol: {n} RESULTs in {kinds['data']} DATA packets, want {want} "
                   f"(+3 for retried bundles)")
    if n * 25 > out_bytes:
        raise Fail(f"carol: {n} RESULTs for {out_bytes} bytes of requests: more than asked")
    if frames["bundle"]:
        raise Fail(f"carol: {frames['bundle']} prekey bundles of an unauthorised contact")
    return (f"{sum(kinds.values())} packets from the server ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
            f"largest {biggest} bytes; DATA holds {n} RESULTs ({frames['plain']} plain, "
            f"{frames['lookup']} lookup) for carol's {out_data} DATA packets")


def phase_offline(lab, world, srv, alice, bob, client, count):
    """bob leaves; alice sends count messages, sealed into bob's mailbox; the server is
    SIGKILLed and restarted; bob comes back and gets each once, in order; alice gets
    delivered for each; the text is nowhere in the server's files. Returns bob's new run."""
    bob.quit()
    alice.expect("offline", lambda f: f[0] == bob.id, 15, "bob offline")
    token = "sealedtxt" + os.urandom(6).hex()
    logins = len(alice.events("login"))
    alice.send(*[f"/msg {bob.id} {token} {k} for bob's mailbox" for k in range(1, count + 1)])
    alice.wait(lambda s: len(s.ev["mailbox"]) >= count, 60, f"alice: {count} mailbox events",
               lambda s: f"{len(s.ev['mailbox'])} so far")
    boxed = [int(f[1]) for f in alice.events("mailbox") if f[0] == bob.id]
    queued = alice.sync().queued[bob.id][-count:]
    if sorted(set(boxed)) != sorted(queued):
        raise Fail(f"alice: mailbox events {boxed[:5]}... do not match queued {queued[:5]}...")
    if alice.delivered[bob.id].keys() & set(queued):
        raise Fail("alice: delivered before bob came back")
    srv.sigkill()
    srv.start(world.hosts["carol"])
    killed = time.monotonic()
    bob2 = client("bob", 1)
    bob2.expect("login", lambda f: f[0] == SRV1, 20, "login")
    got = bob2.wait(lambda s: len(s.msgs[alice.id, token]) >= count and s.msgs[alice.id, token],
                    60, f"bob: {count} messages from the mailbox",
                    lambda s: f"{len(s.msgs[alice.id, token])} so far")
    texts = [t for _, t in got]
    want = [f"{token} {k} for bob's mailbox" for k in range(1, count + 1)]
    if texts != want:
        raise Fail(f"bob: mailbox messages out of order or repeated: {len(texts)} shown")
    ids = [m for m, _ in got]
    if ids != queued:
        raise Fail(f"bob: msgids {ids[:3]}..{ids[-3:]} for queued {queued[:3]}..{queued[-3:]}")
    alice.wait(lambda s: all(s.delivered[bob.id][m] >= 1 for m in queued), 120,
               f"alice: delivered for {count}",
               lambda s: f"{sum(1 for m in queued if s.delivered[bob.id][m])} so far")
    extra = [m for m in queued if alice.delivered[bob.id][m] != 1]
    if extra:
        raise Fail(f"alice: delivered more than once: {extra[:10]}")
    # alice notices the restart by herself (an idle client: keepalive, then silence)
    alice.wait(lambda s: len(s.ev["login"]) > logins, 90, "alice: login again after the restart")
    relogin = time.monotonic() - killed
    bob2.expect("online", lambda f: f[0] == alice.id, 30, "alice online")
    # nowhere in the server's files, though the sealed mail went through them
    total = 0
    for root, _, files in os.walk(srv.state):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            total += len(data)
            if token.encode() in data or b"for bob's mailbox" in data:
                raise Fail(f"{os.path.join(root, name)} holds the text of a mailbox message")
    if total < count * 129:
        raise Fail(f"the server's files hold {total} bytes: the {count} sealed mails were "
                   "never stored there?")
    return bob2, total, relogin


def phase_two_servers(world, alice, client):
    world.start_server(1, "dave")
    dave = client("dave")
    register(dave, "dave", SRV2)
    befriend(alice, dave, SRV2, "hello dave, from the other server")
    chat(alice, dave, "across")
    return dave


def phase_flood(world, client, count):
    """mallory floods the first server with garbage and handshakes while eve logs in."""
    flood = world.flood("mallory", 0, count, 4.0)
    flood.expect(r"^start$", 10)
    t = time.monotonic()
    eve = client("eve")
    register(eve, "eve", SRV1)
    took = time.monotonic() - t
    m = flood.expect(r"^done (\d+) ([0-9.]+) ?(.*)$", 30)
    sent, secs, replies = int(m.group(1)), float(m.group(2)), m.group(3)
    if sent < count * 9 // 10:
        raise Fail(f"mallory sent only {sent} of {count}")
    return eve, took, sent, secs, replies


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tincan")
    ap.add_argument("tincand")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--flood", type=int, default=20000)
    args = ap.parse_args()
    tincan, tincand = os.path.abspath(args.tincan), os.path.abspath(args.tincand)

    def body(lab, tmp):
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
        carol = client("carol")
        sniff = world.sniffer("carol", 0)
        stamp = time.monotonic()
        phase_carol(carol, alice, bob, world)
        print(f"carol: asked bob and alice, looked up, subscribed; they changed status "
              f"({time.monotonic() - stamp:.1f} s)")

        stamp = time.monotonic()
        bob, total, relogin = phase_offline(lab, world, srv1, alice, bob, client, args.count)
        print(f"offline: {args.count} sealed in bob's mailbox, tincand SIGKILLed and "
              f"restarted, each shown once in order and delivered; the text is in none "
              f"of the server's {total} bytes of files ({time.monotonic() - stamp:.1f} s; "
              f"alice logged in again {relogin:.1f} s after the restart)")
        sniff.kill()
        sniff.wait(5)
        print("carol: " + check_carol(carol, alice, bob, sniff))

        stamp = time.monotonic()
        dave = phase_two_servers(world, alice, client)
        print(f"two servers: alice@{SRV1} and dave@{SRV2} added each other and chatted "
              f"directly ({time.monotonic() - stamp:.1f} s)")

        eve, took, sent, secs, replies = phase_flood(world, client, args.flood)
        print(f"flood: eve logged in {took:.1f} s into a flood of {sent} packets in "
              f"{secs:.1f} s (replies to mallory: {replies or 'none'})")
        for c in (alice, bob, carol, dave, eve):
            c.quit()
        # the daemons stop cleanly on SIGTERM, without a sanitizer report
        for srv in world.servers:
            srv.proc.kill(signal.SIGTERM)
            rc = srv.proc.wait(15)
            err = srv.stderr()
            if rc != 0 or "Sanitizer" in err or "runtime error" in err:
                raise Fail(f"tincand {srv.addr}: status {rc} after SIGTERM\n{srv.proc.tail()}")

    return rdvlab.lab_main("e2e_rdv", "rdv", 300, body, (Fail,))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
