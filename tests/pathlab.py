#!/usr/bin/env python3
"""pathlab.py: the path lab: a public switch with a tincand, homes behind NAT routers, public
hosts, headless clients, and the loss and block rules on the routers' WAN side.

Builds on netlab.py and natlab.py (imported, not changed); shared by e2e_nat.py and meant for a
path benchmark too. Root only; stdlib only.

    with netlab.Lab("nat") as lab:
        w = pathlab.World(lab, tincan, tincand, tmp)
        home = w.home("eim")                      # a router and its LAN switch
        a = w.client(w.lan_host(home, "a1"), "a1")
        w.register(a)                             # a1@45.45.0.2, home of a1
        w.wan(home.router, loss=10)               # 10% of forwarded WAN packets, both ways
"""

import collections
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import natlab  # noqa: E402
import netlab  # noqa: E402
from e2e_lan import Fail, Lines, check_exactly_once, pk_of  # noqa: E402

PUB4 = "45.45.0."             # the public IPv4 /24 (not a reserved range: see natlab)
PUB6 = "2001:db8:45::"        # the public IPv6 /64
SRV4, SRV6 = PUB4 + "2", PUB6 + "2"
PORT = 7787
CLIENT_PORT = 7788            # the clients' conversation port (tincan's default; one a host)
PATHS = ("lan", "direct", "relay")


class Client(Lines):
    """A headless tincan with its own home directory, debug log (-vv) on stderr."""

    def __init__(self, lab, host, name, binary, home, label=None, ready=True, stamps=False):
        """ready=False returns at once (call wait_ready); stamps=True records when each
        stdout line was seen (see when())."""
        os.makedirs(home, exist_ok=True)
        argv = [binary, "--headless", "--home", home, "--nick", name, "-vv"]
        self.t_spawn = time.monotonic()
        super().__init__(lab.spawn(host, argv, name=label or name), label or name)
        self.name = name
        self.home = home
        self.host = host
        self.handle = None
        self.id = None
        self.stamps = []
        if stamps:
            threading.Thread(target=self._stamp, daemon=True).start()
        if ready:
            self.wait_ready()

    def wait_ready(self, timeout=15):
        self.id = self.wait(lambda s: s.ev["ready"] and s.ev["ready"][0][0], timeout,
                            f"{self.label}: ready")
        pk_of(self.id)
        return self.id

    def _stamp(self):
        """The stamping thread: self.stamps[i] is the monotonic time at which line i of
        stdout was seen (within a thread wake-up of the reader appending it)."""
        cond = self.proc._cond
        with cond:
            while True:
                now = time.monotonic()
                if len(self.stamps) < len(self.proc.lines):
                    self.stamps += [now] * (len(self.proc.lines) - len(self.stamps))
                    cond.notify_all()           # waiters in when_wait() look again
                if self.proc._eof:
                    return
                cond.wait()

    def when(self, word, pred=lambda f: True):
        """(fields, monotonic time) of the first stamped line `word` whose fields satisfy
        pred, or None (only with stamps=True)."""
        with self.proc._cond:
            pairs = list(zip(self.proc.lines, self.stamps))
        for line, t in pairs:
            if line.split(" ", 1)[0] == word:
                f = line.split(" ", self.SPLITS.get(word, 2))[1:]
                if pred(f):
                    return f, t
        return None

    def when_wait(self, word, pred, timeout, what):
        """when(), waiting up to timeout for such a line."""
        return self.wait(lambda s: s.when(word, pred), timeout, f"{self.label}: {what}")

    def path_at(self, other, t):
        """The path to other after the last stamped online/path line seen by time t."""
        with self.proc._cond:
            pairs = list(zip(self.proc.lines, self.stamps))
        path = None
        for line, ts in pairs:
            f = line.split(" ")
            if ts <= t and len(f) >= 3 and f[0] in ("online", "path") and f[1] == other.id:
                path = f[2]
        return path

    def path_events(self, other):
        """(word, path, seconds since spawn) of every online/path line about contact other,
        in order; the reader thread stamps nothing, so the time is when we looked."""
        with self.proc._cond:
            lines = list(self.proc.lines)
        out = []
        for line in lines:
            f = line.split(" ")
            if len(f) >= 3 and f[0] in ("online", "path") and f[1] == other.id:
                out.append((f[0], f[2]))
            elif len(f) >= 2 and f[0] == "offline" and f[1] == other.id:
                out.append(("offline", "-"))
        return out

    def path_of(self, other):
        """The path of the last online/path event about other (None before any)."""
        ev = [e for e in self.path_events(other) if e[0] != "offline"]
        return ev[-1][1] if ev else None

    def infos(self):
        return [" ".join(f) for f in self.events("info")]

    def info_of(self, other, timeout=10):
        """The address field of /info about other ("-" or ip:port / [ipv6]:port)."""
        n = len(self.events("info"))
        self.send(f"/info {other.id}")
        line = self.wait(lambda s: next((" ".join(f) for f in s.ev["info"][n:]
                                         if other.id in " ".join(f) and " address " in
                                         " ".join(f)), None), timeout,
                         f"{self.label}: /info {other.name}")
        m = re.search(r" address (\S+)", line)
        return m.group(1) if m else None

    def sanitizer_report(self):
        err = self.stderr()
        return "Sanitizer" in err or "runtime error" in err


Home = collections.namedtuple("Home", "router switch index")


class World:
    """The public switch with one tincand (IPv4 and IPv6), and whatever hangs off it."""

    def __init__(self, lab, tincan, tincand, tmp, conf=None):
        """conf: lines of a tincand configuration file (-f), e.g. relay limits."""
        self.lab = lab
        self.tincan = tincan
        self.tincand = tincand
        self.tmp = tmp
        self.n_homes = 0
        self.n_public = 0
        self.rules = {}                 # router name -> {"loss": pct, "block": set of addrs}
        self.pub = lab.switch("pub")
        # No broadcast or multicast datagrams between public hosts, as on the internet: LAN
        # beacons stay inside the homes (ARP and neighbour discovery still pass).
        lab.run(self.pub, ["nft", "-f", "-"], input=(
            "table bridge pathlab {\n chain forward {\n"
            "  type filter hook forward priority -10; policy accept;\n"
            "  meta pkttype { broadcast, multicast } meta l4proto udp drop\n }\n}\n"))
        self.srv = lab.host("srv")
        lab.link(self.srv, self.pub, addr4=f"{SRV4}/24", addr6=f"{SRV6}/64")
        self.conf = conf
        self.tincand_proc, self.server_id = self._tincand("tincand", PORT, [SRV4, f"[{SRV6}]"])
        self.second = None
        self.ids = {SRV4: self.server_id, SRV6: self.server_id}   # server -> its id

    def _tincand(self, name, port, hosts):
        """A tincand on the server host with its own state, listening on port at hosts;
        returns its process and its id once it listens on UDP and TCP at each."""
        state = os.path.join(self.tmp, name)
        os.makedirs(state)
        r = self.lab.run(self.srv, [self.tincand, "-s", state, "--init"])
        m = re.search(r"^id (tc\S+)$", r.stdout, re.M)
        if not m:
            raise Fail(f"tincand --init printed no id: {r.stdout!r}")
        opt = []
        if self.conf:
            path = os.path.join(self.tmp, name + ".conf")
            with open(path, "w") as f:
                f.write("".join(line + "\n" for line in self.conf))
            opt = ["-f", path]
        listen = [a for h in hosts for a in ("-l", f"{h}:{port}")]
        proc = self.lab.spawn(self.srv, [self.tincand, "-d", "-v", "-s", state] + opt + listen,
                              name=name)
        self._wait_listening(proc, port, 2 * len(hosts))
        return proc, m.group(1)

    def second_server(self, port=PORT + 10):
        """Another rendezvous (its own key and accounts) on the same host, IPv4 only: a
        handle there is name@45.45.0.2:PORT. Returns its host:port."""
        self.second, sid = self._tincand("tincand2", port, [SRV4])
        self.ids[f"{SRV4}:{port}"] = sid
        return f"{SRV4}:{port}"

    def _wait_listening(self, proc, port, count, timeout=30):
        """Until tincand listens on UDP and TCP count times (slow under sanitizers)."""
        deadline = time.monotonic() + timeout
        while True:
            if proc.popen.poll() is not None:
                raise Fail(f"tincand exited {proc.popen.poll()}\n{proc.tail()}")
            out = (self.lab.run(self.srv, ["ss", "-Hlnu"]).stdout +
                   self.lab.run(self.srv, ["ss", "-Hlnt"]).stdout)
            if out.count(f":{port} ") >= count:
                return
            if time.monotonic() > deadline:
                raise Fail(f"tincand does not listen within {timeout} s\n{out}")
            time.sleep(0.05)

    def tincand_stderr(self):
        out = ""
        for proc in (self.tincand_proc, self.second):
            if proc:
                with open(proc.err_path, errors="replace") as f:
                    out += f.read()
        return out

    # --- topology ---

    def home(self, kind, upnp=False, stalled=False):
        """A home network: a router of natlab kind ("eim", "edm", "block_udp") with WAN
        45.45.0.(10+i) and LAN 192.168.i.1/24 on a switch of its own; upnp=True runs the
        real miniupnpd on it, stalled=True makes it drop everything addressed to itself."""
        self.n_homes += 1
        i = self.n_homes
        sw = self.lab.switch(f"h{i}")
        r = natlab.nat_router(self.lab, f"r{i}", self.pub, f"{PUB4}{10 + i}/24", sw,
                              f"192.168.{i}.1/24", kind)
        r.hosts = 0
        self.rules[r.name] = {"loss": 0, "block": set()}
        self._wan_firewall(r)
        if upnp:
            natlab.miniupnpd(self.lab, r)
        if stalled:
            natlab.drop_input(self.lab, r)
        return Home(r, sw, i)

    def _wan_firewall(self, r):
        """Drop unsolicited UDP addressed to the router itself from the WAN, as a home
        router's firewall does (OpenWrt's wan zone rejects input). Without it, a peer's
        punching packet that arrives before our own first one is delivered to the router's
        input, and its conntrack entry takes the 4-tuple that our outbound packet needs: the
        NAT then gives our socket another port towards that peer (no longer endpoint-
        independent), and the peer's router drops what comes from it."""
        self.lab.run(r, ["nft", "-f", "-"], input=(
            "table inet pathlab_in {\n chain input {\n"
            "  type filter hook input priority 0; policy accept;\n"
            f'  iifname "{natlab.WAN_IF}" meta l4proto udp ct state new drop\n }}\n}}\n'))

    def lan_host(self, home, name):
        home.router.hosts += 1
        return natlab.lan_host(self.lab, name, home.switch,
                               f"192.168.{home.index}.{10 + home.router.hosts}/24", home.router)

    def public_host(self, name, v4=True, v6=True):
        """A host on the public switch: 45.45.0.(100+i) and/or 2001:db8:45::(100+i)."""
        self.n_public += 1
        i = self.n_public
        h = self.lab.host(name)
        self.lab.link(h, self.pub, addr4=f"{PUB4}{100 + i}/24" if v4 else None,
                      addr6=f"{PUB6}{100 + i:x}/64" if v6 else None)
        return h

    def client(self, host, name, run=0, ready=True, stamps=False):
        label = name if run == 0 else f"{name}.{run + 1}"
        return Client(self.lab, host, name, self.tincan, os.path.join(self.tmp, name), label,
                      ready, stamps)

    # --- the routers' WAN side: loss and blocks, in a table of their own ---

    def wan(self, router, loss=None, block=None, unblock=None):
        """Drop loss percent of what the router forwards through its WAN interface (both
        ways; its own traffic is untouched); block/unblock: drop or pass again what it
        forwards to that address (another router's WAN address)."""
        st = self.rules[router.name]
        if loss is not None:
            st["loss"] = loss
        if block:
            st["block"].add(block)
        if unblock:
            st["block"].discard(unblock)
        w = natlab.WAN_IF
        rules = [f"  ip daddr {a} drop\n" for a in sorted(st["block"])]
        if st["loss"]:
            pct = st["loss"]
            rules += [f'  iifname "{w}" counter\n', f'  oifname "{w}" counter\n',
                      f'  iifname "{w}" numgen random mod 1000 < {round(pct * 10)} counter drop\n',
                      f'  oifname "{w}" numgen random mod 1000 < {round(pct * 10)} counter drop\n']
        script = "table inet pathlab\ndelete table inet pathlab\n"
        if rules:
            script += ("table inet pathlab {\n chain forward {\n"
                       "  type filter hook forward priority -10; policy accept;\n" +
                       "".join(rules) + " }\n}\n")
        self.lab.run(router, ["nft", "-f", "-"], input=script)

    def wan_dropped(self, router):
        """(dropped, forwarded) packets through the router's WAN interface since the loss
        was last set: what its loss rules dropped, and all that came to them."""
        r = self.lab.run(router, ["nft", "list", "table", "inet", "pathlab"], check=False)
        dropped = total = 0
        for line in r.stdout.splitlines():
            m = re.search(r"counter packets (\d+)", line)
            if m:
                if "drop" in line:
                    dropped += int(m.group(1))
                else:
                    total += int(m.group(1))
        return dropped, total

    def block_pair(self, r1, r2, on=True):
        """Blackhole everything between two routers' WAN addresses (tincand still passes)."""
        if on:
            self.wan(r1, block=r2.wan)
            self.wan(r2, block=r1.wan)
        else:
            self.wan(r1, unblock=r2.wan)
            self.wan(r2, unblock=r1.wan)

    # --- rendezvous steps ---

    def register(self, c, server=SRV4, timeout=30):
        """c claims its name on the tincand at server (an IPv4 or IPv6 literal, or the
        second server's host:port) and logs in."""
        host = f"[{server}]" if server.count(":") > 1 else server
        c.handle = f"{c.name}@{host}"
        c.send(f"/register {c.handle} {self.ids[server]}")
        c.expect("registered", lambda f: f[0].lower() == c.handle.lower(), timeout,
                 f"registered {c.handle}")
        c.expect("login", lambda f: True, timeout, "login")

    def befriend(self, a, b, timeout=45):
        """a adds b by its handle, b accepts; both see the other online. Returns the paths of
        the online events (a's view of b, b's view of a)."""
        a.send(f"/add {b.handle} hello from {a.name}")
        a.expect("added", lambda f: f[0] == b.id, 30, f"added {b.name}")
        b.expect("request", lambda f: f[0] == a.id, 30, f"request from {a.name}")
        b.send(f"/accept {a.id}")
        fa = a.expect("online", lambda f: f[0] == b.id, timeout, f"online {b.name}")
        fb = b.expect("online", lambda f: f[0] == a.id, timeout, f"online {a.name}")
        return fa[1], fb[1]


class Feeder:
    """Writes /msg lines to a client from a thread, all at once or `rate` per second."""

    def __init__(self, client, other, word, first, last, rate=None):
        self.error = None
        self.lines = [f"/msg {other.id} {word} {k}" for k in range(first, last + 1)]
        self.client = client
        self.rate = rate
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            if not self.rate:
                self.client.send(*self.lines)
                return
            t0 = time.monotonic()
            for k, line in enumerate(self.lines):
                delay = t0 + k / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.client.send(line)
        except OSError as e:
            self.error = e

    def join(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise Fail(f"{self.client.label}: writing commands did not finish")
        if self.error:
            raise Fail(f"{self.client.label}: writing commands: {self.error}")


def stream_start(a, b, word, n, rate=None):
    """Both send n messages "<word>a k" / "<word>b k" at once. Returns the feeders."""
    return [Feeder(a, b, word + "a", 1, n, rate), Feeder(b, a, word + "b", 1, n, rate)]


def shown(receiver, sender, word):
    return len(receiver.sync().shown(sender.id, word))


def stream_finish(a, b, word, n, feeders, budget):
    """Wait until every message of the stream is shown and delivered (bounded), then check
    each arrived exactly once, in order, with one delivered each."""
    deadline = time.monotonic() + budget
    for me, other, w in ((a, b, word + "a"), (b, a, word + "b")):
        other.wait(lambda s: len(s.shown(me.id, w)) >= n, max(1, deadline - time.monotonic()),
                   f"{other.label}: {n} messages from {me.name}",
                   lambda s: f"has {len(s.shown(me.id, w))}")
        ids = [m for m, _ in other.sync().shown(me.id, w)]
        me.wait(lambda s: all(s.delivered[other.id][m] for m in ids),
                max(1, deadline - time.monotonic()), f"{me.label}: {n} delivered",
                lambda s: f"has {sum(1 for m in ids if s.delivered[other.id][m])}")
    for f in feeders:
        f.join(10)
    for me, other, w in ((a, b, word + "a"), (b, a, word + "b")):
        check_exactly_once(me, [other], w, n, f"{me.name} -> {other.name}")


if __name__ == "__main__":
    sys.exit("pathlab.py: a helper of e2e_nat.py; import it")
