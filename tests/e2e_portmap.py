#!/usr/bin/env python3
"""e2e_portmap.py: the client maps its UDP port on its router and gives the mapping to its
contacts; real tincand, real headless clients, the real miniupnpd, in network namespaces.

    python3 tests/e2e_portmap.py build/tincan build/tincand

An "internet" switch (rdvlab.World: no multicast) holds tincand and carol. Behind router r1
(natlab, endpoint-independent NAT, miniupnpd) are alice, bob and hx; behind r2, which drops
everything sent to itself (a stalled box), is dave. Shown:
 (1) alice maps 7788 on r1 ("port mapping" info line, miniupnpd's nft rule), and the rule is
     gone within a bounded wait after /quit;
 (2) dave, behind the stalled router, registers and logs in before his NAT attempts give
     up (an order of events; both times are printed next to carol's, who has no router);
     he makes no mapping;
 (3) alice with --no-portmap makes none (no nat log line at -vv, no rule, no info line);
 (4) hx holds external port 7788 on r1, so bob's mapping (UPnP only: it comes after his
     login) gets another port M; r1 lets no new flow from bob to carol out. carol and bob
     become contacts: the only way between them is carol's handshake to 45.45.0.1:M, which
     reaches her only through the LOGIN that bob sent again when his mapping came.
Root only. Every wait is bounded; on failure the reason is printed, the logs are kept and
the exit status is 1.
"""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import natlab  # noqa: E402
import rdvlab  # noqa: E402
from e2e_lan import Fail, Lines, pk_of  # noqa: E402

SRV, CAROL = "45.45.0.100", "45.45.0.101"
R1_WAN, R2_WAN = "45.45.0.1", "45.45.0.2"
ALICE, BOB, HX, DAVE = "192.168.1.10", "192.168.1.11", "192.168.1.12", "192.168.2.10"
PORT = 7787                 # tincand
CPORT = 7788                # every client's UDP port (the default)
GONE_MAX_S = 4.0            # /quit -> the rule is gone (nat_free takes at most 1.8 s)
MAPLINE = re.compile(r"^port mapping: ([\d.]+):(\d+) -> UDP port (\d+) \((UPnP IGD|NAT-PMP)\)$")


class Client(Lines):
    """A headless tincan with its own home, -vv on stderr."""

    def __init__(self, lab, host, name, binary, home, extra=()):
        argv = [binary, "--headless", "--home", home, "--nick", name, "-vv"] + list(extra)
        self.t_start = time.monotonic()
        super().__init__(lab.spawn(host, argv, name=f"{name}{len(lab.procs)}"), name)
        self.name = name
        self.id = self.wait(lambda s: s.ev["ready"] and s.ev["ready"][0][0], 15,
                            f"{name}: ready")
        self.t_ready = time.monotonic()
        pk_of(self.id)

    def info_lines(self):
        return [" ".join(f) for f in self.events("info")]

    def mappings(self):
        return [m for m in (MAPLINE.match(t) for t in self.info_lines()) if m]

    def wait_mapping(self, timeout):
        self.wait(lambda s: s.mappings(), timeout, f"{self.label}: a 'port mapping' info line")
        return self.mappings()[0]


def register(c, srv_id=None):
    c.send(f"/register {c.name}@{SRV}" + (f" {srv_id}" if srv_id else ""))
    c.expect("registered", lambda f: f[0] == f"{c.name}@{SRV}", 20, "registered")
    c.expect("login", lambda f: f[0] == SRV, 20, "login")
    return time.monotonic()


def rules_for(lab, router, ip):
    return [r for r in natlab.mapped_ports(lab, router) if r[1] == ip]


def wait_until(cond, timeout, what):
    """Poll cond (a check of state outside any process's output) every 50 ms, bounded."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise Fail(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)
    return time.monotonic()


def part_map_and_remove(lab, r1, alice, srv_id):
    """(1) alice maps her port; the rule is in miniupnpd's table while she runs, gone after."""
    register(alice, srv_id)
    m = alice.wait_mapping(10)
    if (m.group(1), int(m.group(2)), int(m.group(3))) != (R1_WAN, CPORT, CPORT):
        raise Fail(f"alice: {m.group(0)!r}, want {R1_WAN}:{CPORT} -> UDP port {CPORT}")
    if rules_for(lab, r1, ALICE) != [(CPORT, ALICE, CPORT)]:
        raise Fail(f"alice: miniupnpd's rules {natlab.mapped_ports(lab, r1)}")
    t = alice.quit()
    gone = wait_until(lambda: not rules_for(lab, r1, ALICE), GONE_MAX_S,
                      "alice's mapping removed after /quit")
    if len(alice.mappings()) != 1:
        raise Fail(f"alice: one mapping line expected: {alice.info_lines()}")
    return m.group(4), gone - t


def part_stalled(dave, srv_id):
    """(2) behind a stalled router: seconds from ready to dave's login, which must come before
    his NAT attempts give up (an order of events, checked in main, not a time limit)."""
    return register(dave, srv_id) - dave.t_ready


def part_stalled_gave_up(dave):
    """(2, later) the NAT attempts were going on meanwhile: they give up, and say why, once."""
    fail_re = re.compile(r"no port mapping on the router \(.*\): upnp: .*; nat-pmp: (.*)")
    gave_up = wait_until(lambda: fail_re.search(dave.stderr()), 10,
                         "dave: the failed port mapping logged") - dave.t_ready
    why = fail_re.search(dave.stderr()).group(1)
    if "no answer" not in why:
        raise Fail(f"dave: nat-pmp's reason {why!r}, want 'no answer'")
    if dave.mappings():
        raise Fail(f"dave: a mapping behind a stalled router: {dave.info_lines()}")
    if len(fail_re.findall(dave.stderr())) != 1:
        raise Fail("dave: the failed port mapping logged more than once")
    return gave_up


def block_bob_to_carol(lab, r1):
    """r1 forwards no new flow from bob to carol (replies still pass), and counts what carol
    sends to its WAN side per destination port."""
    lab.run(r1, ["nft", "-f", "-"], input=(
        "table inet pmtest {\n"
        " chain block {\n  type filter hook forward priority -10; policy accept;\n"
        f'  iifname "{natlab.LAN_IF}" ip saddr {BOB} ip daddr {CAROL} ct state new counter drop\n'
        " }\n}\n"))


def count_from_carol(lab, r1, port):
    lab.run(r1, ["nft", "add", "chain", "inet", "pmtest", "count",
                 "{ type filter hook prerouting priority -150; policy accept; }"])
    lab.run(r1, ["nft", "add", "rule", "inet", "pmtest", "count", "ip", "saddr", CAROL,
                 "ip", "daddr", R1_WAN, "udp", "dport", str(port), "counter"])


def counters(lab, r1):
    out = lab.run(r1, ["nft", "list", "table", "inet", "pmtest"]).stdout
    return [int(x) for x in re.findall(r"counter packets (\d+)", out)]


def part_contact(lab, r1, bob, carol, srv_id):
    """(4) carol reaches bob through the port his router mapped, which only his second LOGIN
    told the rendezvous."""
    register(bob, srv_id)
    m = bob.wait_mapping(10)
    lines = bob.proc.lines
    first = {w: next(i for i, line in enumerate(lines) if line.startswith(w))
             for w in ("login ", "info port mapping: ")}
    if first["login "] > first["info port mapping: "] or m.group(4) != "UPnP IGD":
        raise Fail(f"bob: mapping {m.group(0)!r} should come by UPnP after the login")
    ext = int(m.group(2))
    if m.group(1) != R1_WAN or ext == CPORT or int(m.group(3)) != CPORT:
        raise Fail(f"bob: {m.group(0)!r}: want {R1_WAN}, a port other than hx's {CPORT}")
    if rules_for(lab, r1, BOB) != [(ext, BOB, CPORT)]:
        raise Fail(f"bob: miniupnpd's rules {natlab.mapped_ports(lab, r1)}")
    count_from_carol(lab, r1, ext)
    bob.send(f"/add carol@{SRV} hi carol")
    carol.expect("request", lambda f: f[0] == bob.id, 20, "request from bob")
    carol.send(f"/accept {bob.id}")
    for me, other in ((carol, bob), (bob, carol)):
        f = me.expect("online", lambda f: f[0] == other.id, 20, f"online {other.name}")
        if f[1] != "direct":
            raise Fail(f"{me.label}: {other.name} online on path {f[1]!r}")
    carol.send(f"/info {bob.id}")
    info = carol.wait(lambda s: next((t for t in s.info_lines() if " address " in t and
                                      bob.id in t), None), 10, "carol: /info bob")
    addr = info.split(" address ", 1)[1].split()[0]
    if addr != f"{R1_WAN}:{ext}":
        raise Fail(f"carol: bob's session runs to {addr}, want the mapped {R1_WAN}:{ext}")
    dropped, to_mapped = counters(lab, r1)
    if to_mapped == 0:
        raise Fail("r1 counted no packet from carol to the mapped port")
    bob.send(f"/msg {carol.id} through the mapping")
    carol.expect("msg", lambda f: f[0] == bob.id and f[3] == "through the mapping", 10,
                 "bob's message")
    return ext, to_mapped, dropped


def part_no_portmap(lab, r1, alice2):
    """(3) --no-portmap: nat never started (its -vv line), no rule, no info line. Checked
    after bob's mapping was made, so a round would have had time to finish."""
    err = alice2.stderr()
    if "nat: " in err or alice2.mappings() or rules_for(lab, r1, ALICE):
        raise Fail(f"alice --no-portmap: a mapping was tried or made: "
                   f"{alice2.info_lines()} {rules_for(lab, r1, ALICE)}\n{alice2.proc.tail()}")


def build(lab, tincand, tmp):
    world = rdvlab.World(lab, tincand, tmp, "45.45.0.", {"carol": CAROL}, [SRV], PORT)
    home1, home2 = lab.switch("home1"), lab.switch("home2")
    r1 = natlab.nat_router(lab, "r1", world.inet, f"{R1_WAN}/24", home1, "192.168.1.1/24", "eim")
    r2 = natlab.nat_router(lab, "r2", world.inet, f"{R2_WAN}/24", home2, "192.168.2.1/24", "eim")
    hosts = {"alice": natlab.lan_host(lab, "alice", home1, f"{ALICE}/24", r1),
             "bob": natlab.lan_host(lab, "bob", home1, f"{BOB}/24", r1),
             "hx": natlab.lan_host(lab, "hx", home1, f"{HX}/24", r1),
             "dave": natlab.lan_host(lab, "dave", home2, f"{DAVE}/24", r2),
             "carol": world.hosts["carol"]}
    natlab.drop_input(lab, r2)
    natlab.miniupnpd(lab, r1)
    srv = world.start_server(0, probe="carol")
    return world, r1, hosts, srv


def run(lab, tincan, tincand, tmp):
    world, r1, hosts, srv = build(lab, tincand, tmp)
    homes = {n: os.path.join(tmp, n) for n in ("alice", "bob", "carol", "dave")}
    for h in homes.values():
        os.makedirs(h)

    def client(name, *extra):
        return Client(lab, hosts[name], name, tincan, homes[name], extra)

    carol = client("carol")
    carol_s = register(carol, srv.server_id) - carol.t_ready
    dave = client("dave")
    took = part_stalled(dave, srv.server_id)
    alice = client("alice")
    proto, gone = part_map_and_remove(lab, r1, alice, srv.server_id)
    print(f"map: alice's port mapped by {proto}, rule removed {gone:.2f} s after /quit")
    gave_up = part_stalled_gave_up(dave)
    if took >= gave_up:
        raise Fail(f"dave: logged in {took:.2f} s after ready, after his port mapping gave up "
                   f"({gave_up:.2f} s): the login waited for the stalled router")
    print(f"stalled: dave logged in {took:.2f} s after ready (carol, no router: "
          f"{carol_s:.2f} s); his NAT attempts gave up {gave_up:.1f} s after ready")

    # miniupnpd with UPnP only: a mapping needs the SSDP wait, so it comes after the login.
    natlab.stop_miniupnpd(lab, r1)
    natlab.miniupnpd(lab, r1, natpmp=False)
    out = lab.run(hosts["hx"], ["upnpc", "-e", "hx", "-a", HX, str(CPORT), str(CPORT), "UDP",
                                "600"], timeout=20).stdout
    if rules_for(lab, r1, HX) != [(CPORT, HX, CPORT)]:
        raise Fail(f"hx could not take external port {CPORT}\n{out}")
    block_bob_to_carol(lab, r1)
    alice2, bob = client("alice", "--no-portmap"), client("bob")
    alice2.expect("login", lambda f: f[0] == SRV, 20, "login (home kept from the first run)")
    ext, to_mapped, dropped = part_contact(lab, r1, bob, carol, srv.server_id)
    print(f"contact: carol reached bob at his mapped {R1_WAN}:{ext} ({to_mapped} packets "
          f"from her counted there; {dropped} new packets from bob to her dropped by r1)")
    part_no_portmap(lab, r1, alice2)
    print("no-portmap: no nat activity, no rule, no info line")
    t = bob.quit()
    gone = wait_until(lambda: not rules_for(lab, r1, BOB), GONE_MAX_S,
                      "bob's mapping removed after /quit") - t
    for c in (alice2, carol, dave):
        c.quit()
    if rules_for(lab, r1, HX) != [(CPORT, HX, CPORT)]:
        raise Fail(f"hx's rule was touched: {natlab.mapped_ports(lab, r1)}")
    srv.proc.kill(signal.SIGTERM)
    if srv.proc.wait(15) != 0:
        raise Fail(f"tincand: exit status after SIGTERM\n{srv.proc.tail()}")
    print(f"quit: bob's rule removed {gone:.2f} s after /quit; hx's untouched")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: e2e_portmap.py TINCAN TINCAND")
    if os.geteuid() != 0:
        print("e2e_portmap: needs root for network namespaces")
        return 1
    tincan, tincand = (os.path.abspath(a) for a in sys.argv[1:3])
    return rdvlab.lab_main("e2e_portmap", "pmap", 150,
                           lambda lab, tmp: run(lab, tincan, tincand, tmp), (Fail,))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
