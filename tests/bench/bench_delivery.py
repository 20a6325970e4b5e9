#!/usr/bin/env python3
"""bench_delivery.py: tincan's message round trip and durable throughput next to raw UDP.

    ninja -C build bench                   (the meson run_target; needs root)
    python3 tests/bench/bench_delivery.py build/tincan [--udp-echo build/udp_echo]
            [--rtt 2000] [--bulk 200000]

A benchmark, not a test: it prints figures and goals and exits 0 unless something broke.
Everything runs on loopback in a fresh network namespace (netlab), so LAN beacons stay in it.

What the figures include:
- "raw UDP": udp_echo's client timing its own round trips in C (send, echo server, recv).
- "raw UDP + pipes": this script writes a line to udp_echo's relay, which does one UDP round
  trip and writes the line back: the same two pipe hops and the same Python reader as tincan.
- "tincan /msg -> delivered": this script writes `/msg bob ...` to alice's stdin and reads
  alice's stdout until `delivered` for it: pipe in, alice's outbox write, encryption, UDP to
  bob, bob's log write (no fsync), the acknowledgement back, pipe out. Compare it with
  "raw UDP + pipes"; the goal ratios are printed against both baselines.
- "-> durable" waits instead for `durable` (bob has fsynced his log), one message at a time.
- Placement: the script and the sender (udp_echo client/relay, alice) on CPU 0; the receiver
  (echo server, bob) on CPU 0 too ("same CPU") or on CPU 1 ("split"). Waking a process on
  the other CPU costs tens of microseconds on a small VM, so both are reported.
- Throughput: `--bulk` `/msg` lines written to alice as fast as her stdin takes them; the
  clock runs from the first write to the last `delivered` (bob has written it) and to the
  `durable` that covers the last one (bob has fsynced it). Placement: split.
"""

import argparse
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import netlab  # noqa: E402

ECHO_PORT, ALICE_PORT, BOB_PORT, DISC_PORT = 9911, 7788, 7790, 7789
SIZE = 80            # raw datagram bytes: about what one short tincan message puts on the wire


class BenchError(Exception):
    pass


class Reader:
    """Lines from a pipe, read in the calling thread (no reader-thread hop in the timing)."""

    def __init__(self, fd, name):
        self.fd, self.name = fd, name
        self.buf = b""
        self.lines = []
        self.eof = False

    def fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        data = os.read(self.fd, 1 << 16)
        if not data:
            self.eof = True
            raise BenchError(f"{self.name}: end of output")
        parts = (self.buf + data).split(b"\n")
        self.buf = parts.pop()
        self.lines.extend(parts)
        return True

    def until(self, pattern, timeout=10.0):
        """Consume lines until one matches (a compiled bytes regex); return the match."""
        deadline = time.monotonic() + timeout
        while True:
            while self.lines:
                m = pattern.match(self.lines.pop(0))
                if m:
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{self.name}: no /{pattern.pattern.decode()}/ in {timeout} s")
            self.fill(left)


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, len(s) * p // 100)] / 1e3


def popen(ns, cpu, argv, **kw):
    return subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(cpu)] + argv, **kw)


def raw_baseline(ns, echo, placement, n):
    """(raw p50, p99), (raw + pipes p50, p99) in microseconds."""
    server_cpu = 0 if placement == "same" else 1
    srv = popen(ns, server_cpu, [echo, "server", str(ECHO_PORT)], stdout=subprocess.PIPE)
    try:
        if srv.stdout.readline() != b"ready\n":
            raise BenchError("udp_echo server did not start")
        out = subprocess.run(["ip", "netns", "exec", ns, "taskset", "-c", "0", echo, "client",
                              str(ECHO_PORT), str(n), str(SIZE)], capture_output=True,
                             text=True, timeout=60, check=True).stdout
        m = re.match(r"p50 (\S+) p99 (\S+)", out)
        raw = float(m.group(1)), float(m.group(2))
        relay = popen(ns, 0, [echo, "relay", str(ECHO_PORT), str(SIZE)],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        rd = Reader(relay.stdout.fileno(), "udp_echo relay")
        inp = relay.stdin.fileno()
        want = re.compile(rb"^r\d+$")
        samples = []
        for k in range(n + n // 10):
            t0 = time.perf_counter_ns()
            os.write(inp, b"r%d\n" % k)
            rd.until(want)
            if k >= n // 10:
                samples.append(time.perf_counter_ns() - t0)
        relay.stdin.close()
        relay.wait(5)
        return raw, (pct(samples, 50), pct(samples, 99))
    finally:
        srv.kill()
        srv.wait()


class Tincan:
    def __init__(self, ns, binary, home, name, port, cpu, out):
        self.proc = popen(ns, cpu, [binary, "--headless", "--lan", "--home", home, "--nick",
                                    name, "--port", str(port), "--lan-port", str(DISC_PORT)],
                          stdin=subprocess.PIPE, stdout=out, stderr=open(home + ".err", "wb"))
        self.inp = self.proc.stdin.fileno()
        self.rd = Reader(self.proc.stdout.fileno(), name) if out == subprocess.PIPE else None
        self.name = name

    def send(self, line):
        os.write(self.inp, line.encode() + b"\n")


def tincan_rtt(alice, bob_id, placement, bob_pid, n, durable):
    """send -> delivered (or -> durable) samples in nanoseconds, one message in flight."""
    os.sched_setaffinity(bob_pid, {0 if placement == "same" else 1})
    bid = re.escape(bob_id.encode())
    queued = re.compile(rb"^queued " + bid + rb" (\d+)$")
    synced = re.compile(rb"^durable " + bid + rb" (\d+)$")
    samples = []
    for k in range(n + n // 10):
        t0 = time.perf_counter_ns()
        alice.send(f"/msg bob rt {placement} {k}")
        m = int(alice.rd.until(queued).group(1))
        if durable:     # cumulative: the first one covering m
            while int(alice.rd.until(synced).group(1)) < m:
                pass
        else:
            alice.rd.until(re.compile(rb"^delivered %s %d$" % (bid, m)))
        if k >= n // 10:
            samples.append(time.perf_counter_ns() - t0)
    return samples


def tincan_bulk(alice, bob_id, n, ref):
    """Seconds from the first /msg write to the n-th delivered and to durable covering it, and
    the CPU seconds this script used. ref: how the /msg lines name bob."""
    blob = "".join(f"/msg {ref} bulk {k}\n" for k in range(1, n + 1)).encode()
    os.set_blocking(alice.inp, False)
    pos, delivered, first_id, last_id = 0, 0, None, None
    t_deliv = t_dur = None
    bid = bob_id.encode()
    t0, c0 = time.perf_counter(), time.process_time()
    deadline = time.monotonic() + 240
    rd = alice.rd
    while t_dur is None:
        if time.monotonic() > deadline:
            raise BenchError(f"bulk: {delivered} of {n} delivered after 240 s")
        wr = [alice.inp] if pos < len(blob) else []
        r, w, _ = select.select([rd.fd], wr, [], 1.0)
        if w:
            try:
                pos += os.write(alice.inp, blob[pos:pos + (1 << 20)])
            except BlockingIOError:
                pass
        if r:
            rd.fill(0)
            for line in rd.lines:
                if line.startswith(b"queued "):
                    q = int(line.rsplit(b" ", 1)[1])
                    first_id = q if first_id is None else first_id
                    last_id = q
                elif line.startswith(b"delivered ") and first_id is not None:
                    delivered += 1
                    if delivered == n:
                        t_deliv = time.perf_counter() - t0
                elif line.startswith(b"durable " + bid) and last_id is not None and \
                        delivered >= n and int(line.rsplit(b" ", 1)[1]) >= last_id:
                    t_dur = time.perf_counter() - t0
            rd.lines.clear()
    os.set_blocking(alice.inp, True)
    return t_deliv, t_dur, time.process_time() - c0


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_echo(workdir):
    src = os.path.join(HERE, "udp_echo.c")
    out = os.path.join(workdir, "udp_echo")
    subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-O2", "-o", out,
                    src], check=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tincan")
    ap.add_argument("--udp-echo", help="udp_echo binary (default: compile tests/bench/udp_echo.c)")
    ap.add_argument("--rtt", type=int, default=2000, help="round trips per figure (2000)")
    ap.add_argument("--durable-rtt", type=int, default=300, help="round trips to durable (300)")
    ap.add_argument("--bulk", type=int, default=200000, help="messages for throughput (200000)")
    args = ap.parse_args()
    if os.cpu_count() < 2:
        sys.exit("bench_delivery: needs two CPUs for the split placement")
    work = tempfile.mkdtemp(prefix="bench-delivery-")
    echo = os.path.abspath(args.udp_echo) if args.udp_echo else build_echo(work)
    binary = os.path.abspath(args.tincan)
    os.sched_setaffinity(0, {0})    # the harness sits with the sender
    res = {}
    procs = []
    try:
        with netlab.Lab("bench", timeout=290) as lab:
            ns = lab.host("lo").ns
            # Beacons need a multicast-capable interface; here there is only lo.
            lab.run("lo", "ip link set lo multicast on && "
                          "ip route add 224.0.0.0/4 dev lo && ip -6 route add ff00::/8 dev lo "
                          "table local || true")
            for placement in ("same", "split"):
                res["raw", placement], res["pipe", placement] = raw_baseline(
                    ns, echo, placement, args.rtt)
            alice = Tincan(ns, binary, os.path.join(work, "alice"), "alice", ALICE_PORT, 0,
                           subprocess.PIPE)
            bob_out = open(os.path.join(work, "bob.out"), "wb")
            bob = Tincan(ns, binary, os.path.join(work, "bob"), "bob", BOB_PORT, 1, bob_out)
            procs = [alice.proc, bob.proc]
            alice_id = alice.rd.until(re.compile(rb"^ready (\S+)$")).group(1).decode()
            alice.send("/peers")
            bob_id = alice.rd.until(re.compile(rb"^peer (\S+) bob "), 20).group(1).decode()
            alice.send(f"/add {bob_id}")
            bob.send(f"/add {alice_id}")
            alice.rd.until(re.compile(rb"^online " + re.escape(bob_id.encode()) + rb" "), 20)
            for placement in ("same", "split"):
                s = tincan_rtt(alice, bob_id, placement, bob.proc.pid, args.rtt, False)
                res["tc", placement] = pct(s, 50), pct(s, 99)
                s = tincan_rtt(alice, bob_id, placement, bob.proc.pid, args.durable_rtt, True)
                res["dur", placement] = pct(s, 50), pct(s, 99)
            os.sched_setaffinity(bob.proc.pid, {1})
            bulk = []
            for ref in ("bob", bob_id):
                c0 = [cpu_seconds(p.pid) for p in procs]
                t_deliv, t_dur, cpu = tincan_bulk(alice, bob_id, args.bulk, ref)
                bulk.append((ref, t_deliv, t_dur, [cpu] + [cpu_seconds(p.pid) - c for p, c in
                                                            zip(procs, c0)]))
            for t in (alice, bob):
                t.proc.stdin.close()
            for p in procs:
                p.wait(30)
            bob_out.close()
            with open(os.path.join(work, "bob.out"), "rb") as f:
                shown = sum(1 for line in f if line.startswith(b"msg ") and b" bulk " in line)
            if shown != 2 * args.bulk:
                raise BenchError(f"bob showed {shown} of the {2 * args.bulk} bulk messages")
    except (BenchError, netlab.LabError, netlab.LabTimeout, subprocess.SubprocessError,
            OSError) as e:
        for p in procs:
            p.kill()
        sys.stderr.write(f"bench_delivery: FAILED: {e}\n(clients' stderr in {work})\n")
        return 1
    report(res, args, bulk)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(res, args, bulk):
    """res: (figure, placement) -> (p50, p99) us; bulk: (ref, s to delivered, s to durable,
    CPU seconds of this script, alice and bob) per run."""
    def cell(key, placement):
        p50, p99 = res[key, placement]
        return f"{p50:8.1f} {p99:8.1f}"

    rows = [("raw UDP (C, in-process)", "raw"), ("raw UDP + 2 pipe hops", "pipe"),
            ("tincan /msg -> delivered", "tc"), ("tincan /msg -> durable", "dur")]
    print(f"tincan delivery benchmark: loopback in a namespace, {args.rtt} round trips "
          f"({args.durable_rtt} to durable), microseconds")
    print(f"{'':28} {'same CPU (0,0)':>17}   {'split (0,1)':>17}")
    print(f"{'':28} {'p50':>8} {'p99':>8}   {'p50':>8} {'p99':>8}")
    for label, key in rows:
        print(f"{label:28} {cell(key, 'same')}   {cell(key, 'split')}")
    for base, label in (("raw", "raw"), ("pipe", "raw + pipes")):
        ratios = []
        for placement in ("same", "split"):
            r50 = res["tc", placement][0] / res[base, placement][0]
            r99 = res["tc", placement][1] / res[base, placement][1]
            ok = "ok" if r50 <= 2 and r99 <= 3 else "MISSED"
            ratios.append(f"{r50:7.1f}x {r99:7.1f}x {ok}")
        print(f"{'delivered vs ' + label:28} " + "   ".join(ratios))
    print(f"{'goal':28} {'<= 2x':>8} {'<= 3x':>8}")
    print(f"throughput, {args.bulk} messages one way (split placement), goal >= 100,000/s "
          f"durable:")
    for ref, t_deliv, t_dur, cpu in bulk:
        how = "by name" if ref == "bob" else "by ID  "
        rate = args.bulk / t_dur
        print(f"  /msg {how}: {args.bulk / t_deliv:9,.0f}/s delivered (written), {rate:9,.0f}/s "
              f"durable (fsynced) {'ok' if rate >= 100000 else 'MISSED'}; CPU s: script "
              f"{cpu[0]:.2f}, alice {cpu[1]:.2f}, bob {cpu[2]:.2f} in {t_dur:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
