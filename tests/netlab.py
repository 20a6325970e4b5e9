#!/usr/bin/env python3
"""netlab.py: network-namespace lab for end-to-end tests: hosts, bridges, loss, processes.

Everything a lab makes lives in namespaces it creates and deletes again, whatever happens:
on leaving `with`, at exit, on SIGTERM/SIGINT, on its deadline, and after a SIGKILL through
a reaper process that notices its death; a crashed lab with the same prefix is removed when
the next one starts. Nothing is created in the root namespace. Root only; stdlib only.

    with Lab("e2e") as lab:
        sw, a, b = lab.switch("lan"), lab.host("a"), lab.host("b")
        lab.link(a, sw, addr4="10.0.0.1/24", addr6="fd00::1/64")
        lab.link(b, sw, addr4="10.0.0.2/24")
        lab.loss(sw, a, 20)                 # drop 20% of frames a sends into the switch
        lab.spawn(b, ["tincan", "--headless"]).expect(r"^ready (\\S+)")
"""

import atexit
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

STATE_DIR = "/run/netlab"
TAIL_LINES = 30

_lock = threading.RLock()
_labs = []            # open labs, for atexit and signal cleanup
_prev_handlers = {}   # signal -> handler in place before the first lab
_seq = 0              # labs made by this process, part of each lab's tag


class LabError(Exception):
    """A lab command failed."""


class ExpectTimeout(AssertionError):
    """Proc.expect() did not see its pattern in time, or the process ended first."""


class LabTimeout(Exception):
    """The lab's own deadline (Lab(timeout=...)) passed."""


def _b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _start_time(pid, running=False):
    """Start time of pid in clock ticks (to tell a reused pid apart), or None; with
    running=True also None for a zombie (dead, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    if running and fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def _sh(argv, check=True, input=None, timeout=30):
    r = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def _kill_group(pid, start, sig):
    """Signal the process group led by pid, if pid is still the process we started."""
    if _start_time(pid) != start:
        return False
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _netns_list():
    return os.listdir("/run/netns") if os.path.isdir("/run/netns") else []


def _kill_netns_procs(names):
    """SIGKILL every process living in these namespaces (daemons that forked away too)."""
    inodes = set()
    for n in names:
        try:
            inodes.add(os.stat(f"/run/netns/{n}").st_ino)
        except OSError:
            pass
    for pid in (int(d) for d in os.listdir("/proc") if d.isdigit()) if inodes else ():
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _delete_netns(names):
    existing = set(_netns_list())
    names = [n for n in names if n in existing]
    _kill_netns_procs(names)
    if names:
        _sh(["ip", "-force", "-batch", "-"], check=False,
            input="".join(f"netns del {n}\n" for n in names))


def _reap_state(path):
    """Undo what a state file records: kill its processes, delete its namespaces."""
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return
    for pid, start in state.get("procs", []):
        _kill_group(pid, start, signal.SIGKILL)
    _delete_netns(state.get("netns", []))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove_stale(prefix):
    """Remove labs of this prefix whose owner process is gone (crashed, SIGKILLed)."""
    try:
        names = os.listdir(STATE_DIR)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(STATE_DIR, name)
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            continue
        if state.get("prefix") != prefix:
            continue
        if _start_time(state.get("pid", 0), running=True) == state.get("start"):
            continue  # still running: someone else's live lab
        _reap_state(path)


def _close_all(failed=False):
    with _lock:
        labs = list(_labs)
    for lab in labs:
        lab.failed = lab.failed or failed  # keep the logs of a lab that was interrupted
        lab.close()


def _on_signal(signum, frame):
    prev = _prev_handlers.get(signum, signal.SIG_DFL)
    _close_all(failed=True)
    signal.signal(signum, prev)
    if callable(prev):
        prev(signum, frame)  # e.g. Python's SIGINT handler raising KeyboardInterrupt
    elif prev != signal.SIG_IGN:
        os.kill(os.getpid(), signum)


def _on_alarm(signum, frame):
    raise LabTimeout("lab deadline passed")


atexit.register(_close_all)


class Node:
    """A namespace: a host, or the home of a switch's bridge."""

    def __init__(self, lab, name, ns):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.ifaces = []      # interface names in this namespace, in link order
        self.addrs4 = []      # addresses without prefix length, in link order
        self.addrs6 = []

    @property
    def addr4(self):
        return self.addrs4[0] if self.addrs4 else None

    @property
    def addr6(self):
        return self.addrs6[0] if self.addrs6 else None


class Host(Node):
    pass


class Switch(Node):
    BRIDGE = "br0"

    def __init__(self, lab, name, ns):
        super().__init__(lab, name, ns)
        self.ports = {}       # host name -> port interface name in this namespace
        self.filters = {}     # port -> {"in": percent, "out": percent, "block": proto|"all"}


# One veth pair: node a's interface a_if to node b's interface b_if.
Link = collections.namedtuple("Link", "a a_if b b_if")


class Proc:
    """A process in a namespace, its stdout read line by line by a thread."""

    def __init__(self, lab, host, argv, env=None, stdin=subprocess.PIPE, name=None):
        self.lab = lab
        self.host = host
        self.argv = list(argv)
        self.name = name or f"{host.name}-{os.path.basename(self.argv[0])}"
        base = os.path.join(lab.logdir, f"{len(lab.procs):02d}-{self.name}")
        self.out_path = base + ".out"
        self.err_path = base + ".err"
        self.lines = []
        self._pos = 0
        self._eof = False
        self._cond = threading.Condition()
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                ["ip", "netns", "exec", host.ns] + self.argv, stdin=stdin,
                stdout=subprocess.PIPE, stderr=err, env=full_env, start_new_session=True)
        self.pid = self.popen.pid
        self.start = _start_time(self.pid)
        self._out = open(self.out_path, "w")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for raw in iter(self.popen.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self._out.write(line + "\n")
                self._out.flush()
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def send(self, line):
        """Write one line to the process's stdin."""
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def close_stdin(self):
        if self.popen.stdin and not self.popen.stdin.closed:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    def tail(self, n=TAIL_LINES):
        """The last n lines of stdout and of stderr, for error messages."""
        with self._cond:
            out = self.lines[-n:]
        with open(self.err_path, errors="replace") as f:
            err = f.read().splitlines()[-n:]
        return (f"--- {self.name} stdout (last {len(out)} lines)\n" + "\n".join(out) +
                f"\n--- {self.name} stderr (last {len(err)} lines)\n" + "\n".join(err))

    def expect(self, regex, timeout=10.0):
        """Wait for a line after the last one matched that matches regex (re.search);
        return the match. Raises ExpectTimeout with the output's tail on timeout or EOF."""
        pat = re.compile(regex) if isinstance(regex, str) else regex
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._pos < len(self.lines):
                    m = pat.search(self.lines[self._pos])
                    self._pos += 1
                    if m:
                        return m
                if self._eof:
                    why = f"ended (status {self.popen.poll()})"
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f"timed out after {timeout:g} s"
                    break
                self._cond.wait(left)
        raise ExpectTimeout(f"{self.name}: {why} waiting for /{pat.pattern}/\n{self.tail()}")

    def kill(self, sig=signal.SIGTERM):
        """Signal the process and everything it started (its own process group)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout=10.0):
        """Wait for exit; return the exit status (negative: killed by that signal)."""
        rc = self.popen.wait(timeout)
        self._thread.join(timeout)
        return rc

    def _finish(self):
        self.close_stdin()
        self._thread.join(1)
        self.popen.stdout.close()
        self._out.close()


# Sends count ICMP echo requests from inside a namespace, prints "sent N received M".
# Uses ping sockets (the kernel fills in the identifier and the checksum).
_PING = r"""
import select, socket, struct, sys, time
dst, count, interval, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
v6 = ":" in dst
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM,
    socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
seen = set()
def drain(until):
    while len(seen) < count:
        left = until - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]: return
        p = s.recv(2048)
        if len(p) >= 8 and p[0] == (129 if v6 else 0): seen.add(struct.unpack("!H", p[6:8])[0])
for q in range(count):
    try: s.sendto(struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, 0, q) + b"netlab!!", (dst, 0))
    except OSError: pass
    drain(time.monotonic() + interval)
drain(time.monotonic() + wait)
print("sent %d received %d" % (count, len(seen)))
"""


class Lab:
    """A set of namespaces, links and processes that is always removed again."""

    def __init__(self, prefix, timeout=None, reaper=True):
        global _seq
        if not re.fullmatch(r"[a-z][a-z0-9]{0,4}", prefix):
            raise ValueError("prefix: 1-5 characters, a-z then a-z0-9")
        if os.geteuid() != 0:
            raise LabError("netlab needs root")
        with _lock:
            seq = _seq
            _seq += 1
        self.prefix = prefix
        # prefix "." pid seq: unique among labs of every prefix; "-" never occurs in it.
        self.tag = f"{prefix}.{_b36(os.getpid())}{_b36(seq % 36)}"
        self.nodes = {}       # name -> Host or Switch
        self.netns = []       # namespace names, in creation order
        self.procs = []
        self.closed = False
        self.failed = False
        self._reaper = None
        self._reaper_fd = None
        self._timer = None    # SIGALRM handler to restore, when a deadline is set

        _remove_stale(prefix)
        os.makedirs(STATE_DIR, exist_ok=True)
        self.state_path = os.path.join(STATE_DIR, f"{self.tag}.json")
        self.logdir = tempfile.mkdtemp(prefix=f"netlab-{self.tag}-")
        self._save()
        with _lock:
            _labs.append(self)
        self._install_signals()
        if reaper:
            self._start_reaper()
        if timeout:
            if threading.current_thread() is not threading.main_thread():
                self.close()
                raise ValueError("timeout: only for a lab made in the main thread")
            prev = signal.signal(signal.SIGALRM, _on_alarm)
            self._timer = signal.SIG_DFL if prev is None else prev
            signal.setitimer(signal.ITIMER_REAL, timeout)

    def _save(self):
        """Record what must be undone before doing it, atomically."""
        state = {"prefix": self.prefix, "pid": os.getpid(), "start": _start_time(os.getpid()),
                 "netns": self.netns, "procs": [[p.pid, p.start] for p in self.procs]}
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_path)

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            cur = signal.getsignal(sig)
            if cur is not _on_signal:
                _prev_handlers[sig] = cur
                signal.signal(sig, _on_signal)

    def _restore_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return
        with _lock:
            if _labs:
                return
        for sig, prev in list(_prev_handlers.items()):
            if signal.getsignal(sig) is _on_signal:
                signal.signal(sig, prev)
            del _prev_handlers[sig]

    def _start_reaper(self):
        """A process in its own session that cleans up if this one dies without doing so
        (SIGKILL): it waits for EOF on a pipe only this process holds."""
        r, w = os.pipe()
        try:
            self._reaper = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--reap", self.state_path],
                stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            os.close(r)
        self._reaper_fd = w

    def _new_ns(self, cls, name):
        if name in self.nodes:
            raise ValueError(f"{name}: already in this lab")
        ns = f"{self.tag}-{name}"
        if len(ns) > 15 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
            ns = f"{self.tag}-{len(self.netns)}"  # a digit first: never a node's name
        node = cls(self, name, ns)
        self.netns.append(ns)
        self._save()
        _sh(["ip", "netns", "add", ns])
        self.nodes[name] = node
        _sh(["ip", "-n", ns, "link", "set", "dev", "lo", "up"])
        # No duplicate address detection: addresses are usable at once; ping sockets.
        self._sysctl(node, {"net.ipv6.conf.all.accept_dad": 0,
                            "net.ipv6.conf.default.accept_dad": 0,
                            "net.ipv4.ping_group_range": "0 2147483647"})
        return node

    def _sysctl(self, node, settings):
        script = "".join(f"echo {v} > /proc/sys/{k.replace('.', '/')}\n"
                         for k, v in settings.items())
        _sh(["ip", "netns", "exec", node.ns, "sh", "-ec", script])

    def host(self, name, forward=False):
        """A new namespace; forward=True makes it a router (IPv4 and IPv6 forwarding)."""
        h = self._new_ns(Host, name)
        if forward:
            self._sysctl(h, {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1})
        return h

    def switch(self, name):
        """A learning bridge (no STP delay, no multicast snooping) in a namespace of its own."""
        sw = self._new_ns(Switch, name)
        _sh(["ip", "-n", sw.ns, "link", "add", Switch.BRIDGE, "type", "bridge",
             "forward_delay", "0", "mcast_snooping", "0"])
        _sh(["ip", "-n", sw.ns, "link", "set", "dev", Switch.BRIDGE, "up"])
        return sw

    def _node(self, x):
        node = self.nodes.get(x) if isinstance(x, str) else x
        if node is None or node.lab is not self:
            raise ValueError(f"{x!r}: not a node of this lab")
        return node

    @staticmethod
    def _addr(node, ifname, cidr, v6):
        if not cidr:
            return
        if "/" not in cidr:
            cidr += "/64" if v6 else "/24"
        argv = ["ip", "-n", node.ns, "addr", "add", cidr, "dev", ifname]
        _sh(argv + (["nodad"] if v6 else []))
        (node.addrs6 if v6 else node.addrs4).append(cidr.split("/")[0])

    @staticmethod
    def _mcast_routes(node, ifname):
        # The first link of a host carries multicast, so that sends to 239.x.x.x or ff0x::
        # find a route even without a default route.
        _sh(["ip", "-n", node.ns, "route", "replace", "224.0.0.0/4", "dev", ifname])
        _sh(["ip", "-n", node.ns, "-6", "route", "replace", "ff00::/8", "dev", ifname,
             "table", "main"])

    def link(self, host, peer, addr4=None, addr6=None, peer_addr4=None, peer_addr6=None,
             mtu=None):
        """A veth pair from host to a switch (a bridge port) or to another host (then
        peer_addr4/peer_addr6 address the far end). Addresses are CIDR strings; IPv6 ones
        get nodad. Returns the Link; host-side interfaces are named eth0, eth1, ..."""
        host, peer = self._node(host), self._node(peer)
        if not isinstance(host, Host):
            raise ValueError("link: the first end must be a host")
        h_if = f"eth{len(host.ifaces)}"
        if isinstance(peer, Switch):
            p_if = host.name  # the port is named after the host when it can be
            if (len(p_if) > 15 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", p_if) or
                    p_if in peer.ifaces or p_if == Switch.BRIDGE):
                p_if = f"p{len(peer.ifaces)}"
        else:
            p_if = f"eth{len(peer.ifaces)}"
        argv = ["ip", "link", "add", "name", h_if, "netns", host.ns]
        if mtu:
            argv += ["mtu", str(mtu)]
        _sh(argv + ["type", "veth", "peer", "name", p_if, "netns", peer.ns])
        host.ifaces.append(h_if)
        peer.ifaces.append(p_if)
        if isinstance(peer, Switch):
            _sh(["ip", "-n", peer.ns, "link", "set", "dev", p_if, "master", Switch.BRIDGE])
            peer.ports[host.name] = p_if
        _sh(["ip", "-n", peer.ns, "link", "set", "dev", p_if, "up"])
        _sh(["ip", "-n", host.ns, "link", "set", "dev", h_if, "up"])
        self._addr(host, h_if, addr4, False)
        self._addr(host, h_if, addr6, True)
        if len(host.ifaces) == 1:
            self._mcast_routes(host, h_if)
        if isinstance(peer, Host):
            self._addr(peer, p_if, peer_addr4, False)
            self._addr(peer, p_if, peer_addr6, True)
            if len(peer.ifaces) == 1:
                self._mcast_routes(peer, p_if)
        return Link(host, h_if, peer, p_if)

    def _port(self, switch, host):
        sw = self._node(switch)
        if not isinstance(sw, Switch):
            raise ValueError(f"{sw.name}: not a switch")
        name = host if isinstance(host, str) else host.name
        if name not in sw.ports:
            raise ValueError(f"{name}: not linked to switch {sw.name}")
        return sw, sw.ports[name]

    def _apply(self, sw):
        rules = []
        for port, f in sorted(sw.filters.items()):
            block = f.get("block")
            if block:
                match = "" if block == "all" else f" meta l4proto {block}"
                rules.append(f'iifname "{port}"{match} drop')
                rules.append(f'oifname "{port}"{match} drop')
            for key, direction in (("in", "iifname"), ("out", "oifname")):
                pct = f.get(key, 0)
                if pct > 0:
                    rules.append(f'{direction} "{port}" numgen random mod 10000 < '
                                 f'{round(pct * 100)} drop')
        script = "table bridge netlab\ndelete table bridge netlab\n"
        if rules:
            script += ("table bridge netlab {\n chain forward {\n"
                       "  type filter hook forward priority 0; policy accept;\n" +
                       "".join(f"  {r}\n" for r in rules) + " }\n}\n")
        _sh(["ip", "netns", "exec", sw.ns, "nft", "-f", "-"], input=script)

    def loss(self, switch, host, percent, both=False):
        """Drop `percent` (0-100, 0 removes) of the frames the switch forwards from host's
        port; with both=True also of those it forwards to that port."""
        if not 0 <= percent <= 100:
            raise ValueError("percent: 0 to 100")
        sw, port = self._port(switch, host)
        f = sw.filters.setdefault(port, {})
        f["in"] = percent
        f["out"] = percent if both else 0
        self._apply(sw)

    def block(self, switch, host, proto=None):
        """Blackhole host's switch port both ways: everything, or only proto ("udp"/"tcp")."""
        if proto not in (None, "udp", "tcp"):
            raise ValueError("proto: None, 'udp' or 'tcp'")
        sw, port = self._port(switch, host)
        sw.filters.setdefault(port, {})["block"] = proto or "all"
        self._apply(sw)

    def unblock(self, switch, host):
        sw, port = self._port(switch, host)
        sw.filters.setdefault(port, {})["block"] = None
        self._apply(sw)

    def run(self, host, argv, check=True, timeout=30, input=None, env=None):
        """Run to completion in host's namespace; argv may be a shell command string.
        Returns subprocess.CompletedProcess (text); raises LabError if check and it fails."""
        node = self._node(host)
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        full_env = dict(os.environ)
        full_env.update(env or {})
        r = subprocess.run(["ip", "netns", "exec", node.ns] + list(argv), input=input,
                           capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and r.returncode != 0:
            raise LabError(f"{node.name}: {' '.join(argv)}: exit {r.returncode}\n"
                           f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
        return r

    def spawn(self, host, argv, env=None, stdin=subprocess.PIPE, name=None):
        """Start a process in host's namespace (env adds to the current environment).
        Its stderr goes to a file in lab.logdir; stdout is read into proc.lines."""
        node = self._node(host)
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        p = Proc(self, node, argv, env=env, stdin=stdin, name=name)
        self.procs.append(p)
        self._save()
        return p

    def ping(self, host, dst, count=1, interval=0.01, wait=1.0):
        """Send count ICMP echo requests from host to dst (IPv4 or IPv6), interval seconds
        apart, then wait up to `wait` for stragglers. Returns the number of replies."""
        r = self.run(host, [sys.executable, "-c", _PING, dst, str(count), str(interval),
                            str(wait)], timeout=count * interval + wait + 30)
        m = re.search(r"sent (\d+) received (\d+)", r.stdout)
        if not m:
            raise LabError(f"ping: unexpected output {r.stdout!r} {r.stderr!r}")
        return int(m.group(2))

    def close(self):
        """Kill every process, delete every namespace. Idempotent."""
        with _lock:
            if self.closed:
                return
            self.closed = True
        if self._timer is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._timer)
        # SIGTERM first, a short grace, then SIGKILL for the rest and for anything else
        # still inside the lab's namespaces.
        live = [p for p in self.procs if p.popen.poll() is None]
        for p in live:
            p.kill(signal.SIGTERM)
        deadline = time.monotonic() + 0.3
        for p in live:
            try:
                p.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill(signal.SIGKILL)
        _delete_netns(self.netns)
        for p in live:
            try:
                p.popen.wait(2)
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            p._finish()
        try:
            os.unlink(self.state_path)
        except FileNotFoundError:
            pass
        if self._reaper_fd is not None:
            os.close(self._reaper_fd)
            self._reaper_fd = None
            try:
                self._reaper.wait(2)
            except subprocess.TimeoutExpired:
                pass
        with _lock:
            if self in _labs:
                _labs.remove(self)
        self._restore_signals()
        if self.failed or os.environ.get("NETLAB_KEEP"):
            sys.stderr.write(f"netlab: logs kept in {self.logdir}\n")
        else:
            shutil.rmtree(self.logdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.failed = True
        self.close()
        return False


def lan_client(lab, host, tincan, name, label=None):
    """A headless LAN-mode client named name (its --home in the lab's log directory, kept
    across restarts under another label); returns its Proc with .id and .home set."""
    home = os.path.join(lab.logdir, name + "-home")
    p = lab.spawn(host, [tincan, "--headless", "--lan", "--home", home, "--nick", name],
                  env={"LC_ALL": "C.UTF-8"}, name=label or name)
    p.id = p.expect(r"^ready (\S+)", timeout=15).group(1)
    p.home = home
    return p


def lan_alice_bob(lab, tincan, net):
    """alice and bob on a switch of their own, 10.<net>.0.1-2/24 and fd<net>::1-2/64, each a
    running lan_client."""
    sw = lab.switch("lan")
    for i, name in enumerate(("alice", "bob"), 1):
        lab.link(lab.host(name), sw, addr4=f"10.{net}.0.{i}/24", addr6=f"fd{net}::{i}/64")
    return lan_client(lab, "alice", tincan, "alice"), lan_client(lab, "bob", tincan, "bob")


def tincan_main(name, lab_name, timeout, run, errors=()):
    """The frame of a small end-to-end script whose only argument is the tincan binary:
    run(lab, tincan) in a lab of its own; on failure the last lines of every process, then
    "FAIL: ..." (for the lab's errors and those in errors). Returns the exit status."""
    if len(sys.argv) != 2:
        print(f"usage: {os.path.basename(sys.argv[0])} path/to/tincan", file=sys.stderr)
        return 2
    tincan = os.path.abspath(sys.argv[1])
    try:
        with Lab(lab_name, timeout=timeout) as lab:
            try:
                run(lab, tincan)
            except Exception:
                lab.failed = True
                for p in lab.procs:
                    print(p.tail(12), file=sys.stderr)
                raise
    except ((ExpectTimeout, LabTimeout) + tuple(errors)) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    print(f"{name}: ok")
    return 0


def _reaper_main(path):
    """Wait until the lab's owner closes our stdin (it exited, however), then undo
    whatever its state file still lists."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    _reap_state(path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--reap":
        _reaper_main(sys.argv[2])
    else:
        sys.exit("usage: netlab.py --reap STATEFILE (internal); import it from tests")
