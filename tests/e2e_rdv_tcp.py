#!/usr/bin/env python3
"""e2e_rdv_tcp.py: the rendezvous client over TCP when UDP is blocked: a real tincand and two
real headless clients in network namespaces.

    python3 tests/e2e_rdv_tcp.py build/tincan build/tincand [--count 50]

alice's namespace drops every UDP packet, in and out (nft). She registers (pinning the
server's key on first use, so the key request goes over TCP too) and must say "over TCP";
bob, on plain UDP, must not. alice adds bob, bob accepts; bob leaves; alice sends 50
messages that go sealed to bob's mailbox through her TCP stream; bob comes back and gets each
once, in order, and alice gets `delivered` for each. Then tincand is SIGKILLed and restarted:
alice logs in again over TCP within a bounded wait. Root only. Every wait is bounded; on
failure the reason is printed, the logs are kept and the exit status is 1.
"""

import argparse
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdvlab  # noqa: E402
from e2e_lan import Fail  # noqa: E402
from e2e_rdv import Client  # noqa: E402

NET = "10.98.0."
SRV = NET + "1"
FAKE = NET + "9"
ADDRS = {"alice": NET + "11", "bob": NET + "12"}
PORT = 7787
OVER_TCP = "over TCP"

# alice's own firewall: no UDP at all, either way; the counters show that it was tried.
BLOCK_UDP = """table inet noudp {
 chain in {
  type filter hook input priority 0; policy accept;
  meta l4proto udp counter drop
 }
 chain out {
  type filter hook output priority 0; policy accept;
  meta l4proto udp counter drop
 }
}
"""


# Runs on the fake server's host: a TCP listener on argv[1]:argv[2] that answers the first
# frame of each of its connections with one bad frame length (0, then 65535, more than the
# largest packet) and reports when the client has closed the connection.
FAKE_SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print("ready", flush=True)
for i, bad in enumerate([b"\x00\x00", b"\xff\xff"]):
    c, _ = s.accept()
    c.settimeout(15)
    first = c.recv(2 + 64)
    print("conn", i, first[:4].hex(), flush=True)
    c.sendall(bad)
    try:
        while c.recv(4096):
            pass
        print("closed", i, flush=True)
    except OSError as e:
        print("closed", i, e, flush=True)
    c.close()
"""


def tcp_infos(c):
    return [f for f in c.events("info") if OVER_TCP in " ".join(f)]


def udp_drops(lab, host):
    """Packets alice's rules dropped (in, out)."""
    r = lab.run(host, ["nft", "list", "table", "inet", "noudp"])
    counts = [int(n) for n in re.findall(r"counter packets (\d+)", r.stdout)]
    if len(counts) != 2:
        raise Fail(f"nft counters: {r.stdout!r}")
    return counts[0], counts[1]


def register(c, name):
    c.send(f"/register {name}@{SRV}")
    c.expect("registered", lambda f: f[0] == f"{name}@{SRV}", 30, f"registered {name}@{SRV}")
    c.expect("login", lambda f: f[0] == SRV, 20, f"login {SRV}")


def phase_login(lab, alice, bob):
    t = time.monotonic()
    register(alice, "alice")
    took = time.monotonic() - t
    alice.wait(lambda s: tcp_infos(s), 10, "alice: an info line saying 'over TCP'")
    register(bob, "bob")
    if tcp_infos(bob):
        raise Fail(f"bob is on UDP but says {tcp_infos(bob)[0]}")
    err = alice.stderr()
    for want in ("trying TCP", "TCP connected", "the session uses TCP"):
        if want not in err:
            raise Fail(f"alice: no debug line with {want!r} for the switch to TCP")
    drops = udp_drops(lab, alice.proc.host)
    if drops[1] == 0:
        raise Fail("alice's UDP output rule dropped nothing: UDP was never tried")
    return took, drops


def wait_log(c, pattern, timeout, what):
    """Wait (bounded) for a line matching pattern in c's debug log (stderr)."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, c.stderr(), re.M):
        if c.proc.popen.poll() is not None or time.monotonic() > deadline:
            raise Fail(f"{c.label}: {what}: not in its log within {timeout:g} s")
        time.sleep(0.1)


def phase_contact(alice, bob):
    alice.send(f"/add bob@{SRV} hello bob, alice over TCP")
    alice.expect("added", lambda f: f[0] == bob.id, 20, "added bob")
    bob.expect("request", lambda f: f[0] == alice.id, 20, "request from alice")
    bob.send(f"/accept {alice.id}")
    # bob's presence reaches alice through her stream. No direct path exists without UDP
    # (and no relay yet), so there is no "online" event: her debug log shows the push.
    wait_log(alice, re.escape(bob.id) + r": presence [1-9]", 30, "bob's presence pushed")


def phase_bad_frames(lab, world, alice):
    """A "server" that only TCP reaches and that sends a frame length of 0, then of 65535:
    alice closes each connection, says why in her log, and connects again after a back-off."""
    fake = lab.spawn(world.fake, [sys.executable, "-c", FAKE_SERVER, FAKE, str(PORT)],
                     name="fake-server")
    fake.expect(r"^ready$", 10)
    alice.send(f"/add nobody@{FAKE} are you a server?")
    t = time.monotonic()
    for i in range(2):
        m = fake.expect(rf"^conn {i} (\S+)$", 20)
        if m.group(1) != "0040f110":
            raise Fail(f"fake server: connection {i} began {m.group(1)}, want a KEYREQ frame")
        fake.expect(rf"^closed {i}", 10)
    took = time.monotonic() - t
    wait_log(alice, r"rendezvous " + re.escape(FAKE) + r":\d+: TCP: bad frame length(.|\n)*"
             r"rendezvous " + re.escape(FAKE) + r":\d+: TCP: bad frame length", 10,
             "two 'bad frame length' lines")
    fake.kill()
    fake.wait(5)
    return took


def phase_mailbox(alice, bob, client, count):
    bob.quit()
    wait_log(alice, re.escape(bob.id) + r": presence 0", 20, "bob offline pushed")
    token = "tcpmail" + os.urandom(4).hex()
    alice.send(*[f"/msg {bob.id} {token} {k}" for k in range(1, count + 1)])
    alice.wait(lambda s: len([f for f in s.ev["mailbox"] if f[0] == bob.id]) >= count, 60,
               f"alice: {count} mailbox events",
               lambda s: f"{len(s.ev['mailbox'])} so far")
    queued = alice.sync().queued[bob.id][-count:]
    bob2 = client("bob", 1)
    bob2.expect("login", lambda f: f[0] == SRV, 20, "login")
    got = bob2.wait(lambda s: len(s.msgs[alice.id, token]) >= count and s.msgs[alice.id, token],
                    60, f"bob: {count} messages from the mailbox",
                    lambda s: f"{len(s.msgs[alice.id, token])} so far")
    if [t for _, t in got] != [f"{token} {k}" for k in range(1, count + 1)]:
        raise Fail(f"bob: mailbox messages out of order or repeated: {len(got)} shown")
    if [m for m, _ in got] != queued:
        raise Fail(f"bob: msgids {[m for m, _ in got][:3]}.. for queued {queued[:3]}..")
    if len(bob2.sync().msgs[alice.id, token]) != count:
        raise Fail(f"bob: {len(bob2.msgs[alice.id, token])} messages shown, want {count}")
    return bob2, queued


def phase_delivered(lab, alice, bob, queued):
    """The receiver's acknowledgements travel on a session between the two clients: with
    alice's UDP blocked, through the rendezvous relay over her TCP stream. Each message is
    then delivered exactly once, whatever the restart did, and both see the path as relay."""
    before = sum(1 for m in queued if alice.sync().delivered[bob.id][m])
    alice.wait(lambda s: all(s.delivered[bob.id][m] >= 1 for m in queued), 60,
               f"alice: delivered for {len(queued)}",
               lambda s: f"{sum(1 for m in queued if s.delivered[bob.id][m])} so far")
    for me, other in ((bob, alice), (alice, bob)):
        f = me.expect("online", lambda f: f[0] == other.id, 30, f"{other.name} online")
        if f[1] != "relay":
            raise Fail(f"{me.label}: {other.name} online on path {f[1]!r}, want relay")
    extra = [m for m in queued if alice.sync().delivered[bob.id][m] != 1]
    if extra:
        raise Fail(f"alice: delivered more than once: {extra[:10]}")
    return before


def phase_restart(world, srv, alice):
    logins = len(alice.events("login"))
    infos = len(tcp_infos(alice))
    before = len(alice.stderr())
    srv.sigkill()
    killed = time.monotonic()
    srv.start(world.hosts["bob"])
    alice.wait(lambda s: len(s.ev["login"]) > logins, 45, "alice: login again after the restart")
    relogin = time.monotonic() - killed
    alice.wait(lambda s: len(tcp_infos(s)) > infos, 10, "alice: 'over TCP' for the new session")
    # The killed daemon's socket ends with a FIN, or with an RST when data was in flight.
    if not re.search(r"TCP: (closed by the server|Connection reset by peer)",
                     alice.stderr()[before:]):
        raise Fail("alice: no log line saying why the TCP stream ended")
    return relogin


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tincan")
    ap.add_argument("tincand")
    ap.add_argument("--count", type=int, default=50)
    args = ap.parse_args()
    tincan, tincand = os.path.abspath(args.tincan), os.path.abspath(args.tincand)

    def body(lab, tmp):
        world = rdvlab.World(lab, tincand, tmp, NET, ADDRS, [SRV], PORT)
        world.fake = lab.host("fake")
        lab.link(world.fake, world.inet, addr4=f"{FAKE}/24")
        srv = world.start_server(0, "bob")
        lab.run(world.hosts["alice"], ["nft", "-f", "-"], input=BLOCK_UDP)
        homes = {n: os.path.join(tmp, n) for n in ADDRS}
        for h in homes.values():
            os.makedirs(h)

        def client(name, run=0):
            return Client(lab, world.hosts[name], name, tincan, homes[name], run)

        alice, bob = client("alice"), client("bob")
        took, drops = phase_login(lab, alice, bob)
        print(f"login: alice (no UDP) registered over TCP in {took:.1f} s "
              f"({drops[1]} UDP packets dropped on the way out, {drops[0]} in); "
              f"bob stayed on UDP")
        took = phase_bad_frames(lab, world, alice)
        print(f"bad frames: frame lengths 0 and 65535 closed alice's connection each time; "
              f"she connected again ({took:.1f} s for both)")
        stamp = time.monotonic()
        phase_contact(alice, bob)
        print(f"contact: alice added bob, bob accepted, his presence reached alice "
              f"({time.monotonic() - stamp:.1f} s)")
        stamp = time.monotonic()
        bob, queued = phase_mailbox(alice, bob, client, args.count)
        print(f"mailbox: {args.count} messages from alice over TCP to bob's mailbox, each "
              f"shown once in order ({time.monotonic() - stamp:.1f} s)")
        relogin = phase_restart(world, srv, alice)
        print(f"restart: tincand SIGKILLed and restarted; alice logged in again over TCP "
              f"{relogin:.1f} s after the kill")
        stamp = time.monotonic()
        before = phase_delivered(lab, alice, bob, queued)
        print(f"delivered: {before} at first; then, through the relay over alice's TCP "
              f"stream (both see path relay), once for each of the {args.count} "
              f"({time.monotonic() - stamp:.1f} s)")
        for c in (alice, bob):
            c.quit()
        srv.proc.kill(signal.SIGTERM)
        rc = srv.proc.wait(15)
        if rc != 0 or "Sanitizer" in srv.stderr() or "runtime error" in srv.stderr():
            raise Fail(f"tincand: status {rc} after SIGTERM\n{srv.proc.tail()}")

    return rdvlab.lab_main("e2e_rdv_tcp", "rtcp", 150, body, (Fail,))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
