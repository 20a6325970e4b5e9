#!/bin/sh
# bench_rdv.sh: the rendezvous benchmark of issue 3: tincand's logins/s, presence fan-out,
# memory with 1M accounts and 100k online, STUN answers/s next to coturn, from one run.
#
#	ninja -C <build> bench-rdv
#	sh tests/bench/bench_rdv.sh <build>/tincand <build>/bench_rdv
#
# In order, all on loopback (how each figure is measured: the top of bench_rdv.c):
#  1. tincand --init in a fresh state directory under /tmp;
#  2. bench_rdv populate: NACC accounts written through the accounts API while no daemon
#     runs, then a snapshot (over the wire it would take minutes: REGISTER is rate-limited
#     per address, 30 an hour, and each client needs a handshake);
#  3. the real tincand, default configuration (-f /dev/null), on 127.0.0.1:<random port>;
#  4. STUN Binding answers/s from tincand, then from coturn's turnserver (same blaster, same
#     run; coturn with a minimal STUN-only command line, stopped afterwards);
#  5. bench_rdv load: NFIRST timed logins, presence fan-out, NLOAD clients online at once,
#     presence again, a PING to every session; then tincand's VmRSS/VmHWM from /proc;
#  6. SIGTERM to tincand. Processes and the temporary directory go on any exit; every step
#     runs under timeout(1); a run takes about a minute (most of it making 100k keys).
# The table marks each goal "met" or "MISSED". CPU shares are of all CPUs together: "rest"
# is every other process on the machine (and interrupts); if it is large, the figures are low.
set -u
[ $# -eq 2 ] || { echo "usage: $0 path/to/tincand path/to/bench_rdv" >&2; exit 64; }
TINCAND=$(realpath "$1")
BENCH=$(realpath "$2")
NACC=${NACC:-1000000}
NLOAD=${NLOAD:-100000}
NFIRST=${NFIRST:-20000}
STUN_S=${STUN_S:-3}
NCPU=$(nproc)
ACC=$(awk -v n="$NACC" 'BEGIN { if (n % 1e6 == 0) printf "%dM", n / 1e6;
    else if (n % 1000 == 0) printf "%dk", n / 1000; else print n }')

tmp=$(mktemp -d /tmp/bench_rdv.XXXXXX) || exit 1
dpid=
tpid=
cleanup() {
	[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
	[ -n "$tpid" ] && kill -9 "$tpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
	echo "bench_rdv: $*" >&2
	[ -s "$tmp/tincand.log" ] && tail -n 5 "$tmp/tincand.log" >&2
	exit 1
}
row() { printf '%-44s %-40s %-9s %s\n' "$1" "$2" "$3" "$4" >>"$tmp/table"; }
calc() { awk "BEGIN { $1 }"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
# "server% + generator% + rest%" from CPU seconds: server, generator, machine, elapsed
shares() {
	calc "k = 100 / $4 / $NCPU; r = $3 - $1 - $2; if (r < 0) r = 0;
	    printf \"%.0f%% + %.0f%% + %.0f%% of $NCPU CPUs\", $1 * k, $2 * k, r * k"
}
free_port() {	# free on 127.0.0.1 for UDP and TCP
	for _ in 1 2 3 4 5; do
		python3 -c 'import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
p = u.getsockname()[1]
socket.socket().bind(("127.0.0.1", p))
print(p)' 2>/dev/null && return 0
	done
	return 1
}
wait_stun() {	# until 127.0.0.1:$1 answers STUN, at most about a minute
	for _ in $(seq 100); do
		n=$(timeout 10 "$BENCH" stun "$1" 0.05 2>/dev/null | cut -d' ' -f3)
		[ "${n:-0}" -gt 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# 1, 2: key and accounts
"$TINCAND" -s "$tmp/state" -f /dev/null --init >"$tmp/init.out" 2>&1 || fail "tincand --init"
sid=$(sed -n 's/^id //p' "$tmp/init.out")
[ -n "$sid" ] || fail "no server id from tincand --init"
echo "populating $NACC accounts ($NLOAD + 101 with client keys)..." >&2
timeout 150 "$BENCH" populate "$tmp/state" "$tmp/keys" "$NACC" "$NLOAD" || fail populate
snap=$(du -sk "$tmp/state" | awk '{ print $1 }')

# 3: the daemon
port=$(free_port) || fail "no free port"
t0=$(now_ms)
"$TINCAND" -d -s "$tmp/state" -f /dev/null -l "127.0.0.1:$port" 2>"$tmp/tincand.log" &
dpid=$!
wait_stun "$port" || fail "tincand did not answer STUN"
ready=$(($(now_ms) - t0))
rss0=$(kb "$dpid" VmRSS)
echo "tincand (pid $dpid) answers on 127.0.0.1:$port after $ready ms, RSS $rss0 kB" >&2

# 4: STUN, tincand then coturn
stun=$(timeout 30 "$BENCH" stun "$port" "$STUN_S" "$dpid") || fail "STUN blaster"
cstun=
cnote="coturn not installed"
if command -v turnserver >/dev/null; then
	cport=$(free_port) || fail "no free port"
	turnserver -n --listening-ip=127.0.0.1 --listening-port="$cport" --no-tls --no-dtls \
	    --stun-only --no-cli --pidfile="$tmp/turn.pid" --db="$tmp/turndb" \
	    --log-file=stdout --simple-log >"$tmp/turn.log" 2>&1 &
	tpid=$!
	wait_stun "$cport" || fail "turnserver did not answer STUN"
	cnote="$(turnserver --version 2>/dev/null | head -n 1), $(ls "/proc/$tpid/task" | wc -l) threads"
	cstun=$(timeout 30 "$BENCH" stun "$cport" "$STUN_S" "$tpid") || fail "STUN blaster (coturn)"
	kill "$tpid" 2>/dev/null
	wait "$tpid" 2>/dev/null
	tpid=
fi
echo "STUN (seconds sent answered bad stalls cpu...): tincand $stun; coturn $cstun" >&2

# 5: logins, presence, online, memory
echo "load: $NFIRST timed logins, presence, then $NLOAD online, presence, PINGs..." >&2
timeout 175 "$BENCH" load "$port" "$sid" "$dpid" "$tmp/keys" "$NFIRST" "$NLOAD" >"$tmp/load.out"
lrc=$?
kill -0 "$dpid" 2>/dev/null || fail "tincand died during the load"
rss=$(kb "$dpid" VmRSS)
hwm=$(kb "$dpid" VmHWM)

# 6: clean stop
kill -TERM "$dpid"
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$dpid" 2>/dev/null && echo "tincand did not stop within 10 s of SIGTERM" >&2
wait "$dpid" 2>/dev/null
dpid=

# the table
pres=
while read -r key rest; do
	case $key in
	logins) logins=$rest ;;
	online) online=$rest ;;
	alive) alive=$rest ;;
	presence) pres="$pres$rest
" ;;
	esac
done <"$tmp/load.out"
[ -n "${logins:-}" ] || fail "no figures from the load generator"
set -- $logins
rate=$(calc "printf \"%.0f\", $1 / $3")
ok=$(calc "print ($1 / $3 >= 4000 && $2 == 0) ? \"met\" : \"MISSED\"")
row "logins/s (handshake + LOGIN + RESULT)" "$rate/s ($1 in $3 s, $2 failed)" ">= 4000" "$ok"
row "  CPU: tincand + load generator + rest" "$(shares "$6" "$7" "$8" "$3")" "" ""
row "  tincand CPU per login" "$(calc "printf \"%.0f us: %.0f/s per core\", $6 * 1e6 / $1, $1 / $6")" "" ""
row "  COOKIEs (under load), retransmissions" "$4, $5" "" ""
if [ -n "${online:-}" ]; then
	set -- $online
	row "  logins $NFIRST..$NLOAD, for comparison" "$(calc "printf \"%.0f/s\", ($1 - $NFIRST) / $3")" "" ""
fi
echo "$pres" | while read -r n p50 p99 max samples lost; do
	[ -n "$n" ] || continue
	v=
	[ "$lost" -gt 0 ] && v="LOST $lost"
	row "presence fan-out, $n online" "p50 $p50 us, p99 $p99 us, max $max us" "" "$v"
done
set -- ${alive:-0 1}
ok=met
[ "$1" -eq "$2" ] || ok=MISSED
row "clients logged in at once (PING answered)" "$1 of $2" "" "$ok"
ok=$(calc "print (${hwm:-0} > 0 && ${hwm:-0} < 200 * 1024 && $1 == $2) ? \"met\" : \"MISSED\"")
row "tincand memory, $ACC accounts + those online" "$(calc "printf \"RSS %.1f MB, peak %.1f MB\", ${rss:-0} / 1024, ${hwm:-0} / 1024")" "< 200 MB" "$ok"
row "  $ACC accounts, nobody online" "$(calc "printf \"RSS %.1f MB\", ${rss0:-0} / 1024")" "" ""
row "  start with $ACC accounts" "$ready ms to the first STUN answer" "" ""
stun_rows() {	# name, blaster output
	set -- "$1" $2
	row "STUN Binding answers/s, $1" "$(calc "printf \"%.0f/s (%.0f per CPU-second)\", $4 / $2, ($7 > 0 ? $4 / $7 : 0)")" "" ""
	row "  CPU: $1 + blaster + rest" "$(shares "$7" "$8" "$9" "$2")" "" ""
	[ "$5" -eq 0 ] || row "  answers that did not parse" "$5" "" "MISSED"
}
stun_rows tincand "$stun"
if [ -n "$cstun" ]; then
	stun_rows coturn "$cstun"
	row "  ($cnote)" "" "" ""
	set -- $stun
	t=$(calc "print $3 / $1")
	set -- $cstun
	ok=$(calc "print ($t >= 1.5 * $3 / $1) ? \"met\" : \"MISSED\"")
	row "  tincand / coturn" "$(calc "printf \"%.2fx\", $t / ($3 / $1)")" ">= 1.5x" "$ok"
else
	row "STUN Binding answers/s, coturn" "$cnote" ">= 1.5x" "MISSED"
fi

echo
echo "tincand rendezvous benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $NCPU CPUs" \
    "($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), state: $((snap / 1024)) MB"
printf '%-44s %-40s %-9s %s\n' "figure" "measured" "goal" ""
cat "$tmp/table"
echo "fan-out: from the user's STATUS send to each watcher's kernel receive timestamp"
echo "  (SO_TIMESTAMPNS); 100 watchers x 200 changes = 20,000 samples per row; the second"
echo "  row with every client online and sending its keepalives."
[ "$lrc" -eq 0 ] || echo "bench_rdv load exited with status $lrc (failures above)" >&2
exit 0
