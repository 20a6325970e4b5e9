#!/bin/sh
# tests/ci.sh: the whole suite as CI runs it: a -Werror build and its tests, the same tests
# under AddressSanitizer+UndefinedBehaviorSanitizer, every libFuzzer target for a short while,
# and mandoc lint of the man pages. Ends with one "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
failed=""
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); failed="$failed $1"; echo "FAILED: $1"; }

# Count meson's per-test results (lines like " 3/14 rel   OK   0.02s").
run_meson_tests() {
	dir=$1
	log=$dir/ci-test.log
	meson test -C "$dir" --print-errorlogs --num-processes 2 >"$log" 2>&1
	cat "$log"
	# meson's closing summary: "Ok: N", "Fail: N", "Timeout: N", ...
	n_ok=$(awk '/^Ok:/ {print $2}' "$log")
	n_bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {s += $NF} END {print s + 0}' "$log")
	n_skip=$(awk '/^Skipped:/ {print $2}' "$log")
	n_ok=${n_ok:-0}
	if [ "${n_skip:-0}" -gt 0 ]; then
		echo "$dir: $n_skip tests skipped: a skipped test counts as failed here"
		n_bad=$((n_bad + n_skip))
	fi
	pass=$((pass + n_ok))
	fail=$((fail + n_bad))
	[ "$n_bad" -eq 0 ] || failed="$failed $dir-tests"
	[ "$n_ok" -gt 0 ] || ko "$dir: no test ran"
}

echo "== build (gcc, -Werror)"
if meson setup --wipe build-ci --werror --buildtype=debugoptimized >/dev/null 2>&1 ||
   meson setup build-ci --werror --buildtype=debugoptimized; then
	if ninja -C build-ci; then ok; run_meson_tests build-ci; else ko build; fi
else
	ko setup
fi

echo "== build with -Db_sanitize=address,undefined"
if (meson setup --wipe build-san --werror -Db_sanitize=address,undefined -Db_lundef=false >/dev/null 2>&1 ||
    meson setup build-san --werror -Db_sanitize=address,undefined -Db_lundef=false) && ninja -C build-san; then
	ok
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_meson_tests build-san
else
	ko sanitize-build
fi

echo "== fuzz targets (clang libFuzzer, ${FUZZ_SECONDS}s each)"
if (CC=clang meson setup --wipe build-fuzz -Dfuzz=true >/dev/null 2>&1 ||
    CC=clang meson setup build-fuzz -Dfuzz=true) && ninja -C build-fuzz; then
	ok
	for f in build-fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=build-fuzz/corpus-$name
		mkdir -p "$corpus"
		seeds=""
		[ -d "tests/fuzz/seeds/$name" ] && seeds="tests/fuzz/seeds/$name"
		if "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 "$corpus" $seeds >"$corpus.log" 2>&1; then
			ok
			echo "$name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$corpus.log" || tail -n 1 "$corpus.log")"
		else
			tail -n 40 "$corpus.log"
			ko "$name"
		fi
	done
else
	ko fuzz-build
fi

echo "== man pages (mandoc -T lint)"
for m in man/*.[0-9]; do
	[ -f "$m" ] || continue
	out=$(mandoc -T lint -W warning "$m" 2>&1)
	if [ -z "$out" ]; then ok; else echo "$out"; ko "$m"; fi
done

[ -z "$failed" ] || echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
