#!/usr/bin/env python3
"""e2e_nat.py: which path two real clients end up on through real NAT routers, and that
messages arrive exactly once over it: 7 router pairs, moving between paths, port mappings.

    python3 tests/e2e_nat.py build/tincan build/tincand [--count 500] [--only NAME,...]

One lab (pathlab.py): a public switch (45.45.0.0/24, 2001:db8:45::/64) with one tincand on
both families, homes behind natlab routers (nftables NAT "eim", "edm", "block_udp", one with
the real miniupnpd, one stalled), and public hosts. Every scenario has its own fresh clients
and homes: both register, A adds B, B accepts, both see `online` with the expected path; then
--count messages each way at once with 10% random loss on each router's WAN side (lifted for
the setup): each arrives exactly once and in order, each gets `delivered`, and the last path
event is still the expected one. More: the mapping on the miniupnpd router exists while A runs
and is gone after its /quit; relay -> direct when a block between two routers is lifted in
the middle of a stream, direct -> relay when it comes back; a client behind a stalled router
chats as soon as one behind a normal router does. Root only. Every wait is bounded; prints
one line per scenario and PASS/FAIL for each; exit status 1 on any failure.
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
import natlab  # noqa: E402
import netlab  # noqa: E402
import pathlab  # noqa: E402
from pathlab import Fail  # noqa: E402

ONLINE_S = 45       # online after /accept: hole punching, then relay after a few seconds
MOVE_S = 45         # path change after a block is lifted or set


def check_path(c, other, allowed, when):
    p = c.path_of(other)
    if p not in allowed:
        raise Fail(f"{c.label}: path to {other.name} {when} is {p!r}, want "
                   f"{' or '.join(allowed)} (events: {c.path_events(other)})")
    return p


def loss(w, routers, switch_hosts, pct):
    """pct loss on each router's WAN side, and on the switch ports of (switch, host) pairs
    (hosts with no router of their own)."""
    for r in routers:
        w.wan(r, loss=pct)
    for sw, h in switch_hosts:
        w.lab.loss(sw, h, pct, both=True)


def pair(w, args, a, b, allowed, routers=(), switch_hosts=(), a_srv=pathlab.SRV4,
         b_srv=pathlab.SRV4, between=None, lan=False):
    """The common part: register, befriend (online on an allowed path), the lossy stream,
    the final path. between(a, b) runs after online, before the stream. Returns the path."""
    w.register(a, a_srv)
    w.register(b, b_srv)
    pa, pb = w.befriend(a, b, ONLINE_S)
    for me, other, p in ((a, b, pa), (b, a, pb)):
        if p not in allowed:
            raise Fail(f"{me.label}: {other.name} online on {p!r}, want {' or '.join(allowed)}")
    if between:
        between(a, b)
    loss(w, routers, switch_hosts, args.loss)
    a.streamed = True
    try:
        feeders = pathlab.stream_start(a, b, "s", args.count)
        pathlab.stream_finish(a, b, "s", args.count, feeders, 30 + args.count * 0.12)
        # the loss was real: the routers dropped about args.loss % of what they forwarded
        # (checked once there are enough packets that none dropped is out of the question)
        counts = [w.wan_dropped(r) for r in routers]
        a.dropped = (sum(d for d, _ in counts), sum(t for _, t in counts))
        d, t = a.dropped
        if args.loss and not lan and t >= 150 and not (d >= 1 and 100 * d / t <=
                                                       args.loss * 2.5):
            raise Fail(f"the WAN loss rules dropped {d} of {t} packets, for {args.loss}%")
    finally:
        loss(w, routers, switch_hosts, 0)
    for me, other, p in ((a, b, pa), (b, a, pb)):
        check_path(me, other, (p,), "after the stream")
    return pa if pa == pb else f"{pa}/{pb}"


def sc_upnp_edm(w, args, cl):
    """A behind an endpoint-dependent router running miniupnpd, B behind another edm router:
    only A's port mapping makes a direct path. The mapping is gone after A's /quit."""
    ha, hb = w.home("edm", upnp=True), w.home("edm")
    a = cl.add(w.client(w.lan_host(ha, "ua"), "ua"))
    b = cl.add(w.client(w.lan_host(hb, "ub"), "ub"))
    a.expect("info", lambda f: " ".join(f).startswith("port mapping:"), 20,
             "an info line \"port mapping: ...\"")
    me = (a.host.addr4, pathlab.CLIENT_PORT)
    mine = [m for m in natlab.mapped_ports(w.lab, ha.router) if m[1:] == me]
    if not mine:
        raise Fail(f"no mapping to {me[0]}:{me[1]} on {ha.router.name}: "
                   f"{natlab.mapped_ports(w.lab, ha.router)}")
    path = pair(w, args, a, b, ("direct",), routers=(ha.router, hb.router))
    a.quit()
    deadline = time.monotonic() + 15
    while [m for m in natlab.mapped_ports(w.lab, ha.router) if m[1:] == me]:
        if time.monotonic() > deadline:
            raise Fail(f"A's mapping {mine} still on the router 15 s after /quit")
        time.sleep(0.1)
    return path, f"mapping {mine[0][0]}->{mine[0][1]}:{mine[0][2]} gone after /quit"


def sc_eim_eim(w, args, cl):
    ha, hb = w.home("eim"), w.home("eim")
    a = cl.add(w.client(w.lan_host(ha, "ea"), "ea"))
    b = cl.add(w.client(w.lan_host(hb, "eb"), "eb"))
    return pair(w, args, a, b, ("direct",), routers=(ha.router, hb.router)), ""


def sc_eim_edm(w, args, cl):
    ha, hb = w.home("eim"), w.home("edm")
    a = cl.add(w.client(w.lan_host(ha, "xa"), "xa"))
    b = cl.add(w.client(w.lan_host(hb, "xb"), "xb"))
    path = pair(w, args, a, b, ("direct", "relay"), routers=(ha.router, hb.router))
    # Ordinary punching cannot open this pair; both sides must try the birthday method (a
    # spray) a few seconds into the relay. Whether it opens a path is chance (about 87% a
    # try): printed, not asserted.
    t = time.monotonic()
    for c in (a, b):
        while not re.search(r"spray: 256 sockets to \S+, 512 probes", c.stderr()):
            if time.monotonic() - t > 20:
                raise Fail(f"{c.label}: no spray within 20 s on the relay")
            time.sleep(0.2)
    try:
        a.expect("path", lambda f: f[0] == b.id and f[1] == "direct", 20, "direct")
        spray = f"a spray opened a direct path {time.monotonic() - t:.1f} s later"
    except Fail:
        spray = "the sprays found no direct path this time"
    return path, f"(either is right here; this run: {path}); both sprayed; {spray}"


def sc_edm_edm(w, args, cl):
    ha, hb = w.home("edm"), w.home("edm")
    a = cl.add(w.client(w.lan_host(ha, "da"), "da"))
    b = cl.add(w.client(w.lan_host(hb, "db"), "db"))
    return pair(w, args, a, b, ("relay",), routers=(ha.router, hb.router)), ""


def sc_same_home(w, args, cl):
    """Both behind one router: the LAN path. The router's WAN loss does not touch it, so the
    loss is on both clients' ports of the home switch."""
    h = w.home("eim")
    a = cl.add(w.client(w.lan_host(h, "la"), "la"))
    b = cl.add(w.client(w.lan_host(h, "lb"), "lb"))
    sh = ((h.switch, a.host), (h.switch, b.host))
    return pair(w, args, a, b, ("lan",), routers=(h.router,), switch_hosts=sh,
                lan=True), ""


def sc_noudp_eim(w, args, cl):
    """A's router forwards no UDP: its rendezvous session runs over TCP, the path is relay."""
    ha, hb = w.home("block_udp"), w.home("eim")
    a = cl.add(w.client(w.lan_host(ha, "ta"), "ta"))
    b = cl.add(w.client(w.lan_host(hb, "tb"), "tb"))

    def over_tcp(a, b):
        a.expect("info", lambda f: "over TCP" in " ".join(f), 10, "an info line \"over TCP\"")
    return pair(w, args, a, b, ("relay",), routers=(ha.router, hb.router),
                between=over_tcp), "A's rendezvous session over TCP"


def sc_ipv6(w, args, cl):
    """A public host with IPv4 and IPv6 (home on the server's IPv4 address), B with IPv6 only
    (home b@[2001:db8:45::2]): direct, over IPv6. The loss is on both hosts' switch ports."""
    a = cl.add(w.client(w.public_host("va"), "va"))
    b = cl.add(w.client(w.public_host("vb", v4=False), "vb"))
    used = {}

    def v6_used(a, b):
        for me, other in ((a, b), (b, a)):
            addr = me.info_of(other)
            if not addr or not addr.startswith("[") or addr.startswith("[::ffff:"):
                raise Fail(f"{me.label}: session to {other.name} uses {addr!r}, not IPv6")
            used[me.name] = addr
    path = pair(w, args, a, b, ("direct",), switch_hosts=((w.pub, a.host), (w.pub, b.host)),
                a_srv=pathlab.SRV4, b_srv=pathlab.SRV6, between=v6_used)
    return path, f"A sends to {used.get('va')}, B to {used.get('vb')}"


def sc_two_servers(w, args, cl):
    """A's home is one tincand, B's another; both behind edm NATs: each relays through the
    other's home (its own home allows the contact there), over UDP."""
    second = w.second_server()
    ha, hb = w.home("edm"), w.home("edm")
    a = cl.add(w.client(w.lan_host(ha, "ka"), "ka"))
    b = cl.add(w.client(w.lan_host(hb, "kb"), "kb"))
    return pair(w, args, a, b, ("relay",), routers=(ha.router, hb.router),
                b_srv=second), f"A's home {pathlab.SRV4}, B's {second}"


def moving_stream(w, args, a, b, word, ra, rb, block, want):
    """A paced stream (about 20 s); once each side has shown 20% of it, the block between
    the two routers is set (block=True) or lifted; `path <id> want` must follow on both
    sides within MOVE_S, and the stream completes exactly once. Returns the seconds from
    the change to the later path event."""
    n = args.count
    feeders = pathlab.stream_start(a, b, word, n, rate=max(n / 20.0, 1.0))
    for me, other, wd in ((a, b, word + "a"), (b, a, word + "b")):
        other.wait(lambda s: len(s.shown(me.id, wd)) >= n // 5, 60,
                   f"{other.label}: {n // 5} messages from {me.name} before the change")
    before = {me.name: len(me.events("path")) for me in (a, b)}
    w.block_pair(ra, rb, block)
    t = time.monotonic()
    for me, other in ((a, b), (b, a)):      # a path event after the change, not before
        k = before[me.name]
        me.wait(lambda s: any(f[0] == other.id and f[1] == want for f in s.ev["path"][k:]),
                max(1, t + MOVE_S - time.monotonic()),
                f"{me.label}: path {other.name} {want} within {MOVE_S} s of the change")
    took = time.monotonic() - t
    a.streamed = True
    pathlab.stream_finish(a, b, word, n, feeders, 60 + n * 0.12)
    for me, other in ((a, b), (b, a)):
        check_path(me, other, (want,), "after the stream")
    return took


def sc_move_direct(w, args, cl):
    """Two eim homes whose routers cannot reach each other: relay; the block is lifted in
    the middle of a stream: direct. (No random loss here: the point is the move.)"""
    ha, hb = w.home("eim"), w.home("eim")
    a = cl.add(w.client(w.lan_host(ha, "ma"), "ma"))
    b = cl.add(w.client(w.lan_host(hb, "mb"), "mb"))
    w.block_pair(ha.router, hb.router, True)
    w.register(a)
    w.register(b)
    pa, pb = w.befriend(a, b, ONLINE_S)
    if (pa, pb) != ("relay", "relay"):
        raise Fail(f"online on {pa}/{pb} with the routers blocked from each other, want relay")
    took = moving_stream(w, args, a, b, "m", ha.router, hb.router, False, "direct")
    return "relay->direct", f"path direct {took:.1f} s after the block was lifted"


def sc_fall_back(w, args, cl):
    """Two eim homes, direct; the direct path is blackholed in the middle of a stream: relay."""
    ha, hb = w.home("eim"), w.home("eim")
    a = cl.add(w.client(w.lan_host(ha, "fa"), "fa"))
    b = cl.add(w.client(w.lan_host(hb, "fb"), "fb"))
    w.register(a)
    w.register(b)
    pa, pb = w.befriend(a, b, ONLINE_S)
    if (pa, pb) != ("direct", "direct"):
        raise Fail(f"online on {pa}/{pb} between two eim routers, want direct")
    took = moving_stream(w, args, a, b, "f", ha.router, hb.router, True, "relay")
    return "direct->relay", f"path relay {took:.1f} s after the direct path was blackholed"


def sc_new_address(w, args, cl):
    """A (behind an eim router with miniupnpd) and B (eim) talk directly; in the middle of a
    paced stream A's host changes its LAN address, as after a new DHCP lease: A notices (netlink),
    its router maps the port again to the new address, the conversation goes on, and every
    message arrives exactly once, in order."""
    ha, hb = w.home("eim", upnp=True), w.home("eim")
    ah = w.lan_host(ha, "na")
    a = cl.add(w.client(ah, "na"))
    b = cl.add(w.client(w.lan_host(hb, "nb"), "nb"))
    a.expect("info", lambda f: " ".join(f).startswith("port mapping:"), 20, "a port mapping")
    w.register(a)
    w.register(b)
    pa, pb = w.befriend(a, b, ONLINE_S)
    if (pa, pb) != ("direct", "direct"):
        raise Fail(f"online on {pa}/{pb}, want direct")
    n = args.count
    feeders = pathlab.stream_start(a, b, "n", n, rate=max(n / 15.0, 1.0))
    for me, other, wd in ((a, b, "na"), (b, a, "nb")):
        other.wait(lambda s: len(s.shown(me.id, wd)) >= n // 5, 60,
                   f"{other.label}: {n // 5} messages from {me.name} before the change")
    old = ah.addr4
    new = old.rsplit(".", 1)[0] + ".200"
    infos = len(a.infos())
    # (through /proc, not sysctl(8): procps is not on every fresh machine)
    w.lab.run(ah, "echo 1 > /proc/sys/net/ipv4/conf/eth0/promote_secondaries")
    w.lab.run(ah, ["ip", "addr", "add", new + "/24", "dev", "eth0"])
    w.lab.run(ah, ["ip", "addr", "del", old + "/24", "dev", "eth0"])
    t = time.monotonic()
    a.wait(lambda s: len(s.infos()) > infos and any(i.startswith("port mapping:")
                                                     for i in s.infos()[infos:]), 20,
           f"{a.label}: a new port mapping after the address change")
    took = time.monotonic() - t
    deadline = time.monotonic() + 10
    while not [m for m in natlab.mapped_ports(w.lab, ha.router) if m[1] == new]:
        if time.monotonic() > deadline:
            raise Fail(f"no mapping to {new} on the router: "
                       f"{natlab.mapped_ports(w.lab, ha.router)}")
        time.sleep(0.1)
    a.streamed = True
    pathlab.stream_finish(a, b, "n", n, feeders, 60 + n * 0.12)
    return a.path_of(b), (f"{old} -> {new}: mapped again to the new address {took:.1f} s "
                          f"after the change; the stream went on")


def first_chat(w, host, name, n_contact, cl):
    """A fresh client on host: register, befriend n_contact, one message. Returns the seconds
    from its start to login, to online, and from its /msg to delivered, and the path."""
    c = cl.add(w.client(host, name))
    w.register(c)
    t_login = time.monotonic() - c.t_spawn
    pa, _ = w.befriend(c, n_contact, ONLINE_S)
    t_online = time.monotonic() - c.t_spawn
    t = time.monotonic()
    c.send(f"/msg {n_contact.id} first 1")
    q = c.expect("queued", lambda f: f[0] == n_contact.id, 10, "queued")
    c.expect("delivered", lambda f: f[0] == n_contact.id and f[1] == q[1], 30,
             "the first message delivered")
    return t_login, t_online, time.monotonic() - t, pa


def sc_stalled(w, args, cl):
    """A client behind a router that answers nothing addressed to itself (no UPnP, no
    NAT-PMP, no ICMP) logs in and chats as soon as one behind a normal eim router."""
    hn, hr, hs = w.home("eim"), w.home("eim"), w.home("eim", stalled=True)
    n = cl.add(w.client(w.lan_host(hn, "sn"), "sn"))
    w.register(n)
    ref = first_chat(w, w.lan_host(hr, "sr"), "sr", n, cl)
    st = first_chat(w, w.lan_host(hs, "ss"), "ss", n, cl)
    detail = (f"stalled: login {st[0]:.2f} s, online {st[1]:.2f} s, first message "
              f"delivered {st[2]:.3f} s ({st[3]}); normal: login {ref[0]:.2f} s, online "
              f"{ref[1]:.2f} s, delivered {ref[2]:.3f} s ({ref[3]})")
    if st[2] > 5:
        raise Fail(f"the first message took {st[2]:.1f} s to be delivered; {detail}")
    if st[1] > ref[1] + 3:
        raise Fail(f"behind the stalled router online {st[1] - ref[1]:.1f} s later; {detail}")
    # The mapping attempts did run, and ended only after the chat had gone on without them.
    ss = cl[-1]
    end = time.monotonic() + 15
    while "no port mapping on the router" not in ss.stderr():
        if time.monotonic() > end:
            raise Fail("ss: no 'no port mapping on the router' log line within 15 s: "
                       "were UPnP and NAT-PMP tried at all?")
        time.sleep(0.1)
    took = time.monotonic() - ss.t_spawn
    if took < st[1]:
        raise Fail(f"ss: the mapping attempts gave up {took:.1f} s after the start, before "
                   f"online ({st[1]:.1f} s): the router did not stall them")
    detail += f"; its mapping attempts gave up {took:.1f} s after its start"
    return st[3], detail


SCENARIOS = [
    ("upnp-edm", sc_upnp_edm),
    ("eim-eim", sc_eim_eim),
    ("eim-edm", sc_eim_edm),
    ("edm-edm", sc_edm_edm),
    ("two-servers", sc_two_servers),
    ("same-home", sc_same_home),
    ("noudp-eim", sc_noudp_eim),
    ("ipv6", sc_ipv6),
    ("move-direct", sc_move_direct),
    ("fall-back", sc_fall_back),
    ("new-address", sc_new_address),
    ("stalled", sc_stalled),
]


class Clients(list):
    def add(self, c):
        self.append(c)
        return c


def finish(clients, ok):
    """Quit the scenario's clients (status 0 required after a pass) or kill them; a
    sanitizer report fails the scenario."""
    why = None
    for c in clients:
        if c.alive():
            if ok:
                try:
                    c.quit()
                except Fail as e:
                    why = why or str(e)
            else:
                c.proc.kill(signal.SIGKILL)
                try:
                    c.proc.wait(5)
                except Exception:
                    pass
        if c.sanitizer_report():
            why = why or f"{c.label}: sanitizer report\n{c.proc.tail()}"
    return why


def run_one(w, args, name, fn):
    t = time.monotonic()
    cl = Clients()
    ok, path, detail = False, "-", ""
    try:
        path, detail = fn(w, args, cl)
        ok = True
    except (Fail, netlab.ExpectTimeout, netlab.LabError) as e:
        detail = str(e)
    why = finish(cl, ok)
    if ok and why:
        ok, detail = False, why
    secs = time.monotonic() - t
    streamed = any(getattr(c, "streamed", False) for c in cl)
    n = f"{args.count}/{args.count}" if ok and streamed else "-"
    dropped = [c.dropped for c in cl if getattr(c, "dropped", None) and c.dropped[1]]
    if ok and dropped:
        d, t = dropped[0]
        detail = f"WAN loss {d}/{t} packets" + (f"; {detail}" if detail else "")
    head = f"{name:12} {'pass' if ok else 'FAIL':4} path {path:14} each way {n:9} {secs:5.1f} s"
    print(head + ("  " + detail.splitlines()[0] if ok and detail else ""), flush=True)
    if not ok:
        print("  " + detail.replace("\n", "\n  "), flush=True)
    return ok, detail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tincan")
    ap.add_argument("tincand")
    ap.add_argument("--count", type=int, default=500, help="messages each way (500)")
    ap.add_argument("--loss", type=float, default=10, help="percent loss per WAN side (10)")
    ap.add_argument("--only", default=None, help="comma-separated scenario names")
    args = ap.parse_args()
    names = [n for n, _ in SCENARIOS]
    only = args.only.split(",") if args.only else names
    bad = [n for n in only if n not in names]
    if bad:
        ap.error(f"no scenario {', '.join(bad)}; there are {', '.join(names)}")
    tincan, tincand = os.path.abspath(args.tincan), os.path.abspath(args.tincand)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="e2e-nat-")
    results = {}
    try:
        with netlab.Lab("nat", timeout=660) as lab:
            w = pathlab.World(lab, tincan, tincand, tmp)
            for name, fn in SCENARIOS:
                if name in only:
                    results[name] = run_one(w, args, name, fn)
            err = w.tincand_stderr()
            if "Sanitizer" in err or "runtime error" in err:
                results["tincand"] = (False, "sanitizer report in tincand's stderr")
            if not all(ok for ok, _ in results.values()):
                lab.failed = True
    except (Fail, netlab.LabError, netlab.LabTimeout) as e:
        results["lab"] = (False, f"{type(e).__name__}: {e}")
    print()
    for name in [n for n in names if n in only] + ["tincand", "lab"]:
        if name in results:
            ok, detail = results[name]
            print(f"{'PASS' if ok else 'FAIL'} {name}" +
                  ("" if ok else ": " + detail.splitlines()[0][:160]))
        elif name in only:
            print(f"FAIL {name}: not run")
            results[name] = (False, "not run")
    failed = [n for n, (ok, _) in results.items() if not ok]
    if failed:
        print(f"state kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"e2e_nat: {len(results) - len(failed)} passed, {len(failed)} failed in "
          f"{time.monotonic() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
