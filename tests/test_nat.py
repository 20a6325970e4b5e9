#!/usr/bin/env python3
"""test_nat.py: port mappings from struct nat against the real miniupnpd, and the lab's NAT kinds.

argv[1]: the nat_probe binary. A small internet in namespaces: a public switch with two hosts
(observers), and behind it routers: r1 runs miniupnpd (UPnP IGD + NAT-PMP, then each alone),
r2 has no daemon, r3 drops everything sent to it (a stalled box), r4 is endpoint-dependent
(symmetric), r5 has a private WAN address (double NAT) and runs miniupnpd, r6 blocks UDP.
Shown: the mapping exists while the probe runs and is gone after; a packet from the public side
reaches the probe through it; UPnP alone and NAT-PMP alone work, with renewal; a port already
mapped by another host gives another port; no router / a stalled router / double NAT give
"failed" within the deadline while the probe's loop keeps ticking; nat_free is bounded even in
the middle of discovery; EIM/EDM/block_udp routers behave as named.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import natlab  # noqa: E402
import netlab  # noqa: E402

PROBE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
PORT, PORT2 = 40000, 41000
OBS_PORT = 3478
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        sys.__stderr__.write(f"FAIL: {what}\n")
    return cond


# Sends one NAT-PMP UDP mapping request from the host running it; prints
# "natpmp <result> <public port> <lifetime>". argv: gateway, private, public, lifetime.
NATPMP_MAP = r"""
import socket, struct, sys
gw, iport, eport, life = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(6):
    s.sendto(struct.pack("!BBHHHI", 0, 1, 0, iport, eport, life), (gw, 5351))
    try:
        d = s.recv(64)
    except socket.timeout:
        continue
    if len(d) >= 16:
        v, op, rc, epoch, priv, pub, lt = struct.unpack("!BBHIHHI", d[:16])
        print("natpmp %d %d %d" % (rc, pub, lt))
        break
"""

# Sends text to ip:port from a fresh UDP socket; prints what comes back (or "timeout").
UDP_ASK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.4)
for _ in range(5):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recv(2048).decode(), flush=True)
        break
    except socket.timeout:
        pass
else:
    print("timeout")
"""

TCP_LISTEN = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
print("ready", flush=True)
while True:
    c, a = s.accept()
    c.sendall(b"hi\n")
    c.close()
"""

TCP_ASK = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(c.recv(16).decode().strip())
except OSError as e:
    print("error", e)
"""


def start_probe(lab, host, port, *args):
    p = lab.spawn(host, [PROBE] + list(args) + [str(port)], name=f"{host.name}-probe{port}")
    p.expect(r"^started", 5)
    return p


def stop_probe(p, what):
    """End the probe with end of input; check it freed in time and exited 0. Returns the
    stats line's fields as a dict."""
    p.close_stdin()
    m = p.expect(r"^freed (\d+)", 5)
    check(int(m.group(1)) <= 2000, f"{what}: nat_free took {m.group(1)} ms (max 2000)")
    s = p.expect(r"^stats ticks (\d+) maxgap (\d+) uptime (\d+)", 5)
    check(p.wait(5) == 0, f"{what}: probe exit status 0")
    return {"ticks": int(s.group(1)), "maxgap": int(s.group(2)), "uptime": int(s.group(3))}


def loop_kept_ticking(st, what):
    """The probe's 100 ms timer kept coming: no gap over 300 ms, and nearly every tick."""
    check(st["maxgap"] <= 300, f"{what}: loop stalled {st['maxgap']} ms")
    check(st["ticks"] >= st["uptime"] // 100 * 8 // 10,
          f"{what}: {st['ticks']} ticks in {st['uptime']} ms")


def ask(lab, host, ip, port, text):
    return lab.run(host, ["python3", "-c", UDP_ASK, ip, str(port), text]).stdout.strip()


def has_rule(lab, router, ext, ip, port):
    return (ext, ip, port) in natlab.mapped_ports(lab, router)


def rules_for(lab, router, ip):
    return [r for r in natlab.mapped_ports(lab, router) if r[1] == ip]


def expect_mapped(p, proto, timeout=8):
    m = p.expect(r"^mapped (\S+) ([\d.]+):(\d+) (.*)$", timeout)
    check(proto is None or m.group(1) == proto, f"mapped by {m.group(1)}, expected {proto}")
    return m.group(1), m.group(2), int(m.group(3))


def scenario_both(lab, r1, h1, h2, s1):
    """(1)+(2): miniupnpd with UPnP and NAT-PMP; mapping listed, reachable, removed on exit."""
    p = start_probe(lab, h1, PORT, "-e")
    proto, ip, port = expect_mapped(p, None)
    check(ip == r1.wan and port == PORT, f"both: mapped {ip}:{port}, want {r1.wan}:{PORT}")
    check(has_rule(lab, r1, PORT, h1.addr4, PORT), "both: rule in miniupnpd's nft chain")
    out = lab.run(h2, ["upnpc", "-l"], timeout=20).stdout
    check(f"{PORT}->{h1.addr4}:{PORT}" in out, f"both: upnpc -l lists the mapping\n{out}")
    reply = ask(lab, s1, ip, port, "ping-both")
    check(reply == "echo ping-both", f"both: echo through the mapping: {reply!r}")
    m = p.expect(r"^recv ([\d.]+):\d+ ping-both", 2)
    check(m.group(1) == s1.addr4, "both: the probe saw the public host's address")
    time.sleep(2.3)  # the slower method has finished by now: still one rule
    check(len(rules_for(lab, r1, h1.addr4)) == 1,
          f"both: one rule only: {rules_for(lab, r1, h1.addr4)}")
    # The network changed: the mapping is reported lost, then made again.
    p.send("refresh")
    p.expect(rf"^lost \S+ {r1.wan}:{PORT} network changed", 2)
    expect_mapped(p, None)
    time.sleep(2.3)
    check(rules_for(lab, r1, h1.addr4) == [(PORT, h1.addr4, PORT)],
          f"both: one rule after refresh: {rules_for(lab, r1, h1.addr4)}")
    st = stop_probe(p, "both")
    loop_kept_ticking(st, "both")
    check(rules_for(lab, r1, h1.addr4) == [], "both: rule removed on exit")
    out = lab.run(h2, ["upnpc", "-l"], timeout=20).stdout
    check(f"->{h1.addr4}:{PORT}" not in out, f"both: upnpc -l no longer lists it\n{out}")


def scenario_upnp(lab, r1, h1, h2, s2):
    """UPnP alone: map, echo, renew a short lease, conflict with another host's port."""
    natlab.stop_miniupnpd(lab, r1)
    natlab.miniupnpd(lab, r1, natpmp=False)
    p = start_probe(lab, h1, PORT, "-e", "-l", "4")
    t0 = time.monotonic()
    _, ip, port = expect_mapped(p, "upnp")
    took = time.monotonic() - t0
    check(took < 5, f"upnp: mapping took {took:.1f} s")
    check((ip, port) == (r1.wan, PORT), f"upnp: mapped {ip}:{port}")
    check(ask(lab, s2, ip, port, "ping-upnp") == "echo ping-upnp", "upnp: echo")
    m = p.expect(r"^mapped upnp [\d.]+:(\d+) renewed", 6)  # lease 4 s: renewed at 2 s
    check(int(m.group(1)) == PORT, "upnp: renewed the same port")
    time.sleep(2.5)  # past the first lease's end
    check(has_rule(lab, r1, PORT, h1.addr4, PORT), "upnp: rule still there after renewals")
    stop_probe(p, "upnp")
    check(rules_for(lab, r1, h1.addr4) == [], "upnp: rule removed on exit")

    # Another host holds external PORT2: AddPortMapping says 718, a random port is taken.
    out = lab.run(h2, ["upnpc", "-e", "other", "-a", h2.addr4, str(PORT2), str(PORT2), "UDP",
                       "600"], timeout=20).stdout
    check(has_rule(lab, r1, PORT2, h2.addr4, PORT2), f"upnp: h2 holds {PORT2}\n{out}")
    p = start_probe(lab, h1, PORT2, "-e")
    _, ip, port = expect_mapped(p, "upnp")
    check(port != PORT2, f"upnp conflict: got another port than {PORT2}")
    check(has_rule(lab, r1, port, h1.addr4, PORT2), "upnp conflict: rule for our port")
    check(ask(lab, s2, ip, port, "ping-718") == "echo ping-718", "upnp conflict: echo")
    stop_probe(p, "upnp conflict")
    check(rules_for(lab, r1, h1.addr4) == [], "upnp conflict: our rule removed")
    check(has_rule(lab, r1, PORT2, h2.addr4, PORT2), "upnp conflict: h2's rule untouched")


def scenario_natpmp(lab, r1, h1, h2, s1):
    """NAT-PMP alone (UPnP off): map, echo, renew; conflict: the router's port is taken."""
    natlab.stop_miniupnpd(lab, r1)
    natlab.miniupnpd(lab, r1, upnp=False)
    p = start_probe(lab, h1, PORT, "-e", "-l", "2")
    _, ip, port = expect_mapped(p, "natpmp", 4)
    check((ip, port) == (r1.wan, PORT), f"natpmp: mapped {ip}:{port}")
    check(ask(lab, s1, ip, port, "ping-pmp") == "echo ping-pmp", "natpmp: echo")
    p.expect(r"^mapped natpmp [\d.]+:\d+ renewed", 4)
    # UPnP finds nothing (SSDP off): the round is decided, no failure is reported.
    time.sleep(2.2)
    check(not any(line.startswith("failed") for line in p.lines), "natpmp: no failed line")
    stop_probe(p, "natpmp")
    check(rules_for(lab, r1, h1.addr4) == [], "natpmp: rule removed on exit")

    out = lab.run(h2, ["python3", "-c", NATPMP_MAP, r1.lan, str(PORT2), str(PORT2),
                       "600"]).stdout.split()
    check(out[:3] == ["natpmp", "0", str(PORT2)], f"natpmp: h2 maps {PORT2}: {out}")
    p = start_probe(lab, h1, PORT2, "-e")
    _, ip, port = expect_mapped(p, "natpmp", 4)
    check(port != PORT2, f"natpmp conflict: router gave another port than {PORT2}")
    check(ask(lab, s1, ip, port, "ping-pmp2") == "echo ping-pmp2", "natpmp conflict: echo")
    stop_probe(p, "natpmp conflict")
    check(rules_for(lab, r1, h1.addr4) == [], "natpmp conflict: our rule removed")
    check(has_rule(lab, r1, PORT2, h2.addr4, PORT2), "natpmp conflict: h2's rule untouched")

    # The router goes away: the renewal fails, the mapping is lost; it comes back: a new
    # round (NAT_RETRY_LOST_MS later) maps again.
    p = start_probe(lab, h1, PORT, "-l", "2")
    expect_mapped(p, "natpmp", 4)
    natlab.stop_miniupnpd(lab, r1)
    p.expect(r"^lost natpmp \S+ nat-pmp renewal: ", 4)
    natlab.miniupnpd(lab, r1, upnp=False)
    expect_mapped(p, "natpmp", 8)
    loop_kept_ticking(stop_probe(p, "natpmp lost"), "natpmp lost")
    check(rules_for(lab, r1, h1.addr4) == [], "natpmp lost: rule removed on exit")


def scenario_failures(lab, h3, h4, h6):
    """(4) no daemon, a stalled router, double NAT: failed within the deadline, loop alive."""
    t0 = time.monotonic()
    probes = {"no daemon": start_probe(lab, h3, PORT), "stalled": start_probe(lab, h4, PORT),
              "double NAT": start_probe(lab, h6, PORT)}
    took = {}
    for what, p in probes.items():
        m = p.expect(r"^failed (.*)$", 8)
        took[what] = time.monotonic() - t0
        probes[what] = (p, m.group(1))
    for what, (p, why) in probes.items():
        check(took[what] < 5.0, f"{what}: failed after {took[what]:.1f} s (deadline ~3 s)")
        check("upnp: " in why and "nat-pmp: " in why, f"{what}: both methods say why: {why}")
    check("no UPnP router answered" in probes["no daemon"][1], "no daemon: upnp reason")
    check("unreachable" in probes["no daemon"][1], "no daemon: nat-pmp: port unreachable")
    check("no answer" in probes["stalled"][1], "stalled: nat-pmp: no answer")
    check("double NAT" in probes["double NAT"][1], f"double NAT: {probes['double NAT'][1]}")
    time.sleep(0.5)
    for what, (p, _) in probes.items():
        loop_kept_ticking(stop_probe(p, what), what)

    # nat_free in the middle of UPnP discovery (stalled router): bounded, clean exit.
    p = start_probe(lab, h4, PORT)
    time.sleep(0.3)
    stop_probe(p, "free during discovery")


def scenario_kinds(lab, s1, s2, h3, h5, h7):
    """(6) EIM keeps one external port for two destinations, EDM does not; filtering drops
    unsolicited inbound; block_udp drops UDP but forwards TCP."""
    obs = [f"{s1.addr4}:{OBS_PORT}", f"{s2.addr4}:{OBS_PORT}"]
    eim = natlab.observed_ports(lab, h3, 5000, obs)
    edm = natlab.observed_ports(lab, h5, 5000, obs)
    check(all(eim.values()) and len(set(eim.values())) == 1, f"eim: one mapping: {eim}")
    check(all(edm.values()) and len(set(edm.values())) == 2, f"edm: two mappings: {edm}")
    # Unsolicited inbound to an EIM router's mapped port from a host it never sent to is
    # filtered; so is anything to a port nothing opened.
    rx = lab.spawn(h3, ["python3", "-c", natlab.UDP_OBSERVER, "5001"], name="h3-rx")
    rx.expect("^ready", 5)
    ask(lab, s1, "45.45.0.2", 5001, "unsolicited")
    time.sleep(0.3)
    check(not any(line.startswith("from") for line in rx.lines), "eim: unsolicited dropped")
    blocked = natlab.observed_ports(lab, h7, 5000, obs[:1])
    check(blocked == {obs[0]: None}, f"block_udp: UDP dropped: {blocked}")
    tcp = lab.run(h7, ["python3", "-c", TCP_ASK, s1.addr4, "8080"]).stdout.strip()
    check(tcp == "hi", f"block_udp: TCP passes: {tcp!r}")


def main():
    if not PROBE or not os.access(PROBE, os.X_OK):
        sys.exit("usage: test_nat.py NAT_PROBE")
    if os.geteuid() != 0:
        print("SKIP: needs root for network namespaces")
        sys.exit(77)
    r = netlab._sh([PROBE, "--selftest"], check=False)
    check(r.returncode == 0, f"nat_ipv4_reserved selftest: {r.stderr}")
    start = time.monotonic()
    with netlab.Lab("nat", timeout=150) as lab:
        pub = lab.switch("pub")
        s1, s2 = lab.host("s1"), lab.host("s2")
        lab.link(s1, pub, addr4="45.45.0.100/24")
        lab.link(s2, pub, addr4="45.45.0.101/24")
        routers = {}
        for i, (kind, wan) in enumerate([("eim", "45.45.0.1"), ("eim", "45.45.0.2"),
                                         ("eim", "45.45.0.3"), ("edm", "45.45.0.4"),
                                         ("eim", "10.45.0.5"), ("block_udp", "45.45.0.6")], 1):
            sw = lab.switch(f"home{i}")
            routers[i] = (natlab.nat_router(lab, f"r{i}", pub, f"{wan}/24", sw,
                                            f"192.168.{i}.1/24", kind), sw)
        h = {}
        for name, i, last in [("h1", 1, 10), ("h2", 1, 11), ("h3", 2, 10), ("h4", 3, 10),
                              ("h5", 4, 10), ("h6", 5, 10), ("h7", 6, 10)]:
            r, sw = routers[i]
            h[name] = natlab.lan_host(lab, name, sw, f"192.168.{i}.{last}/24", r)
        r1, r3, r5 = routers[1][0], routers[3][0], routers[5][0]
        natlab.drop_input(lab, r3)
        for s in (s1, s2):
            lab.spawn(s, ["python3", "-c", natlab.UDP_OBSERVER, str(OBS_PORT)]).expect("^ready")
        lab.spawn(s1, ["python3", "-c", TCP_LISTEN, "8080"]).expect("^ready")
        natlab.miniupnpd(lab, r1)
        natlab.miniupnpd(lab, r5)
        built = time.monotonic() - start

        for name, fn, args in [
                ("both", scenario_both, (lab, r1, h["h1"], h["h2"], s1)),
                ("upnp", scenario_upnp, (lab, r1, h["h1"], h["h2"], s2)),
                ("natpmp", scenario_natpmp, (lab, r1, h["h1"], h["h2"], s1)),
                ("failures", scenario_failures, (lab, h["h3"], h["h4"], h["h6"])),
                ("kinds", scenario_kinds, (lab, s1, s2, h["h3"], h["h5"], h["h7"]))]:
            t0 = time.monotonic()
            try:
                fn(*args)
            except (netlab.ExpectTimeout, netlab.LabError) as e:
                check(False, f"{name}: {e}")
            sys.stderr.write(f"nat: {name} {time.monotonic() - t0:.1f} s\n")
        if failures:
            lab.failed = True
    sys.stderr.write(f"nat: lab built in {built:.1f} s, total {time.monotonic() - start:.1f} s\n")
    print(f"nat: {len(failures)} failed" if failures else "nat: all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
