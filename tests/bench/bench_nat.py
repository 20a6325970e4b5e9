#!/usr/bin/env python3
"""bench_nat.py: the path benchmark: first message after a restart on each of e2e_nat's eight
paths, the relay's round trip and throughput next to the direct path's, a client's idle cost.

    ninja -C build bench-nat                 (the meson run_target; needs root, ~2.5 min)
    python3 tests/bench/bench_nat.py build/tincan build/tincand [--runs 3] [--rtt 500]
            [--burst 20000] [--size 100] [--idle 60] [--only eim-eim,ipv6,...] [--sections 1234] [--spray 5]

A benchmark, not a test: it prints tables with goals and PASS/MISS and exits 0 unless something
broke (then 1). The lab is pathlab's (tests/pathlab.py): tincand on a public switch, homes behind
natlab's nftables NAT routers, one with the real miniupnpd, public IPv4/IPv6 hosts.

1. Per scenario, a setup phase registers both clients and befriends them, then both quit. Each
   of --runs restarts spawns both processes back to back (the clock starts before the first);
   A sends one message as soon as it prints `ready`. Times are taken when this script sees each
   stdout line (a reader thread stamps it): spawn -> A's `delivered`, the later `login` of the
   two -> `delivered`, the later `online` of the two -> `delivered`. The goal (1 s on lan or
   direct, 3 s on relay) applies to login -> delivered, "both online" meaning both logged in.
2. An eim-eim pair: /msg -> `delivered` one at a time (p50/p99) and a burst of --burst
   messages of --size bytes (first write -> last `delivered`), on the direct path, then again
   once the two routers cannot reach each other (pathlab.block_pair) and the pair is on the
   relay. tincand runs with relay limits (printed) far above what one pair can use.
3. The same pair, direct and idle for --idle seconds (between the direct and the relay runs):
   packets the client sends, counted by an nftables table in its namespace (to the peer, to
   tincand, to LAN multicast/broadcast), their times seen by a packet socket in the same
   namespace (the intervals name the timer), and the client's wake-ups: voluntary plus
   involuntary context switches summed over /proc/PID/task/*/status.
4. What the birthday method (src/spray.c) gains: --spray fresh pairs behind an eim and an edm
   router (ordinary punching cannot open that path; they come up on the relay); for each, the
   seconds from both online to `path direct` or none within SPRAY_WAIT_S (two sprays, in the
   3rd and 5th probe rounds, about 3 and 15 s into the relay).
"""

import argparse
import collections
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import e2e_nat  # noqa: E402
import netlab  # noqa: E402
import pathlab  # noqa: E402
from pathlab import SRV4, SRV6, Fail  # noqa: E402

GOAL_S = {"lan": 1.0, "direct": 1.0, "relay": 3.0}   # both logged in -> first delivered
SLOW_LOGIN_S = 1.0          # a later login than this: the client's rendezvous log is shown
RTT_WARM = 20               # round trips not counted before each measurement
WARM_S = 10                 # section 3's window starts this long after the clients
DISC_PORT = 7789            # LAN beacons (lan.c)
KEEPALIVE_S = 25.0          # goal: at most one packet per this on the path, idle
WAKE_PER_S = 1.0            # goal: at most this many wake-ups a second, idle
DELIVER_S = 40              # bound on one first message (the mailbox path may take a while)
SPRAY_WAIT_S = 25           # section 4: a direct path within this, or none
RELAY_CONF = [              # the relay limits of this bench's tincand (man tincand.8, RELAY)
    "relay-rate = 1073741824", "relay-burst = 1073741824",
    "relay-packet-rate = 1000000", "relay-packet-burst = 1000000",
    "relay-daily-bytes = 1125899906842624"]
TIMERS = [                  # (destination, period s, tolerance s, what it is) for section 3
    ("peer", 25.0, 1.5, "session keepalive PING/PONG (engine_int.h KEEPALIVE_MS 25 s)"),
    ("rdv", 25.0, 1.5, "rendezvous keepalive (rdv_int.h RDV_KEEPALIVE_MS 25 s)"),
    ("lan", 10.0, 2.5, "LAN beacons (lan.c LAN_PERIOD_MS 10 s +-20%)"),
    ("other", 0, 1e9, "the kernel's own (IPv6 router solicitations, MLD, IGMP), not tincan's")]



class Topo:
    """A scenario's two hosts, client names, home servers, expected paths; ids once set up."""

    def __init__(self, ha, hb, na, nb, sa, sb, want):
        self.ha, self.hb, self.na, self.nb, self.sa, self.sb = ha, hb, na, nb, sa, sb
        self.want = want
        self.aid = self.bid = None


# --- the eight path scenarios of e2e_nat.py: topology only (its assertions stay there) ---

def _homes(w, ka, kb, na, nb, upnp=False):
    ha, hb = w.home(ka, upnp=upnp), w.home(kb)
    return w.lan_host(ha, na), w.lan_host(hb, nb), (ha.router, hb.router)


def topo(w, name):
    """(Topo, the routers involved) of scenario name, built in world w."""
    kinds = {"upnp-edm": ("edm", "edm", "ua", "ub", ("direct",), True),
             "eim-eim": ("eim", "eim", "ea", "eb", ("direct",), False),
             "eim-edm": ("eim", "edm", "xa", "xb", ("direct", "relay"), False),
             "edm-edm": ("edm", "edm", "da", "db", ("relay",), False),
             "noudp-eim": ("block_udp", "eim", "ta", "tb", ("relay",), False)}
    if name in kinds:
        ka, kb, na, nb, want, upnp = kinds[name]
        a, b, routers = _homes(w, ka, kb, na, nb, upnp)
        return Topo(a, b, na, nb, SRV4, SRV4, want), routers
    if name == "same-home":
        h = w.home("eim")
        return Topo(w.lan_host(h, "la"), w.lan_host(h, "lb"), "la", "lb", SRV4, SRV4,
                    ("lan",)), (h.router,)
    if name == "ipv6":
        return Topo(w.public_host("va"), w.public_host("vb", v4=False), "va", "vb", SRV4,
                    SRV6, ("direct",)), ()
    if name == "two-servers":
        second = f"{SRV4}:{pathlab.PORT + 10}" if w.second else w.second_server()
        a, b, routers = _homes(w, "edm", "edm", "ka", "kb")
        return Topo(a, b, "ka", "kb", SRV4, second, ("relay",)), routers
    raise ValueError(name)


NAMES = [n for n, _ in e2e_nat.SCENARIOS][:8]
assert NAMES == ["upnp-edm", "eim-eim", "eim-edm", "edm-edm", "two-servers", "same-home",
                 "noudp-eim", "ipv6"], NAMES


def setup_pair(w, t):
    """Register both, befriend, quit both. Returns the online paths (A's view, B's view)."""
    cl = e2e_nat.Clients()
    ok = False
    try:
        a = cl.add(w.client(t.ha, t.na))
        b = cl.add(w.client(t.hb, t.nb))
        w.register(a, t.sa)
        w.register(b, t.sb)
        paths = w.befriend(a, b, e2e_nat.ONLINE_S)
        t.aid, t.bid = a.id, b.id
        ok = True
    finally:
        why = e2e_nat.finish(cl, ok)
    if why:
        raise Fail(why)
    return paths


def restart(w, t, run):
    """Both spawned back to back; A sends one message at `ready`. Returns a dict of times
    (seconds from the first spawn) and paths."""
    cl = e2e_nat.Clients()
    ok = False
    try:
        t0 = time.monotonic()
        a = cl.add(w.client(t.ha, t.na, run, ready=False, stamps=True))
        b = cl.add(w.client(t.hb, t.nb, run, ready=False, stamps=True))
        skew = b.t_spawn - a.t_spawn
        a.wait_ready()
        a.send(f"/msg {t.bid} first {run}")
        b.wait_ready()
        q, _ = a.when_wait("queued", lambda f: f[0] == t.bid, 10, "queued")
        _, t_dlv = a.when_wait("delivered", lambda f: f[0] == t.bid and f[1] == q[1], DELIVER_S,
                               "the first message delivered")
        r = {"skew": skew, "delivered": t_dlv - t0, "ready_a": a.when("ready")[1] - t0}
        for c, other, k in ((a, b, "a"), (b, a, "b")):
            r["login_" + k] = c.when_wait("login", lambda f: True, 30, "login")[1] - t0
            f, tt = c.when_wait("online", lambda f: f[0] == other.id, e2e_nat.ONLINE_S,
                                f"online {other.name}")
            r["online_" + k], r["path_" + k] = tt - t0, f[1]
        r["path_dlv"] = a.path_at(b, t_dlv)
        r["mailbox"] = a.when("mailbox", lambda f: f[0] == t.bid) is not None
        r["moves"] = [p for word, p in a.path_events(b) if word == "path"]
        r["slow"] = [f"{c.name}: {line[8:]}" for c, k in ((a, "a"), (b, "b"))
                     if r["login_" + k] > SLOW_LOGIN_S for line in c.stderr().splitlines()
                     if "rendezvous" in line and "session up" not in line
                     and "public address" not in line]
        ok = True
        return r
    finally:
        why = e2e_nat.finish(cl, ok)
        if why and ok:
            raise Fail(why)


def section1(w, args):
    rows = []
    for name in args.only:
        t, _ = topo(w, name)
        row = {"name": name, "want": t.want, "runs": [], "error": None}
        rows.append(row)
        try:
            row["setup"] = setup_pair(w, t)
        except (Fail, netlab.ExpectTimeout, netlab.LabError) as e:
            row["error"] = f"setup: {e}"
            continue
        for run in range(1, args.runs + 1):
            try:
                row["runs"].append(restart(w, t, run))
            except (Fail, netlab.ExpectTimeout, netlab.LabError) as e:
                row["error"] = f"run {run}: {e}"
        print(f"bench-nat: {name} done", file=sys.stderr, flush=True)
    return rows


# --- section 2: round trip and burst, direct then relay ---

def pct(xs, p):
    """The p-th percentile (nearest rank) of xs."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def rtt(a, b, n, word):
    """n messages one at a time (after RTT_WARM not counted): seconds from writing /msg to
    seeing its `delivered`."""
    text = word + " " + "r" * 40
    out = []
    for run in range(n + RTT_WARM):
        k = len(a.sync().queued[b.id])
        t = time.monotonic()
        a.send(f"/msg {b.id} {text}")
        a.wait(lambda s: len(s.queued[b.id]) > k, 10, "queued")
        mid = a.queued[b.id][k]
        a.wait(lambda s: s.delivered[b.id][mid], 10, f"delivered {mid}")
        if run >= RTT_WARM:
            out.append(time.monotonic() - t)
    return out


def burst(w, a, b, n, size, word):
    """n messages of size bytes written at once; seconds from the first write to the last
    `delivered`, and what A sent meanwhile (nft counters). Checks B showed all, in order."""
    pad = "x" * max(0, size - len(word) - 8)
    lines = [f"/msg {b.id} {word} {k:06d} {pad}" for k in range(n)]
    k0 = len(a.sync().queued[b.id])
    before = counts(w, a.host)
    t = time.monotonic()
    a.send(*lines)
    a.wait(lambda s: len(s.queued[b.id]) >= k0 + n, 60, f"{n} queued")
    last = a.queued[b.id][k0 + n - 1]
    a.wait(lambda s: s.delivered[b.id][last], 120, f"{n} delivered",
           lambda s: f"{sum(1 for m in s.queued[b.id][k0:] if s.delivered[b.id][m])} so far")
    secs = time.monotonic() - t
    after = counts(w, a.host)
    shown = [txt for _, txt in b.sync().shown(a.id, word)]
    if [int(x.split(" ")[1]) for x in shown] != list(range(n)):
        raise Fail(f"{b.label}: the burst arrived as {len(shown)} messages, not {n} in order")
    sent = {k: (after[k][0] - before[k][0], after[k][1] - before[k][1]) for k in after}
    return secs, sent, last


def section2_direct(w, args, pair):
    a, b = pair["a"], pair["b"]
    r = {"path": a.path_of(b)}
    r["rtt"] = rtt(a, b, args.rtt, "d")
    r["secs"], r["sent"], r["last"] = burst(w, a, b, args.burst, args.size, "bd")
    return r


def to_relay(w, pair):
    """Block the two routers from each other; one message moves the pair to the relay.
    Returns seconds from the block to both `path ... relay` events."""
    a, b, ra, rb = pair["a"], pair["b"], pair["ra"], pair["rb"]
    n = {c.label: len(c.events("path")) for c in (a, b)}
    w.block_pair(ra, rb, True)
    t = time.monotonic()
    a.send(f"/msg {b.id} move")
    for me, other in ((a, b), (b, a)):
        me.wait(lambda s: any(f[0] == other.id and f[1] == "relay"
                              for f in s.ev["path"][n[me.label]:]), e2e_nat.MOVE_S,
                f"{me.label}: path {other.name} relay after the block")
    took = time.monotonic() - t
    a.wait(lambda s: len(s.delivered[b.id]) >= len(s.queued[b.id]), 30, "the move delivered")
    return took


def section2_relay(w, args, pair):
    a, b = pair["a"], pair["b"]
    r = {"move": to_relay(w, pair)}
    r["path"] = a.path_of(b)
    r["rtt"] = rtt(a, b, args.rtt, "y")
    r["secs"], r["sent"], r["last"] = burst(w, a, b, args.burst, args.size, "by")
    return r


# --- section 3: idle cost ---

def counters_on(w, host, peer):
    """An nftables table in host's namespace counting what it sends (loopback aside): to
    the peer's address, to tincand, LAN beacons, anything else (the kernel's IGMP, MLD...)."""
    w.lab.run(host, ["nft", "-f", "-"], input=(
        "table inet benchnat {\n counter peer {}\n counter rdv {}\n counter lan {}\n"
        " counter other {}\n chain out {\n"
        "  type filter hook output priority 0; policy accept;\n"
        '  oifname "lo" accept\n'
        f"  ip daddr {peer} counter name peer accept\n"
        f"  ip daddr {SRV4} counter name rdv accept\n"
        f"  ip6 daddr {SRV6} counter name rdv accept\n"
        f"  udp dport {DISC_PORT} counter name lan accept\n"
        "  counter name other\n }\n}\n"))


def counts(w, host):
    """{counter: (packets, bytes)} of host's benchnat table."""
    r = w.lab.run(host, ["nft", "-j", "list", "counters", "table", "inet", "benchnat"])
    out = {}
    for item in json.loads(r.stdout)["nftables"]:
        c = item.get("counter")
        if c:
            out[c["name"]] = (c["packets"], c["bytes"])
    return out


# Prints "<monotonic time> <destination> <UDP destination port or 0> <IP length>" for every
# packet the namespace sends (not on lo).
_SNIFF = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
print("up", flush=True)
while True:
    p, a = s.recvfrom(256)
    if a[2] != socket.PACKET_OUTGOING or a[0] == "lo" or len(p) < 34: continue
    if p[12:14] == b"\x08\x00":
        d, l4, off = socket.inet_ntop(socket.AF_INET, p[30:34]), p[23], 14 + 4 * (p[14] & 15)
        n = struct.unpack("!H", p[16:18])[0]
    elif p[12:14] == b"\x86\xdd" and len(p) >= 54:
        d, l4, off = socket.inet_ntop(socket.AF_INET6, p[38:54]), p[20], 54
        n = 40 + struct.unpack("!H", p[18:20])[0]
    else: continue
    port = struct.unpack("!H", p[off + 2:off + 4])[0] if l4 == 17 and len(p) >= off + 4 else 0
    print("%.6f %s %d %d" % (time.monotonic(), d, port, n), flush=True)
"""


def wakeups(pid):
    """{thread name: voluntary + involuntary context switches} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(line.split(":\t", 1) for line in f.read().splitlines()
                          if ":\t" in line)
        except FileNotFoundError:
            continue            # the thread ended
        n = int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])
        out[f"{st['Name'].strip()}/{tid}"] = n
    return out


def idle(w, args, pair):
    """Counters, packet times and wake-ups of both clients over args.idle quiet seconds."""
    a, b = pair["a"], pair["b"]
    for c in (a, b):            # the burst is over: all of it durable before the window
        c.wait(lambda s: s.durable.get(pair["peer"][c.label][1], 0) >=
               max(s.queued[pair["peer"][c.label][1]] or [0]), 30, "durable")
    # the window starts once both have run WARM_S: no start-up beacons or interface setup
    left = max(c.t_spawn for c in (a, b)) + WARM_S - time.monotonic()
    if left > 0:
        time.sleep(left)
    snif = {c.label: w.lab.spawn(c.host, [sys.executable, "-c", _SNIFF], name=f"sniff-{c.name}")
            for c in (a, b)}
    for p in snif.values():
        p.expect(r"^up$", 10)
    t0 = time.monotonic()
    c0 = {c.label: (counts(w, c.host), wakeups(c.proc.pid)) for c in (a, b)}
    time.sleep(args.idle)       # the window itself: nothing to wait for, by design
    t1 = time.monotonic()
    res = {}
    for c in (a, b):
        n1, k1 = counts(w, c.host), wakeups(c.proc.pid)
        n0, k0 = c0[c.label]
        times, dests = collections.defaultdict(list), collections.defaultdict(set)
        with snif[c.label]._cond:
            lines = list(snif[c.label].lines)
        names = {pair["peer"][c.label][0]: "peer", SRV4: "rdv", SRV6: "rdv"}
        for line in lines[1:]:
            ts, dst, port, size = line.split(" ")
            if t0 <= float(ts) <= t1:
                kind = names.get(dst, "lan" if int(port) == DISC_PORT else "other")
                times[kind].append((float(ts) - t0, int(size)))
                dests[kind].add(dst)
        res[c.label] = {"n": {k: n1[k][0] - n0[k][0] for k in n1}, "times": times, "dests": dests,
                        "wake": {t: k1[t] - k0.get(t, 0) for t in k1}}
    for p in snif.values():
        p.kill(signal.SIGKILL)
        p.wait(5)
    return t1 - t0, res


def make_pair(w, cl):
    """An eim-eim pair, online on the direct path, with packet counters in both namespaces
    (the clients added to cl)."""
    ha, hb = w.home("eim"), w.home("eim")
    a = cl.add(w.client(w.lan_host(ha, "pa"), "pa"))
    b = cl.add(w.client(w.lan_host(hb, "pb"), "pb"))
    w.register(a)
    w.register(b)
    pa, pb = w.befriend(a, b, e2e_nat.ONLINE_S)
    if (pa, pb) != ("direct", "direct"):
        raise Fail(f"the eim-eim pair is online on {pa}/{pb}, not direct")
    counters_on(w, a.host, hb.router.wan)
    counters_on(w, b.host, ha.router.wan)
    return {"a": a, "b": b, "ra": ha.router, "rb": hb.router,
            "peer": {a.label: (hb.router.wan, b.id), b.label: (ha.router.wan, a.id)}}


# --- output ---

def med_max(xs):
    return f"{statistics.median(xs):6.3f} {max(xs):6.3f}" if xs else "     -      -"


def print1(rows, runs):
    print(f"\n1. First message after both clients restart ({runs} runs; median max, seconds)")
    print("   start: both spawned; login: the later `login` of the two; online: the later "
          "`online` of the two.\n   Goal: login -> delivered within 1 s on lan/direct, 3 s on "
          "relay; PASS when every run is within it.")
    print(f"   {'scenario':10} {'path':13} {'start->dlv':13} {'start->login':13} "
          f"{'login->dlv':13} {'online->dlv':13} {'goal':10} result")
    why = []
    for row in rows:
        rs = row["runs"]
        dl = [r["delivered"] for r in rs]
        lg = [max(r["login_a"], r["login_b"]) for r in rs]
        ldl = [d - g for d, g in zip(dl, lg)]
        odl = [r["delivered"] - max(r["online_a"], r["online_b"]) for r in rs]
        carried = collections.Counter(r["path_dlv"] for r in rs).most_common()
        path = "/".join(p or "none" for p, _ in carried) or "-"
        goal = max((GOAL_S.get(p, 0) for p, _ in carried), default=0)
        ok = rs and not row["error"] and all(x <= GOAL_S.get(r["path_dlv"], 0)
                                            for x, r in zip(ldl, rs))
        res = "PASS" if ok else ("FAIL" if row["error"] or not rs else "MISS")
        gtxt = f"<= {goal:g} s" if goal else "-"
        print(f"   {row['name']:10} {path:13} {med_max(dl)} {med_max(lg)} {med_max(ldl)} "
              f"{med_max(odl)} {gtxt:10} {res}")
        bad = [p for p, _ in carried if p not in row["want"]]
        if bad:
            why.append(f"{row['name']}: carried on {'/'.join(map(str, bad))}, e2e_nat expects "
                       f"{' or '.join(row['want'])}")
        if res != "PASS":
            why.append(f"{row['name']}: {res}" + (f": {row['error'].splitlines()[0][:200]}"
                                                   if row["error"] else ""))
    skews = [r["skew"] for row in rows for r in row["runs"]]
    if skews:
        print(f"   (B was spawned {1000 * max(skews):.1f} ms after A at most; a negative "
              "login->dlv: delivered before the later login)")
    for line in why:
        print("   " + line)
    print("   Each run's steps, seconds from the start (A sends at its `ready`; online: the "
          "event about the other, with its path):")
    print(f"   {'scenario':10} run {'ready A':>7} {'login A':>7} {'login B':>7} "
          f"{'online A':>15} {'online B':>15} {'delivered':>16}")
    for row in rows:
        seen = set()
        for k, r in enumerate(row["runs"], 1):
            print(f"   {row['name']:10} {k:3} {r['ready_a']:7.3f} {r['login_a']:7.3f} "
                  f"{r['login_b']:7.3f} {r['online_a']:7.3f} {r['path_a']:7} "
                  f"{r['online_b']:7.3f} {r['path_b']:7} {r['delivered']:7.3f} "
                  f"{r['path_dlv'] or '-':8}"
                  f"{' through the mailbox' if r['mailbox'] else ''}"
                  f"{' moves ' + '->'.join(r['moves']) if r['moves'] else ''}")
            for line in r["slow"]:
                if line not in seen:      # the same lines as an earlier run: not again
                    print(f"   {'':14} login after {SLOW_LOGIN_S:g} s; the client's log: {line}")
                seen.add(line)


def print2(d, r, args):
    print(f"\n2. Relay next to direct: one eim-eim pair, A -> B, {args.rtt} round trips and a "
          f"burst of {args.burst} x {args.size} B")
    print("   No goal is set for these figures: the relay is measured against the direct "
          "path of the same pair.")
    print(f"   {'':40} {'direct':>12} {'relay':>12} {'relay added':>12}")
    for p in (50, 99):
        x, y = pct(d["rtt"], p) * 1e3, pct(r["rtt"], p) * 1e3 if r else None
        print(f"   {'/msg -> delivered p' + str(p) + ' (ms)':40} {x:12.3f} "
              + (f"{y:12.3f} {y - x:+12.3f}" if r else f"{'-':>12}"))
    for label, f in (("burst: first /msg -> last delivered (s)", lambda v: v["secs"]),
                     ("burst: messages/s", lambda v: args.burst / v["secs"]),
                     ("burst: payload bytes/s", lambda v: args.burst * args.size / v["secs"])):
        x = f(d)
        print(f"   {label:40} {x:12.3f} " + (f"{f(r):12.3f} {f(r) - x:+12.3f}" if r else ""))
    for v, name in ((d, "direct"), (r, "relay")):
        if v:
            s = v["sent"]
            print(f"   A sent during the {name} burst: to B {s['peer'][0]} packets "
                  f"{s['peer'][1]} B, to tincand {s['rdv'][0]} packets {s['rdv'][1]} B "
                  f"(path {v['path']})")
    if r:
        print(f"   moved to the relay {r['move']:.2f} s after the routers were blocked")
    print(f"   tincand's relay limits: {', '.join(RELAY_CONF)}")


def clusters(times, gap=1.0):
    """Packet (time, size) pairs grouped into runs whose members are less than gap apart."""
    out = []
    for t, n in times:
        if out and t - out[-1][-1][0] < gap:
            out[-1].append((t, n))
        else:
            out.append([(t, n)])
    return out


def timer_of(kind, times):
    """Where the packets were, and the timer whose period the gaps between groups match."""
    cl = clusters(times)
    at = " ".join(f"+{c[0][0]:.1f}" + (f"(x{len(c)}: {'+'.join(str(n) for _, n in c)} B)"
                                       if len(c) > 1 else f"({c[0][1]} B)") for c in cl[:6])
    at += " ..." if len(cl) > 6 else ""
    gaps = [y[0][0] - x[0][0] for x, y in zip(cl, cl[1:])]
    if kind == "other":
        return f"at {at} s: " + TIMERS[-1][3]
    if not gaps:
        return f"at {at or '-'} s"
    g = statistics.median(gaps)
    name = next((w for k, per, tol, w in TIMERS if k == kind and abs(g - per) <= tol),
                "no known timer")
    return f"at {at} s; every {g:.1f} s: {name}"


def exchange(me, mine, other, theirs, within=0.1):
    """Each group of more than one of my packets, merged with the other side's packets
    around it, in time order: "+40.200: pa 63 B, pb 87 B (+0.4 ms), ..." """
    out = []
    for c in clusters(mine):
        if len(c) < 2:
            continue
        t0, t1 = c[0][0] - within, c[-1][0] + within
        ev = sorted([(t, me, n) for t, n in c] +
                    [(t, other, n) for t, n in theirs if t0 <= t <= t1])
        out.append(f"+{ev[0][0]:.3f}: " + ", ".join(
            f"{who} {n} B" + (f" (+{1000 * (t - ev[0][0]):.1f} ms)" if t > ev[0][0] else "")
            for t, who, n in ev))
    return out


def print3(secs, res, pair):
    print(f"\n3. Idle cost of a client on a direct NAT path (eim-eim, no messages), "
          f"{secs:.1f} s window")
    lim = int(secs // KEEPALIVE_S) + 1
    print(f"   Goals: at most one packet per {KEEPALIVE_S:g} s to the peer (at most {lim} in the "
          f"window, none closer than {KEEPALIVE_S - 1.5:g} s); the same shown for tincand;"
          f" at most {WAKE_PER_S:g} wake-up/s")
    print(f"   {'client':6} {'what':26} {'count':>6} {'rate':>16} {'goal':>16} result")
    notes = []
    labels = list(res)
    for label, r in res.items():
        n, times = r["n"], r["times"]
        other_label = labels[1 - labels.index(label)]
        other = res[other_label]
        for kind, what in (("peer", "packets to the peer"), ("rdv", "packets to tincand"),
                           ("lan", "LAN beacons"), ("other", "other (kernel: IGMP, MLD)")):
            c = n.get(kind, 0)
            rate = f"1 per {secs / c:.1f} s" if c else "none"
            gaps = [y[0] - x[0] for x, y in zip(times[kind], times[kind][1:])]
            goal, res_ = "-", "-"
            if kind in ("peer", "rdv"):
                ok = c <= lim and all(g >= KEEPALIVE_S - 1.5 for g in gaps)
                goal, res_ = f"<= 1 per {KEEPALIVE_S:g} s", "PASS" if ok else "MISS"
            print(f"   {label:6} {what:26} {c:6} {rate:>16} {goal:>16} {res_}")
            if c or times[kind]:
                notes.append(f"{label} {what} to {', '.join(sorted(r['dests'][kind]))}: "
                             f"{timer_of(kind, times[kind])}")
            if res_ == "MISS" and kind == "peer":
                notes += [f"  why: several packets at once: {x}" for x in exchange(
                    label, times["peer"], other_label, other["times"]["peer"])]
        wk = sum(r["wake"].values())
        ok = wk / secs <= WAKE_PER_S
        print(f"   {label:6} {'wake-ups (ctx switches)':26} {wk:6} {wk / secs:14.2f}/s "
              f"{'<= ' + format(WAKE_PER_S, 'g') + '/s':>16} {'PASS' if ok else 'MISS'}")
        by = ", ".join(f"{t} {k}" for t, k in sorted(r["wake"].items(), key=lambda x: -x[1]))
        notes.append(f"{label} wake-ups by thread (name/tid): {by}")
    for line in notes:
        print("   " + line)
    print("   counts by nftables in each client's namespace; times and IP sizes by a packet "
          "socket there")


# --- section 4: the birthday method ---

def section4(w, args):
    """Fresh eim/edm pairs: seconds from online (relay) to path direct, or None."""
    out = []
    for i in range(args.spray):
        cl, ok = e2e_nat.Clients(), False
        try:
            ha, hb = w.home("eim"), w.home("edm")
            a = cl.add(w.client(w.lan_host(ha, f"sa{i}"), f"sa{i}"))
            b = cl.add(w.client(w.lan_host(hb, f"sb{i}"), f"sb{i}"))
            w.register(a)
            w.register(b)
            pa, pb = w.befriend(a, b, e2e_nat.ONLINE_S)
            t = time.monotonic()
            try:
                a.expect("path", lambda f: f[0] == b.id and f[1] == "direct", SPRAY_WAIT_S,
                         "direct")
                took = time.monotonic() - t
            except Fail:
                took = None
            out.append((pa, took))
            ok = True
        finally:
            e2e_nat.finish(cl, ok)
        print(f"bench-nat: spray pair {i + 1}: online {pa}, "
              f"{'direct after %.1f s' % took if took is not None else 'no direct path'}",
              file=sys.stderr, flush=True)
    return out


def print4(res):
    got = [t for _, t in res if t is not None]
    print(f"\n4. The birthday method (spray.c): {len(res)} fresh pairs, eim NAT and edm NAT")
    print("   Without it these pairs stay on the relay (ordinary punching cannot open them).")
    print(f"   came up on: {', '.join(sorted(set(p for p, _ in res)))}; "
          f"direct within {SPRAY_WAIT_S} s: {len(got)} of {len(res)}"
          + (f"; seconds from online: median {statistics.median(got):.1f}, "
             f"each {', '.join('%.1f' % t for t in got)}" if got else ""))
    print("   expected per spray about 1 - exp(-256 x 512 / 64512) = 87%; two sprays 98%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tincan")
    ap.add_argument("tincand")
    ap.add_argument("--runs", type=int, default=3, help="restarts per scenario (3)")
    ap.add_argument("--rtt", type=int, default=500, help="round trips per path (500)")
    ap.add_argument("--burst", type=int, default=20000, help="messages in a burst (20000)")
    ap.add_argument("--size", type=int, default=100, help="bytes per burst message (100)")
    ap.add_argument("--idle", type=float, default=60, help="idle window, seconds (60)")
    ap.add_argument("--only", default=",".join(NAMES), help="section 1's scenarios")
    ap.add_argument("--sections", default="1234", help="which sections to run (1234)")
    ap.add_argument("--spray", type=int, default=5, help="section 4's pairs (5)")
    args = ap.parse_args()
    args.only = [n for n in args.only.split(",") if n]
    bad = [n for n in args.only if n not in NAMES]
    if bad or args.size < 12 or args.runs < 1 or args.rtt < 1 or args.burst < 1:
        ap.error(f"scenarios are {', '.join(NAMES)}; --size at least 12; counts at least 1")
    tincan, tincand = os.path.abspath(args.tincan), os.path.abspath(args.tincand)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bench-nat-")
    errors = []
    with netlab.Lab("bnat", timeout=1200) as lab:
        w = pathlab.World(lab, tincan, tincand, tmp, conf=RELAY_CONF)
        rows = section1(w, args) if "1" in args.sections else []
        d = r = idl = None
        if "2" in args.sections or "3" in args.sections:
            cl, ok = e2e_nat.Clients(), False
            try:
                pair = make_pair(w, cl)
                print("bench-nat: the eim-eim pair is online", file=sys.stderr, flush=True)
                if "2" in args.sections:
                    d = section2_direct(w, args, pair)
                if "3" in args.sections:
                    idl = idle(w, args, pair)
                if "2" in args.sections:
                    r = section2_relay(w, args, pair)
                ok = True
            except (Fail, netlab.ExpectTimeout, netlab.LabError) as e:
                errors.append(f"sections 2/3: {e}")
            why = e2e_nat.finish(cl, ok)
            if why and ok:
                errors.append(f"sections 2/3: {why}")
        sp = None
        if "4" in args.sections:
            try:
                sp = section4(w, args)
            except (Fail, netlab.ExpectTimeout, netlab.LabError) as e:
                errors.append(f"section 4: {e}")
        err = w.tincand_stderr()
        if "Sanitizer" in err or "runtime error" in err:
            errors.append("tincand: a sanitizer report in its stderr")
        errors += [f"{row['name']}: {row['error']}" for row in rows if row["error"]]
        if errors:
            lab.failed = True
    if rows:
        print1(rows, args.runs)
    if d:
        print2(d, r, args)
    if idl:
        print3(*idl, pair)
    if sp:
        print4(sp)
    for e in errors:
        print("ERROR " + e.replace("\n", "\n  "))
    if errors:
        print(f"state kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nbench-nat: {time.monotonic() - t0:.0f} s; {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
