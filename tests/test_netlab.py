#!/usr/bin/env python3
"""test_netlab.py: checks the namespace lab: links, ping, loss, blocking, processes, cleanup."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netlab  # noqa: E402

PREFIX = "nlt"
failures = []
crash_logdirs = []


def check(cond, what):
    if not cond:
        failures.append(what)
        sys.__stderr__.write(f"FAIL: {what}\n")


def netns_with(prefix):
    return [n for n in netlab._netns_list() if n.startswith(prefix)]


def root_links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def alive(pid, start):
    return netlab._start_time(pid, running=True) == start


# A UDP receiver: prints "ready", then "got <text>" per datagram. argv: bind address, port,
# and optionally a multicast group to join.
UDP_RECV = textwrap.dedent(r"""
    import socket, struct, sys
    addr, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if len(sys.argv) > 3:
        mreq = struct.pack("4s4s", socket.inet_aton(sys.argv[3]), socket.inet_aton("0.0.0.0"))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    print("ready", flush=True)
    while True:
        print("got " + s.recv(2048).decode(), flush=True)
""")

UDP_SEND = "import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(" \
    "sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))"


def test_lab():
    before = root_links()
    with netlab.Lab(PREFIX, timeout=60) as lab:
        sw = lab.switch("sw")
        a, b = lab.host("a"), lab.host("b")
        lab.link(a, sw, addr4="10.99.0.1/24", addr6="fd99::1/64")
        lab.link(b, sw, addr4="10.99.0.2/24", addr6="fd99::2/64")
        names = list(lab.netns)
        check(all(len(n) <= 15 for n in names), f"namespace names <= 15: {names}")
        check(set(netns_with(lab.tag)) == set(names), "namespaces exist while open")
        ours = {i for n in (a, b, sw) for i in n.ifaces} | {netlab.Switch.BRIDGE}
        check(not (root_links() - before) & ours, "root namespace has none of our interfaces")
        for node in (a, b, sw):
            check(all(len(i) <= 15 for i in node.ifaces), f"ifnames <= 15: {node.ifaces}")
        check(a.addr4 == "10.99.0.1" and b.addr6 == "fd99::2", "addresses recorded")

        # Reachability, both families.
        check(lab.ping(a, b.addr4, count=3) == 3, "ping IPv4")
        check(lab.ping(a, b.addr6, count=3) == 3, "ping IPv6")
        lo = lab.run(b, ["ip", "-o", "link", "show", "lo"]).stdout
        check("UP" in lo, "loopback up")

        # Multicast across the bridge: the send finds a route, the receiver gets it.
        rx = lab.spawn(b, [sys.executable, "-c", UDP_RECV, "0.0.0.0", "5007", "239.9.9.9"],
                       name="mcast-rx")
        rx.expect("^ready$", 5)
        lab.run(a, [sys.executable, "-c", UDP_SEND, "239.9.9.9", "5007", "hello-mc"])
        check(rx.expect("^got (.*)$", 5).group(1) == "hello-mc", "multicast delivered")
        rx.kill()
        check(rx.wait(5) == -signal.SIGTERM, "kill/wait reports the signal")
        # IPv6 multicast beyond link scope needs the ff00::/8 route; no scope id given.
        lab.run(a, [sys.executable, "-c", "import socket; socket.socket(socket.AF_INET6, "
                    "socket.SOCK_DGRAM).sendto(b'x', ('ff05::114', 5007))"])

        # 20% loss on frames from a's port: 500 fast pings lose 10..30%.
        lab.loss(sw, a, 20)
        got = lab.ping(a, b.addr4, count=500, interval=0.002, wait=1.0)
        lost = (500 - got) / 5
        check(10 <= lost <= 30, f"20% loss measured as {lost:.1f}%")
        lab.loss(sw, a, 0)
        check(lab.ping(a, b.addr4, count=20, interval=0.002) == 20, "loss removed")

        # Blackholing a port, all traffic or UDP only.
        lab.block(sw, a)
        check(lab.ping(a, b.addr4, count=2, wait=0.3) == 0, "blocked port drops ping")
        lab.unblock(sw, a)
        check(lab.ping(a, b.addr4, count=2) == 2, "unblocked port passes ping")
        udp = lab.spawn(b, [sys.executable, "-c", UDP_RECV, b.addr4, "5008"], name="udp-rx")
        udp.expect("^ready$", 5)
        lab.block(sw, a, proto="udp")
        lab.run(a, [sys.executable, "-c", UDP_SEND, b.addr4, "5008", "dropped"])
        check(lab.ping(a, b.addr4, count=2) == 2, "UDP block lets ICMP through")
        try:
            udp.expect("^got", 0.5)
            check(False, "UDP block drops UDP")
        except netlab.ExpectTimeout as e:
            check("ready" in str(e), "timeout message carries the output tail")
        lab.unblock(sw, a)
        lab.run(a, [sys.executable, "-c", UDP_SEND, b.addr4, "5008", "passed"])
        check(udp.expect("^got (.*)$", 5).group(1) == "passed", "UDP after unblock")

        # spawn/send/expect on a line-oriented process; stderr goes to a file.
        p = lab.spawn(b, ["sh", "-c", "echo ready; echo oops >&2; "
                          "while read l; do echo got:$l; done"], env={"NETLAB_T": "1"})
        p.expect(r"^ready$", 5)
        p.send("hello")
        check(p.expect(r"^got:(\w+)$", 5).group(1) == "hello", "send/expect")
        check(p.lines == ["ready", "got:hello"], f"lines: {p.lines}")
        try:
            p.expect("never", 0.2)
            check(False, "expect times out")
        except netlab.ExpectTimeout as e:
            check("got:hello" in str(e), "timeout message has last lines")
        with open(p.err_path) as f:
            check(f.read() == "oops\n", "stderr in its own file")
        p.close_stdin()
        check(p.wait(5) == 0, "process ends at EOF")
        try:
            p.expect("more", 5)
            check(False, "expect after exit raises")
        except netlab.ExpectTimeout as e:
            check("ended" in str(e), "expect reports exit")

        # Left running: close() must kill it, and a daemon that left its process group.
        sleeper = lab.spawn(a, ["sleep", "100"])
        daemon = lab.spawn(a, ["sh", "-c", "setsid sleep 100 </dev/null >/dev/null 2>&1 & "
                               "echo $!"], name="daemonizer")
        dpid = int(daemon.expect(r"^(\d+)$", 5).group(1))
        dstart = netlab._start_time(dpid)
        check(daemon.wait(5) == 0 and alive(dpid, dstart), "daemon outlives its parent")
        tag, logdir, state = lab.tag, lab.logdir, lab.state_path
    check(not netns_with(tag), "no namespace left after close")
    check(not alive(sleeper.pid, sleeper.start), "spawned process killed")
    check(wait_gone(tag, dpid, dstart, 1), "process that left its group killed")
    check(not os.path.exists(state), "state file removed")
    check(not os.path.exists(logdir), "logs removed after success")
    check(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "SIGTERM handler restored")


def test_exception_and_deadline():
    stderr, sys.stderr = sys.stderr, io.StringIO()  # "logs kept" notes are expected here
    try:
        exception_and_deadline()
    finally:
        sys.stderr = stderr


def exception_and_deadline():
    try:
        with netlab.Lab(PREFIX) as lab:
            lab.host("x")
            tag = lab.tag
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    check(not netns_with(tag), "cleaned after an exception")
    check(os.path.isdir(lab.logdir), "logs kept after a failure")
    subprocess.run(["rm", "-rf", lab.logdir])

    try:
        with netlab.Lab(PREFIX, timeout=0.3) as lab:
            lab.host("x")
            tag = lab.tag
            time.sleep(5)
        check(False, "deadline fires")
    except netlab.LabTimeout:
        pass
    check(not netns_with(tag), "cleaned after the deadline")
    subprocess.run(["rm", "-rf", lab.logdir])


# A child that builds a lab, reports it, then waits to be killed.
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import netlab
    lab = netlab.Lab(sys.argv[2], reaper=sys.argv[3] == "1")
    lab.link(lab.host("h"), lab.switch("s"), addr4="10.98.0.1/24")
    p = lab.spawn("h", ["sleep", "100"])
    print(lab.tag, p.pid, p.start, lab.logdir, flush=True)
    time.sleep(100)
""")


def child_lab(reaper):
    c = subprocess.Popen([sys.executable, "-c", CHILD, HERE, PREFIX, "1" if reaper else "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    tag, pid, start, logdir = c.stdout.readline().split()
    check(len(netns_with(tag)) == 2, "child lab is up")
    crash_logdirs.append(logdir)  # a killed lab keeps its logs, for post-mortems
    return c, tag, int(pid), int(start)


def wait_gone(tag, pid, start, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not netns_with(tag) and not alive(pid, start):
            return True
        time.sleep(0.05)
    return False


def test_crashes():
    # SIGTERM: the handler cleans up before the process dies of the signal.
    c, tag, pid, start = child_lab(True)
    c.send_signal(signal.SIGTERM)
    check(c.wait(10) == -signal.SIGTERM, "child dies of SIGTERM")
    check(wait_gone(tag, pid, start, 0.5), "cleaned on SIGTERM")

    # SIGINT: same, through KeyboardInterrupt.
    c, tag, pid, start = child_lab(True)
    c.send_signal(signal.SIGINT)
    c.wait(10)
    check(wait_gone(tag, pid, start, 0.5), "cleaned on SIGINT")

    # SIGKILL: nothing runs in the child; its reaper notices and cleans up.
    c, tag, pid, start = child_lab(True)
    c.kill()
    c.wait(10)
    check(wait_gone(tag, pid, start, 5), "reaper cleaned after SIGKILL")

    # SIGKILL without a reaper: the next lab with the prefix removes the stale one.
    c, tag, pid, start = child_lab(False)
    c.kill()
    c.wait(10)
    check(len(netns_with(tag)) == 2, "stale lab left behind")
    with netlab.Lab(PREFIX):
        check(wait_gone(tag, pid, start, 0.1), "stale lab removed at start")
    for d in crash_logdirs:
        subprocess.run(["rm", "-rf", d])


def main():
    if os.geteuid() != 0:
        print("netlab: needs root, skipped")
        return 77
    t0 = time.monotonic()
    test_lab()
    test_exception_and_deadline()
    test_crashes()
    check(not netns_with(PREFIX), "no namespace with the prefix remains")
    took = time.monotonic() - t0
    if failures:
        print(f"netlab: {len(failures)} checks failed ({took:.1f} s)")
        return 1
    print(f"netlab: all checks passed ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
