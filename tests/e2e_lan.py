#!/usr/bin/env python3
"""e2e_lan.py: two real `tincan --headless --lan` clients on a namespace LAN: discovery, 1,000
messages each way under 20% loss, forged beacons and garbage UDP, SIGKILL of the receiver.

    python3 tests/e2e_lan.py build/tincan [--count 1000] [--crash 500] [--loss 20]

Root only (network namespaces, nftables). Hosts alice, bob and mallory hang off one bridge;
a sniffer in the bridge's namespace captures real packets that mallory then replays, truncates
and bit-flips at both clients. Every wait is bounded; on failure the reason and the clients'
last lines are printed and the exit status is 1 (logs are kept, see "netlab: logs kept").
"""

import argparse
import base64
import collections
import hashlib
import json
import os
import random
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402

DISC_PORT = 7789
GROUP4 = "239.255.77.89"
BEACON_TAG = b"tincan-beacon-v1"
NET4, NET6 = "10.77.0.", "fd77::"


class Fail(Exception):
    """The client did something it must not, or did not do something in time."""


def id_of(pk):
    """The identity string of a 32-byte Ed25519 key (crypto.h: "tc" + base32 of pk||sum)."""
    raw = pk + hashlib.blake2b(b"tincan-id" + pk, digest_size=32).digest()[:3]
    return "tc" + base64.b32encode(raw).decode().lower()


def pk_of(ident):
    raw = base64.b32decode(ident[2:].upper())
    if len(raw) != 35 or id_of(raw[:32]) != ident:
        raise Fail(f"{ident}: not a well-formed identity string")
    return raw[:32]


def beacon(pk, ts_ms, port, flags, nick, sig=None, signer=None):
    """A LAN beacon (lan.h, wire type 5). The signature is random unless signer (a callable
    over the signed bytes) is given: a forgery, which must be ignored."""
    nick = nick.encode()
    body = bytes([0xF1, 5, 0, 0]) + pk + struct.pack("!QHBB", ts_ms, port, flags, len(nick)) + nick
    if signer:
        sig = signer(BEACON_TAG + body)
    return body + (sig if sig is not None else os.urandom(64))


def parse_beacon(data):
    """(pk, ts, port, flags, nick) of a well-formed beacon, or None."""
    if len(data) < 4 + 32 + 12 + 64 or data[:4] != bytes([0xF1, 5, 0, 0]):
        return None
    ts, port, flags, nlen = struct.unpack("!QHBB", data[36:48])
    if len(data) != 48 + nlen + 64:
        return None
    return data[4:36], ts, port, flags, data[48:48 + nlen].decode("utf-8", "replace")


class Lines:
    """A process of the lab and its stdout lines, parsed incrementally into events."""

    SPLITS = {"msg": 4, "request": 3, "peer": 3, "status": 3, "warning": 2, "error": 2,
              "id": 3, "contact": 4, "added": 2, "cap": 5}

    def __init__(self, proc, label):
        self.proc = proc
        self.label = label
        self._n = 0
        self.ev = collections.defaultdict(list)       # event word -> list of field lists
        self.msgs = collections.defaultdict(list)     # (sender, first word) -> [(msgid, text)]
        self.delivered = collections.defaultdict(collections.Counter)  # peer -> msgid counts
        self.queued = collections.defaultdict(list)   # peer -> msgids in order
        self.durable = {}                              # peer -> highest msgid synced

    def _update(self):
        """Parse lines not seen yet; caller holds proc._cond."""
        lines = self.proc.lines
        while self._n < len(lines):
            line = lines[self._n]
            self._n += 1
            word = line.split(" ", 1)[0]
            f = line.split(" ", self.SPLITS.get(word, 2))[1:]
            self.ev[word].append(f)
            try:
                if word == "msg":
                    self.msgs[f[0], f[3].split(" ", 1)[0]].append((int(f[1]), f[3]))
                elif word == "delivered":
                    self.delivered[f[0]][int(f[1])] += 1
                elif word == "durable":
                    self.durable[f[0]] = max(self.durable.get(f[0], 0), int(f[1]))
                elif word == "queued":
                    self.queued[f[0]].append(int(f[1]))
            except (IndexError, ValueError):
                self.ev["malformed"].append([line])

    def wait(self, pred, timeout, what, progress=None):
        """Wait until pred(self) is true (parsed events), at most timeout seconds; fail with
        what (and progress(self), if given) otherwise."""
        deadline = time.monotonic() + timeout
        cond = self.proc._cond    # netlab's reader thread notifies it for every line
        with cond:
            while True:
                self._update()
                r = pred(self)
                if r:
                    return r
                more = f" ({progress(self)})" if progress else ""
                if self.proc._eof:
                    raise Fail(f"{what}{more}: {self.label} exited "
                               f"(status {self.proc.popen.poll()})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail(f"{what}{more}: not seen within {timeout:g} s")
                cond.wait(min(left, 1.0))

    def sync(self):
        with self.proc._cond:
            self._update()
        return self

    def events(self, word):
        return list(self.sync().ev[word])

    # --- the process: commands in, its end, its stderr ---

    def send(self, *lines):
        self.proc.popen.stdin.write("".join(line + "\n" for line in lines).encode())
        self.proc.popen.stdin.flush()

    def expect(self, word, pred, timeout, what):
        """The first event `word` whose fields satisfy pred, waiting up to timeout."""
        return self.wait(lambda s: next((f for f in s.ev[word] if pred(f)), None), timeout,
                         f"{self.label}: {what}")

    def alive(self):
        return self.proc.popen.poll() is None

    def shown(self, sender, word):
        """(msgid, text) of the messages from sender whose text starts with word + space."""
        return self.msgs[sender, word]

    def n_delivered(self, peer):
        return len(self.delivered[peer])

    def stderr(self):
        with open(self.proc.err_path, errors="replace") as f:
            return f.read()

    def quit(self, timeout=15):
        """/quit: exit status 0 within timeout and no sanitizer report, or Fail. Returns
        when /quit was sent."""
        self.send("/quit")
        self.proc.close_stdin()
        t = time.monotonic()
        try:
            rc = self.proc.wait(timeout)
        except Exception:
            raise Fail(f"{self.label}: did not exit within {timeout} s of /quit")
        if rc != 0:
            raise Fail(f"{self.label}: exit status {rc} after /quit\n{self.proc.tail()}")
        err = self.stderr()
        if "Sanitizer" in err or "runtime error" in err:
            raise Fail(f"{self.label}: sanitizer report\n{self.proc.tail()}")
        return t


class Client(Lines):
    """One tincan process."""

    def __init__(self, lab, host, name, binary, home, label=None):
        argv = [binary, "--headless", "--lan", "--home", home, "--nick", name]
        super().__init__(lab.spawn(host, argv, name=label or name), label or name)
        self.name = name
        self.id = None
        self.addr = None

    def send_lines(self, lines):
        self.send(*lines)


def start(lab, host, name, binary, home, label=None):
    c = Client(lab, host, name, binary, home, label)
    c.id = c.wait(lambda s: s.ev["ready"] and s.ev["ready"][0][0], 15, f"{c.label}: ready")
    pk_of(c.id)
    return c


def writer(client, lines):
    """Feed lines to a client's stdin from a thread (two clients are fed at once)."""
    box = {}

    def run():
        try:
            client.send_lines(lines)
        except OSError as e:
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def check_exactly_once(sender, receivers, word, n, what):
    """The n messages "<word> 1".."<word> n" that sender sent were shown once by the
    receivers (in order over all their runs), under consecutive msgids that sender was told
    when queueing them, and each was delivered exactly once. Returns the msgids."""
    peer = receivers[0].id
    shown = []
    for r in receivers:
        shown += r.sync().shown(sender.id, word)
    texts = [t for _, t in shown]
    want = [f"{word} {k}" for k in range(1, n + 1)]
    if texts != want:
        num = [int(t.split(" ")[1]) for t in texts]
        dup = sorted(k for k, c in collections.Counter(num).items() if c > 1)
        missing = sorted(set(range(1, n + 1)) - set(num))
        raise Fail(f"{what}: {len(texts)} shown for {n} sent; missing {missing[:10]} "
                   f"({len(missing)}), shown twice {dup[:10]} ({len(dup)}), "
                   f"in order: {num == sorted(num)}")
    ids = [m for m, _ in shown]
    if any(b != a + 1 for a, b in zip(ids, ids[1:])):
        raise Fail(f"{what}: msgids not consecutive: {ids[:5]}...")
    sender.sync()
    queued = set(sender.queued[peer])
    if not set(ids) <= queued:
        raise Fail(f"{what}: shown msgids {sorted(set(ids) - queued)[:5]} were never queued")
    for m in ids:
        if sender.delivered[peer][m] != 1:
            raise Fail(f"{what}: msgid {m} delivered {sender.delivered[peer][m]} times")
    return ids


def phase_discover(alice, bob):
    for me in (alice, bob):
        me.send_lines(["/peers"])
    for me, other in ((alice, bob), (bob, alice)):
        f = me.wait(lambda s: next((p for p in s.ev["peer"] if p[0] == other.id), None), 20,
                    f"{me.name}: peer line for {other.name}")
        if f[1] != other.name:
            raise Fail(f"{me.name}: peer {other.name} listed with name {f[1]!r}")
        other.addr = f[2]
    for me, other in ((alice, bob), (bob, alice)):
        me.send_lines([f"/add {other.id} hello from {me.name}"])
    for me, other in ((alice, bob), (bob, alice)):
        me.wait(lambda s: any(a[0] == other.id for a in s.ev["added"]), 10,
                f"{me.name}: added {other.name}")
    for me, other in ((alice, bob), (bob, alice)):
        # "online ... direct" then "path ... lan" when the session came before the beacon
        me.wait(lambda s: any(o[0] == other.id and o[1] == "lan"
                              for o in s.ev["online"] + s.ev["path"]), 20,
                f"{me.name}: online {other.name} lan")


# Runs in the bridge's namespace: prints each distinct UDP payload to or from the ports given,
# as "cap <src> <sport> <dst> <dport> <hex>", until it has `limit` of them.
SNIFFER = r"""
import socket, struct, sys
ports = {int(p) for p in sys.argv[1].split(",")}
limit = int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
seen = set()
print("ready", flush=True)
while len(seen) < limit:
    f, meta = s.recvfrom(65600)
    if meta[2] == socket.PACKET_OUTGOING or len(f) < 14:
        continue
    et, p = struct.unpack("!H", f[12:14])[0], f[14:]
    frag = len(p) >= 20 and struct.unpack("!H", p[6:8])[0] & 0x3fff
    if et == 0x0800 and len(p) >= 20 and p[9] == 17 and not frag:
        fam, src, dst, u = socket.AF_INET, p[12:16], p[16:20], p[(p[0] & 15) * 4:]
    elif et == 0x86DD and len(p) >= 40 and p[6] == 17:
        fam, src, dst, u = socket.AF_INET6, p[8:24], p[24:40], p[40:]
    else:
        continue
    if len(u) < 8:
        continue
    sp, dp, ul = struct.unpack("!HHH", u[:6])
    data = u[8:ul]
    if (sp in ports or dp in ports) and data not in seen:
        seen.add(data)
        print("cap", socket.inet_ntop(fam, src), sp, socket.inet_ntop(fam, dst), dp, data.hex(),
              flush=True)
print("done", flush=True)
"""

# Runs on mallory: sends the datagrams described on stdin (JSON [[addr, port, hex], ...]).
SENDER = r"""
import json, socket, sys, time
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
n = bad = 0
for i, (addr, port, data) in enumerate(json.load(sys.stdin)):
    if i % 100 == 99:
        time.sleep(0.002)  # a flood, not a socket buffer overflow that only tests the kernel
    try:
        (s6 if ":" in addr else s4).sendto(bytes.fromhex(data), (addr, port))
        n += 1
    except OSError:
        bad += 1
print("sent", n, "failed", bad)
"""


def mutations(pkt, rnd):
    """Truncated, bit-flipped and spliced copies of a real packet, and the packet itself."""
    out = [pkt]
    for _ in range(4):
        out.append(pkt[:rnd.randrange(0, max(1, len(pkt)))])
    for _ in range(6):
        b = bytearray(pkt)
        if b:
            i = rnd.randrange(len(b) * 8)
            b[i // 8] ^= 1 << (i % 8)
        out.append(bytes(b))
    out.append(pkt + os.urandom(rnd.randrange(1, 64)))
    out.append(pkt[:4] + os.urandom(max(0, len(pkt) - 4)))
    return out


def garbage(rnd, captured):
    """Datagrams that must change nothing: random bytes, random bodies behind our header and
    STUN's, and mutations of the captured real packets."""
    out = [b""]
    for _ in range(200):
        out.append(os.urandom(rnd.choice([1, 2, 3, 4, 5, 16, 31, 32, 33, 64, 92, 148, 200,
                                          rnd.randrange(1, 1400)])))
    for t in range(0, 8):
        for size in (4, 5, 31, 32, 33, 47, 48, 63, 64, 65, 91, 92, 93, 112, 117, 147, 148, 149,
                     300, 1400):
            out.append(bytes([0xF1, t, 0, 0]) + os.urandom(size - 4))
            out.append(bytes([0xF1, t, rnd.randrange(256), 0]) + os.urandom(size - 4))
    for size in (20, 28, 100):
        out.append(bytes([0x00, 0x01]) + struct.pack("!H", size - 20) + bytes.fromhex(
            "2112a442") + os.urandom(size - 8))
        out.append(bytes([0x01, 0x01]) + os.urandom(size - 2))
    out.append(os.urandom(9000))
    out.append(bytes([0xF1, 4, 0, 0]) + os.urandom(60000))
    for pkt in captured:
        out += mutations(pkt, rnd)
    return out


def phase_attack(lab, alice, bob, sniffer, rnd, signer, forged):
    """Forged beacons and garbage at both clients; nothing may change."""
    caps = sniffer.events("cap")
    if not any(int(c[1]) == DISC_PORT or int(c[3]) == DISC_PORT for c in caps):
        raise Fail(f"sniffer captured no beacon ({len(caps)} packets)")
    packets = [bytes.fromhex(c[4]) for c in caps]
    beacons = {}
    for p in packets:
        b = parse_beacon(p)
        if b:
            beacons.setdefault(b[0], []).append(p)
    sessions = [p for p in packets if len(p) >= 4 and p[0] == 0xF1 and p[1] in (1, 2, 3, 4)]
    kinds = collections.Counter(p[1] for p in sessions)

    now = int(time.time() * 1000)
    forged_ids = forged["ids"]    # identity -> why it must never be listed
    sends = []
    for victim, target in ((alice, bob), (bob, alice)):
        pk = pk_of(victim.id)
        if pk not in beacons:
            raise Fail(f"sniffer captured no beacon of {victim.name}")
        real = beacons[pk][-1]
        _, ts, port, flags, nick = parse_beacon(real)
        nlen = real[47]
        bodies = [
            beacon(pk, now + 2000, port, 1, "mallory"),            # fresh, random signature
            beacon(pk, ts + 1, port, 0, nick, sig=real[-64:]),     # newer, old signature
            real[:-64 - nlen] + b"mallory"[:nlen].ljust(nlen, b"x") + real[-64:],  # renamed
        ]
        flipped = bytearray(real)
        flipped[-1] ^= 0x80
        bodies.append(bytes(flipped))
        stranger = os.urandom(32)
        forged_ids[id_of(stranger)] = "random key, random signature"
        bodies.append(beacon(stranger, now, 7788, 1, "stranger"))
        if signer:
            stale_key, stale_sign = signer()
            forged_ids[id_of(stale_key)] = "signed beacon 10 minutes old"
            bodies.append(beacon(stale_key, now - 600000, 7788, 1, "stale", signer=stale_sign))
        bodies += beacons[pk]                                   # replays from mallory
        host = lab.nodes[target.name]
        for b in bodies:
            for addr in (host.addr4, host.addr6, GROUP4):
                sends.append([addr, DISC_PORT, b.hex()])
    sample = []
    for kind in sorted({p[:2] for p in packets}):
        same = [p for p in packets if p[:2] == kind]
        sample += rnd.sample(same, min(8, len(same)))
    junk = garbage(rnd, sample)
    for target in (alice, bob):
        host = lab.nodes[target.name]
        sport = int(target.addr.rsplit(":", 1)[1])
        for addr in (host.addr4, host.addr6):
            for port in (sport, DISC_PORT):
                sends += [[addr, port, j.hex()] for j in junk]
    control = None
    if signer:
        ckey, csign = signer()
        control = id_of(ckey)
        forged["known"].add(control)
    marks = {c.name: {w: len(c.events(w)) for w in ("offline", "error", "warning")}
             for c in (alice, bob)}
    r = lab.run("mallory", [sys.executable, "-c", SENDER], input=json.dumps(sends), timeout=120)
    if control:
        # Sent after the flood (whose tail a full socket buffer may drop): a well-signed,
        # fresh beacon of a new key must be listed. That shows the forgeries were well-formed
        # enough to be taken but for their signature, and that the flood before it was read.
        for target in (alice, bob):
            for attempt in range(5):
                b = beacon(ckey, int(time.time() * 1000), 7788, 0, "carol", signer=csign)
                lab.run("mallory", [sys.executable, "-c", SENDER], input=json.dumps(
                    [[lab.nodes[target.name].addr4, DISC_PORT, b.hex()]]))
                try:
                    target.wait(lambda s: any(p[0] == control for p in s.ev["peer"]), 3,
                                f"{target.name}: peer line for a correctly signed beacon")
                    break
                except Fail:
                    if attempt == 4:
                        raise
    for c in (alice, bob):
        c.send_lines(["/peers", "/id"])
        c.wait(lambda s: s.ev["id"], 10, f"{c.name}: /id after the attack")
    check_quiet(lab, (alice, bob), forged, marks, ("offline", "error", "warning"))
    return (f"{len(sends)} datagrams ({r.stdout.strip()}); captured beacons of "
            f"{len(beacons)} keys, session packets by type {dict(sorted(kinds.items()))}; "
            + ("a signed control beacon was accepted" if control else
               "no Ed25519 in Python: no signed control beacon"))


def check_quiet(lab, clients, forged, marks, words, live=True):
    """All alive (if live); no event in words since marks; no peer line of a forged key, and
    for the real clients' keys only their real names and addresses."""
    evil = lab.nodes["mallory"].evil_addrs
    real = {c.id: c.name for c in forged["clients"]}
    for c in clients:
        if live and not c.alive():
            raise Fail(f"{c.label} died (status {c.proc.popen.poll()})")
        m = marks.get(c.name, {})
        for word in words:
            new = c.events(word)[m.get(word, 0):]
            if new:
                raise Fail(f"{c.label} printed `{word} {' '.join(new[0])}` during the attack")
        for p in c.events("peer"):
            if p[0] in forged["ids"] or p[0] not in forged["known"]:
                why = forged["ids"].get(p[0], "a key nobody uses, made by mangling a beacon")
                raise Fail(f"{c.label} listed a forged peer ({why}): peer {' '.join(p)}")
            host = p[2].rsplit(":", 1)[0].strip("[]").split("%")[0]
            if p[0] in real and (p[1] != real[p[0]] or host in evil):
                raise Fail(f"{c.label} took a forged or replayed beacon: peer {' '.join(p)}")
        check_sanitizers(c)


def check_sanitizers(c):
    with open(c.proc.err_path, errors="replace") as f:
        err = f.read()
    for mark in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        if mark in err:
            raise Fail(f"{c.label}: {mark} in stderr ({c.proc.err_path})")


def ed25519_signer():
    """A factory of (public key, sign function), or None without the cryptography package."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        return None

    def make():
        k = Ed25519PrivateKey.generate()
        pk = k.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
        return pk, k.sign
    return make


def phase_exchange(alice, bob, n):
    """Both send n messages at once, as fast as their stdin takes them."""
    feeds = [writer(alice, [f"/msg {bob.id} a2b {k}" for k in range(1, n + 1)]),
             writer(bob, [f"/msg {alice.id} b2a {k}" for k in range(1, n + 1)])]
    budget = 30 + n * 0.06
    for me, other, word in ((alice, bob, "a2b"), (bob, alice, "b2a")):
        other.wait(lambda s: len(s.shown(me.id, word)) >= n, budget,
                   f"{other.name}: {n} messages from {me.name}",
                   lambda s: f"has {len(s.shown(me.id, word))}")
        me.wait(lambda s: s.n_delivered(other.id) >= n, budget,
                f"{me.name}: {n} delivered", lambda s: f"has {s.n_delivered(other.id)}")
    for t, box in feeds:
        t.join(10)
        if "error" in box:
            raise Fail(f"writing commands: {box['error']}")
    for me, other, word in ((alice, bob, "a2b"), (bob, alice, "b2a")):
        ids = check_exactly_once(me, [other], word, n, f"{me.name} -> {other.name}")
        queued = me.sync().queued[other.id]
        if queued[:n] != list(range(1, n + 1)) or ids != queued[:n]:
            raise Fail(f"{me.name}: queued msgids {queued[:3]}..., shown {ids[:3]}..., "
                       f"want 1..{n} for both")


def crash_progress(alice, bobs, word, n, total):
    got = {int(t.split(" ")[1]) for b in bobs if b for _, t in b.sync().shown(alice.id, word)}
    missing = sorted(set(range(1, n + 1)) - got)
    d = alice.sync().n_delivered(bobs[0].id)
    why = (": all acknowledged, so the receiver stored messages that it never showed"
           if d >= total else "")
    return (f"alice has {d} delivered in all{why}; not shown: "
            f"{missing[:8]}{'...' if len(missing) > 8 else ''} ({len(missing)})")


def phase_crash(lab, alice, bob, args, home):
    """alice streams n messages, keeping at most `window` ahead of what bob has shown; bob is
    SIGKILLed once he has shown 40% and restarted with the same home."""
    n, window = args.crash, max(50, args.crash // 4)
    kill_at, word = n * 2 // 5, "crash"
    bob2, before = None, 0          # the restarted bob; what the first one had shown
    sent = 0
    deadline = time.monotonic() + 30 + n * 0.2
    while True:
        cur = bob2 or bob
        shown = before + len(cur.sync().shown(alice.id, word))
        if bob2 is None and shown >= kill_at:
            bob.proc.kill(signal.SIGKILL)
            bob.proc.wait(10)       # and every line it wrote before dying is read
            before = len(bob.sync().shown(alice.id, word))
            t = time.monotonic()
            bob2 = start(lab, "bob", "bob", args.tincan, home, label="bob-restarted")
            bob2.wait(lambda s: any(o[0] == alice.id for o in s.ev["online"]), 30,
                      "bob-restarted: online alice")
            reconnect = time.monotonic() - t
            continue
        if shown >= n and bob2:
            break
        if sent < n and sent < shown + window:
            k = min(n, shown + window)
            alice.send_lines([f"/msg {bob.id} {word} {j}" for j in range(sent + 1, k + 1)])
            sent = k
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"crash phase: bob shows {shown} of {n} after {sent} sent")
        if before >= n:
            raise Fail("crash phase: bob had every message before the kill; nothing tested")
        try:
            cur.wait(lambda s: before + len(s.shown(alice.id, word)) > shown, min(left, 10),
                     f"{cur.label}: more of the crash stream after {shown} of {n} ({sent} sent)",
                     lambda s: crash_progress(alice, [bob, bob2], word, n, args.count + n))
        except Fail:
            if time.monotonic() >= deadline or \
                    alice.sync().n_delivered(bob.id) >= args.count + n:
                raise
    alice.wait(lambda s: s.n_delivered(bob.id) >= args.count + n, 30,
               f"alice: {args.count + n} delivered in all",
               lambda s: f"has {s.n_delivered(bob.id)}")
    alice.wait(lambda s: s.durable.get(bob.id, 0) >= args.count + n, 30,
               f"alice: durable {args.count + n}", lambda s: f"has {s.durable.get(bob.id)}")
    check_exactly_once(alice, [bob, bob2], word, n, "crash stream across the restart")
    old = bob2.sync().shown(alice.id, "a2b")
    if old:
        raise Fail(f"bob-restarted showed {len(old)} messages of the first exchange again")
    return bob2, before, reconnect


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tincan")
    ap.add_argument("--count", type=int, default=1000, help="messages each way (1000)")
    ap.add_argument("--crash", type=int, default=500, help="messages in the crash stream (500)")
    ap.add_argument("--loss", type=float, default=20, help="percent loss per port (20)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    args.tincan = os.path.abspath(args.tincan)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    t0 = time.monotonic()
    clients = []
    summary = []
    with netlab.Lab("e2e", timeout=540) as lab:
        try:
            sw = lab.switch("lan")
            for i, name in enumerate(("alice", "bob", "mallory"), 1):
                lab.link(lab.host(name), sw, addr4=f"{NET4}{i}/24", addr6=f"{NET6}{i}/64")
            sniffer = Lines(lab.spawn(sw, [sys.executable, "-c", SNIFFER, f"7788,{DISC_PORT}",
                                           "400"], name="sniffer"), "sniffer")
            sniffer.wait(lambda s: s.ev["ready"], 10, "sniffer ready")
            homes = {n: os.path.join(lab.logdir, n + "-home") for n in ("alice", "bob")}
            alice = start(lab, "alice", "alice", args.tincan, homes["alice"])
            clients.append(alice)
            bob = start(lab, "bob", "bob", args.tincan, homes["bob"])
            clients.append(bob)
            t = time.monotonic()
            phase_discover(alice, bob)
            summary.append(f"discovery, /add, online lan: {time.monotonic() - t:.1f} s")

            t = time.monotonic()
            forged = {"ids": {}, "clients": [alice, bob], "known": {alice.id, bob.id}}
            mal = lab.nodes["mallory"]
            ll = lab.run(mal, ["ip", "-6", "-o", "addr", "show", "dev", "eth0"]).stdout
            mal.evil_addrs = {mal.addr4, mal.addr6} | {
                w.split("/")[0] for w in ll.split() if w.startswith("fe80:")}
            what = phase_attack(lab, alice, bob, sniffer, rnd, ed25519_signer(), forged)
            sniffer.proc.kill()
            summary.append(f"forged beacons and garbage ignored ({time.monotonic() - t:.1f} s):"
                           f" {what}")

            lab.loss(sw, "alice", args.loss)
            lab.loss(sw, "bob", args.loss)
            # The loss is real: a ping crosses both ports, so (1 - loss)^2 of them come back.
            got = lab.ping("alice", lab.nodes["bob"].addr4, count=200, interval=0.002)
            want = 200 * (1 - args.loss / 100) ** 2
            if abs(got - want) > 40:
                raise Fail(f"{got} of 200 pings answered through the lossy bridge, "
                           f"want ~{want:.0f}")
            t = time.monotonic()
            phase_exchange(alice, bob, args.count)
            summary.append(f"{args.count} messages each way at {args.loss:g}% loss per port "
                           f"({got}/200 pings through), "
                           f"exactly once, in order: {time.monotonic() - t:.1f} s")

            t = time.monotonic()
            bob2, killed, reconnect = phase_crash(lab, alice, bob, args, homes["bob"])
            clients.append(bob2)
            summary.append(f"SIGKILL of bob after {killed} of {args.crash} shown, restart "
                           f"(online again after {reconnect:.1f} s): all shown once, in order: "
                           f"{time.monotonic() - t:.1f} s")

            check_exactly_once(alice, [bob], "a2b", args.count, "alice -> bob, at the end")
            check_exactly_once(bob, [alice], "b2a", args.count, "bob -> alice, at the end")
            check_quiet(lab, [alice, bob2], forged, {}, ("error", "warning", "malformed"))
            check_quiet(lab, [bob], forged, {}, ("error", "warning", "malformed"), live=False)
            for c in (alice, bob2):
                c.proc.close_stdin()
            for c in (alice, bob2):
                rc = c.proc.wait(15)
                if rc != 0:
                    raise Fail(f"{c.label}: exit status {rc} after end of input")
                check_sanitizers(c)
        except (Fail, netlab.ExpectTimeout, netlab.LabError, netlab.LabTimeout,
                OSError) as e:
            lab.failed = True
            sys.stderr.write(f"e2e-lan: FAIL: {e}\n")
            for c in clients:
                sys.stderr.write(c.proc.tail(15) + "\n")
            sys.stderr.write(f"e2e-lan: seed {seed}\n")
            return 1
    print("\n".join(f"e2e-lan: {s}" for s in summary))
    print(f"e2e-lan: ok in {time.monotonic() - t0:.1f} s (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
