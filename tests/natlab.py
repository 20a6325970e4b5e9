#!/usr/bin/env python3
"""natlab.py: NAT routers for the namespace lab: nftables NAT of three kinds, and miniupnpd.

Builds on netlab.py (imported, never changed). Everything lives inside the lab's namespaces
and goes with them. A router has its WAN side on eth0 and its LAN side on eth1:

    with netlab.Lab("nat") as lab:
        pub, home = lab.switch("pub"), lab.switch("home")
        r = natlab.nat_router(lab, "r", pub, "45.45.0.1/24", home, "192.168.1.1/24", "eim")
        h = natlab.lan_host(lab, "h", home, "192.168.1.10/24", r)
        upnp = natlab.miniupnpd(lab, r)          # UPnP IGD and NAT-PMP on r

Kinds: "eim" (endpoint-independent mapping: one external port per internal socket, whatever
the destination), "edm" (endpoint-dependent, symmetric: a new external port per destination),
"block_udp" (like eim, but forwards no UDP at all). All three filter inbound: only replies to
what the LAN sent (conntrack established/related) and what miniupnpd opened are forwarded.
WAN addresses must not be reserved ranges (10/8, 192.168/16, 100.64/10, documentation...),
or miniupnpd and miniupnpc treat the router as double NAT: 45.45.0.0/24 is used in the tests,
inside the namespaces only.
"""

import os
import re
import subprocess
import time
import uuid

import netlab

WAN_IF = "eth0"
LAN_IF = "eth1"
TABLE = "natlab"              # one inet table: our NAT and filter chains and miniupnpd's
UPNP_HTTP_PORT = 5555
NATPMP_PORT = 5351

_MASQ = {
    "eim": "masquerade persistent",
    "block_udp": "masquerade persistent",
    "edm": "masquerade random",
}


def _ruleset(kind):
    udp_drop = "  meta l4proto udp drop\n" if kind == "block_udp" else ""
    return (
        f"table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        # miniupnpd adds its accept rules for mapped ports to chain "miniupnpd".
        " chain forward {\n"
        "  type filter hook forward priority 0; policy drop;\n"
        f"{udp_drop}"
        "  ct state established,related accept\n"
        f'  iifname "{LAN_IF}" oifname "{WAN_IF}" accept\n'
        "  jump miniupnpd\n"
        " }\n"
        " chain miniupnpd {\n }\n"
        " chain prerouting {\n"
        "  type nat hook prerouting priority -100; policy accept;\n"
        "  jump prerouting_miniupnpd\n"
        " }\n"
        " chain postrouting {\n"
        "  type nat hook postrouting priority 100; policy accept;\n"
        "  jump postrouting_miniupnpd\n"
        f'  oifname "{WAN_IF}" {_MASQ[kind]}\n'
        " }\n"
        " chain prerouting_miniupnpd {\n }\n"
        " chain postrouting_miniupnpd {\n }\n"
        "}\n")


def nat_router(lab, name, wan_switch, wan_addr, lan_switch, lan_addr, kind):
    """A router namespace: eth0 on wan_switch with wan_addr (CIDR), eth1 on lan_switch with
    lan_addr (CIDR), IPv4 forwarding, and NAT of the given kind from LAN to its WAN address.
    Returns the netlab Host; router.kind, router.wan and router.lan are set."""
    if kind not in _MASQ:
        raise ValueError(f"kind: one of {sorted(_MASQ)}")
    r = lab.host(name, forward=True)
    lab.link(r, wan_switch, addr4=wan_addr)
    lab.link(r, lan_switch, addr4=lan_addr)
    lab.run(r, ["nft", "-f", "-"], input=_ruleset(kind))
    r.kind = kind
    r.wan = wan_addr.split("/")[0]
    r.lan = lan_addr.split("/")[0]
    r.lan_cidr = lan_addr
    r.upnpd = None
    return r


def lan_host(lab, name, lan_switch, addr, router):
    """A host on lan_switch with addr (CIDR) and its default route through router."""
    h = lab.host(name)
    lab.link(h, lan_switch, addr4=addr)
    lab.run(h, ["ip", "route", "add", "default", "via", router.lan])
    return h


def drop_input(lab, router, on=True):
    """Make the router drop (on=True) or accept again everything addressed to itself: it then
    answers neither UPnP nor NAT-PMP nor ICMP, like a stalled box."""
    if on:
        script = (f"table inet {TABLE}_in {{\n chain input {{\n"
                  "  type filter hook input priority 0; policy drop;\n }\n}\n")
    else:
        script = f"table inet {TABLE}_in\ndelete table inet {TABLE}_in\n"
    lab.run(router, ["nft", "-f", "-"], input=script)


def _listening(lab, router, natpmp, upnp):
    out = lab.run(router, ["ss", "-Hlnu"]).stdout + lab.run(router, ["ss", "-Hlnt"]).stdout
    ports = {int(m.group(1)) for m in re.finditer(r":(\d+)\s", out)}
    return ((not natpmp or NATPMP_PORT in ports) and
            (not upnp or (1900 in ports and UPNP_HTTP_PORT in ports)))


def miniupnpd(lab, router, upnp=True, natpmp=True, allow=None, min_lifetime=1,
              timeout=10.0):
    """Start the real miniupnpd (Debian miniupnpd-nftables) in the router's namespace in the
    foreground (-d), with a generated configuration: ext_ifname eth0, listening_ip eth1, our
    nft table, a fresh uuid, secure_mode, allow rules for the router's LAN (allow: extra
    "allow ..." lines) and deny for the rest. Waits until it listens (NAT-PMP on 5351, SSDP
    on 1900, HTTP on UPNP_HTTP_PORT). Returns the netlab Proc; lab.close() stops it, and
    stop_miniupnpd() does so earlier."""
    if router.upnpd is not None:
        raise ValueError(f"{router.name}: miniupnpd already running")
    n = len(lab.procs)
    conf = os.path.join(lab.logdir, f"miniupnpd-{router.name}-{n}.conf")
    lease = os.path.join(lab.logdir, f"miniupnpd-{router.name}-{n}.leases")
    lines = [
        f"ext_ifname={WAN_IF}",
        f"listening_ip={LAN_IF}",
        f"http_port={UPNP_HTTP_PORT}",
        f"enable_upnp={'yes' if upnp else 'no'}",
        f"enable_natpmp={'yes' if natpmp else 'no'}",
        f"upnp_table_name={TABLE}",
        f"upnp_nat_table_name={TABLE}",
        "upnp_forward_chain=miniupnpd",
        "upnp_nat_chain=prerouting_miniupnpd",
        "upnp_nat_postrouting_chain=postrouting_miniupnpd",
        f"uuid={uuid.uuid4()}",
        "secure_mode=yes",
        "system_uptime=yes",
        "notify_interval=60",
        "clean_ruleset_interval=600",
        f"min_lifetime={min_lifetime}",
        "max_lifetime=86400",
        f"lease_file={lease}",
        "ipv6_disable=yes",
    ]
    lines += list(allow or [])
    lines += [f"allow 1024-65535 {router.lan_cidr} 1024-65535",
              "deny 0-65535 0.0.0.0/0 0-65535"]
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    # Its own pid file: the default one in /run is shared by every namespace.
    pid = os.path.join(lab.logdir, f"miniupnpd-{router.name}-{n}.pid")
    proc = lab.spawn(router, ["miniupnpd", "-d", "-f", conf, "-P", pid],
                     name=f"{router.name}-miniupnpd")
    deadline = time.monotonic() + timeout
    while not _listening(lab, router, natpmp, upnp):
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise netlab.LabError(f"miniupnpd on {router.name} did not start\n{proc.tail()}")
        time.sleep(0.05)
    router.upnpd = proc
    return proc


def stop_miniupnpd(lab, router, timeout=5.0):
    """Stop the router's miniupnpd (SIGTERM, then SIGKILL) and empty the chains it filled."""
    proc = router.upnpd
    if proc is None:
        return
    proc.kill()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill(9)
        proc.wait(timeout)
    for chain in ("miniupnpd", "prerouting_miniupnpd", "postrouting_miniupnpd"):
        lab.run(router, ["nft", "flush", "chain", "inet", TABLE, chain], check=False)
    router.upnpd = None


def mapped_ports(lab, router):
    """The router's current UDP port forwards (miniupnpd's DNAT rules), as a sorted list of
    (external port, internal address, internal port)."""
    out = lab.run(router, ["nft", "list", "chain", "inet", TABLE,
                           "prerouting_miniupnpd"]).stdout
    found = set()
    for line in out.splitlines():
        # miniupnpd writes e.g.: iif "eth0" @nh,72,8 0x11 th dport 4000 dnat ip to 10.0.0.2:4000
        m = re.search(r"dport (\d+) dnat ip to ([\d.]+):(\d+)", line)
        if m and ("0x11" in line or "udp" in line):
            found.add((int(m.group(1)), m.group(2), int(m.group(3))))
    return sorted(found)


# A UDP observer on a public host: prints "ready", then for each datagram "from <ip>:<port>
# <text>" and answers "seen <ip>:<port>" to the sender. argv: port.
UDP_OBSERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, src = s.recvfrom(2048)
    print("from %s:%d %s" % (src[0], src[1], data.decode("ascii", "replace")), flush=True)
    s.sendto(b"seen %s:%d" % (src[0].encode(), src[1]), src)
"""

# From one UDP socket, send to each destination ip:port in argv[2:] and print what each
# observer saw as our address: "seen <dst> <ip>:<port>" (or "lost <dst>"). argv[1]: local port.
UDP_PROBE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(0.3)
for dst in sys.argv[2:]:
    ip, port = dst.rsplit(":", 1)
    for attempt in range(4):
        s.sendto(b"hello", (ip, int(port)))
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            continue
        print("seen %s %s" % (dst, data.decode().split()[1]), flush=True)
        break
    else:
        print("lost %s" % dst, flush=True)
"""


def observed_ports(lab, host, local_port, observers):
    """Send from host's UDP local_port to each observer (ip:port strings running
    UDP_OBSERVER); returns {observer: "ip:port" it saw, or None}."""
    r = lab.run(host, ["python3", "-c", UDP_PROBE, str(local_port)] + list(observers),
                timeout=30)
    seen = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "seen":
            seen[f[1]] = f[2]
        elif len(f) == 2 and f[0] == "lost":
            seen[f[1]] = None
    return seen
