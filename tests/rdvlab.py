#!/usr/bin/env python3
"""rdvlab.py: the rendezvous lab of e2e_rdv.py: an "internet" switch, tincand hosts and client
hosts, tincand start/SIGKILL/restart, a STUN check with a standard client, a packet capture of
one host's traffic with a server, and a flood generator (garbage and handshakes with a valid
mac1). Root only; stdlib only.
"""

import hashlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time

import netlab


P25519 = 2 ** 255 - 19


class Fail(Exception):
    """Something in the lab did not behave."""


def lab_main(name, lab_name, timeout, body, errors=()):
    """The frame of an end-to-end script: a temporary directory and a lab of its own,
    body(lab, tmp), and a last line "<name>: ok|FAILED in N s". The directory is removed
    after a pass and kept (and named) after a failure; the lab keeps its logs then. Fail
    (this module's, or one of errors) and the lab's own errors fail the run. Returns the
    exit status."""
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix=name.replace("_", "-") + "-")
    ok = False
    try:
        with netlab.Lab(lab_name, timeout=timeout) as lab:
            try:
                body(lab, tmp)
                ok = True
            finally:
                lab.failed = not ok
    except ((Fail, netlab.ExpectTimeout, netlab.LabError, netlab.LabTimeout) + tuple(errors)) as e:
        print(f"FAIL: {e}", file=sys.stderr)
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"state kept in {tmp}", file=sys.stderr)
    print(f"{name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s")
    return 0 if ok else 1


def ed25519_to_x25519(pk):
    """The X25519 (Montgomery u) public key of an Ed25519 public key: u = (1 + y) / (1 - y)."""
    y = int.from_bytes(pk, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow((1 - y) % P25519, P25519 - 2, P25519) % P25519
    return u.to_bytes(32, "little")


def mac1_key(server_pk):
    """noise.c label_key("mac1----", xpk): BLAKE2b-256 of the label and the X25519 key."""
    return hashlib.blake2b(b"mac1----" + ed25519_to_x25519(server_pk), digest_size=32).digest()


# Runs in a client's namespace: prints "ready", then one line per IPv4 packet between the
# host (argv[2]) and the server (argv[1]), both directions, until SIGTERM:
#   pkt <in|out> <proto> <sport> <dport> <payload length> <hex of the first 4 payload bytes>
# and "v6 <n>" lines for any unicast IPv6 packet to the host that is not ICMPv6 (the servers
# listen on IPv4 only: there should be none).
SNIFFER = r"""
import signal, socket, struct, sys
srv, me = socket.inet_aton(sys.argv[1]), socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[3], 0))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
while True:
    f, meta = s.recvfrom(70000)
    if len(f) < 14:
        continue
    et, p = struct.unpack("!H", f[12:14])[0], f[14:]
    if et == 0x86DD and len(p) >= 40 and p[6] != 58 and p[24] != 0xFF and meta[2] != socket.PACKET_OUTGOING:
        print("v6", len(p), flush=True)
        continue
    if et != 0x0800 or len(p) < 20:
        continue
    src, dst, proto, ihl = p[12:16], p[16:20], p[9], (p[0] & 15) * 4
    tot = struct.unpack("!H", p[2:4])[0]
    if (src, dst) == (srv, me):
        d = "in"
    elif (src, dst) == (me, srv):
        d = "out"
    else:
        continue
    body = p[ihl:tot]
    if proto == 17 and len(body) >= 8:
        sp, dp = struct.unpack("!HH", body[:4])
        data = body[8:]
    elif proto == 6 and len(body) >= 20:
        sp, dp = struct.unpack("!HH", body[:4])
        data = body[(body[12] >> 4) * 4:]
    else:
        sp = dp = 0
        data = body
    print("pkt", d, proto, sp, dp, len(data), data[:4].hex(), flush=True)
"""

# Runs in the flooder's namespace: sends argv[3] packets to argv[1]:argv[2] over argv[4]
# seconds, alternating garbage (random length and bytes, some starting like our packets) and
# INITs (148 bytes, random content, a valid mac1 for the server key argv[5] hex, so that the
# server has to try each handshake), from 16 source ports. Prints "start", then
# "done <sent> <seconds> <first two reply bytes in hex>=<count>..." (f103: cookies, which
# show that the mac1 was right).
FLOOD = r"""
import hashlib, os, random, select, socket, sys, time
dst, port, count, secs, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), bytes.fromhex(sys.argv[5])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
for s in socks:
    s.setblocking(False)
rnd = random.Random(7)
pool = []
for i in range(512):
    if i % 2:
        init = bytearray(os.urandom(148))
        init[0:4] = b"\xf1\x01\x00\x00"
        init[116:132] = hashlib.blake2b(bytes(init[:116]), digest_size=16, key=key).digest()
        init[132:148] = bytes(16)
        pool.append(bytes(init))
    else:
        g = bytearray(os.urandom(rnd.randrange(1, 1400)))
        if i % 4 == 0:
            g[0:2] = bytes([0xF1, rnd.randrange(0, 20)])
        pool.append(bytes(g))
print("start", flush=True)
t0 = time.monotonic()
sent = 0
for i in range(count):
    due = t0 + secs * i / count
    while time.monotonic() < due:
        pass
    try:
        socks[i % 16].sendto(pool[i % 512], (dst, port))
        sent += 1
    except (BlockingIOError, OSError):
        pass
elapsed = time.monotonic() - t0
replies = {}
end = time.monotonic() + 0.5
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    for s in select.select(socks, [], [], left)[0]:
        try:
            d = s.recv(2048)
        except OSError:
            continue
        k = d[:2].hex()
        replies[k] = replies.get(k, 0) + 1
print("done", sent, "%.2f" % elapsed, " ".join("%s=%d" % kv for kv in sorted(replies.items())), flush=True)
"""


class Server:
    """One tincand: its host, state directory, key and the running process."""

    def __init__(self, world, index, addr):
        self.world = world
        self.index = index
        self.addr = addr
        self.host = world.lab.host(f"srv{index + 1}")
        world.lab.link(self.host, world.inet, addr4=f"{addr}/24")
        self.state = os.path.join(world.tmp, f"srv{index + 1}")
        os.makedirs(self.state)
        r = world.lab.run(self.host, [world.tincand, "-s", self.state, "--init"])
        m = re.search(r"^id (tc\S+)$", r.stdout, re.M)
        if not m:
            raise Fail(f"tincand --init printed no id: {r.stdout!r}")
        self.server_id = m.group(1)
        self.pk = None
        self.proc = None
        self.runs = 0

    def start(self, probe_host):
        """Start the daemon and wait until it answers STUN from probe_host."""
        self.runs += 1
        self.proc = self.world.lab.spawn(
            self.host, [self.world.tincand, "-d", "-v", "-s", self.state, "-l",
                        f"{self.addr}:{self.world.port}"], name=f"tincand{self.index + 1}-{self.runs}")
        # A daemon still replaying its state (slow under the sanitizers) does not answer yet,
        # and turnutils_stunclient then waits on its own: each probe is cut at 2 s.
        deadline = time.monotonic() + 30
        while True:
            if self.proc.popen.poll() is not None:
                raise Fail(f"tincand {self.addr} exited {self.proc.popen.poll()}\n{self.proc.tail()}")
            r = self.world.lab.run(probe_host, ["timeout", "2", "turnutils_stunclient", "-p",
                                                str(self.world.port), self.addr],
                                   check=False, timeout=10)
            if "reflexive addr" in r.stdout:
                return r.stdout
            if time.monotonic() > deadline:
                raise Fail(f"tincand {self.addr} does not answer STUN within 30 s\n"
                           f"{self.proc.tail()}")

    def sigkill(self):
        self.proc.kill(signal.SIGKILL)
        rc = self.proc.wait(10)
        if rc != -signal.SIGKILL:
            raise Fail(f"tincand {self.addr}: status {rc} after SIGKILL")

    def stderr(self):
        with open(self.proc.err_path, errors="replace") as f:
            return f.read()


class World:
    """The lab of e2e_rdv: switch "internet" without multicast, servers and client hosts."""

    def __init__(self, lab, tincand, tmp, net, clients, servers, port):
        self.lab = lab
        self.tincand = tincand
        self.tmp = tmp
        self.port = port
        self.inet = lab.switch("internet")
        # The internet carries no broadcast or multicast datagrams: no LAN beacons between
        # the hosts (ARP and neighbour discovery still pass). A table of our own, so that
        # netlab's loss/block table is left alone.
        lab.run(self.inet, ["nft", "-f", "-"], input=(
            "table bridge rdvlab {\n chain forward {\n"
            "  type filter hook forward priority -10; policy accept;\n"
            "  meta pkttype { broadcast, multicast } meta l4proto udp drop\n }\n}\n"))
        self.hosts = {}
        for name, addr in clients.items():
            h = lab.host(name)
            lab.link(h, self.inet, addr4=f"{addr}/24")
            self.hosts[name] = h
        self.servers = [Server(self, i, a) for i, a in enumerate(servers)]
        for s in self.servers:
            s.pk = _pk_of(s.server_id)

    def start_server(self, i, probe="alice"):
        s = self.servers[i]
        s.start(self.hosts[probe])
        return s

    def stun_check(self, client, i):
        """A standard STUN client (coturn's turnutils_stunclient) gets its own address back
        from the real daemon (its port is its own ephemeral one: not known here)."""
        s = self.servers[i]
        h = self.hosts[client]
        r = self.lab.run(h, ["turnutils_stunclient", "-p", str(self.port), "-L", h.addr4,
                             s.addr], check=False, timeout=15)
        m = re.search(r"UDP reflexive addr: ([0-9.]+):(\d+)", r.stdout)
        if not m:
            raise Fail(f"turnutils_stunclient against {s.addr}: {r.stdout!r} {r.stderr!r}")
        if m.group(1) != h.addr4 or not 0 < int(m.group(2)) < 65536:
            raise Fail(f"STUN mapped address {m.group(1)}:{m.group(2)}, want {h.addr4}")
        return m.group(1), int(m.group(2))

    def sniffer(self, client, i):
        h = self.hosts[client]
        p = self.lab.spawn(h, [sys.executable, "-c", SNIFFER, self.servers[i].addr, h.addr4,
                               h.ifaces[0]], name=f"sniff-{client}")
        p.expect(r"^ready$", 10)
        return p

    def flood(self, client, i, count, secs):
        s = self.servers[i]
        return self.lab.spawn(self.hosts[client],
                              [sys.executable, "-c", FLOOD, s.addr, str(self.port), str(count),
                               str(secs), mac1_key(s.pk).hex()], name=f"flood-{client}")


def _pk_of(ident):
    import base64
    raw = base64.b32decode(ident[2:].upper())
    return raw[:32]


if __name__ == "__main__":
    sys.exit("rdvlab.py: a helper of e2e_rdv.py; import it")
