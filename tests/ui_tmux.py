#!/usr/bin/env python3
"""ui_tmux.py: the real curses tincan in tmux: two clients (and a headless third) chatting in LAN mode
inside one network namespace; typed with send-keys, read with capture-pane.

    python3 tests/ui_tmux.py build/tincan

Checks: CJK typed on one side shows right on the other; #{cursor_x} after CJK input; wrapping of
a long CJK line at 40 columns, after resizing to 100 and to 20 (too small) and back; Alt+digit and
Alt+A; the bell flag for a message in another window; a message full of escape sequences and CR
shows as harmless text; a three-line paste waits for confirmation; PgUp scrollback, also paged in
from disk after a restart; /quit gives the terminal back. Every wait has a deadline.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402

SOCK = f"tincan-ui-{os.getpid()}"
LAN_PORT = "17389"
PROMPT = "tc$ "
CJK = "一二三四五六七八九十" * 3          # 30 wide characters, 60 cells, no punctuation
EVIL = ("\x1b[2J\x1b[H\x1b]2;pwned\x07\rEVIL\x1b[31mRED\x1b(0lqk\x1b[?1049l\x1b[?25l"
        "\x08\x08\x08\x1bc")
EVIL_SHOWN = "^[[2J^[[H^[]2;pwned^G^MEVIL^[[31mRED^[(0lqk^[[?1049l^[[?25l^H^H^H^[c"


class Fail(AssertionError):
    pass


def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-L", SOCK] + list(args), capture_output=True, text=True,
                       timeout=10)
    if check and r.returncode != 0:
        raise Fail(f"tmux {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def screen(t):
    return tmux("capture-pane", "-p", "-t", t)


def rows(t):
    return screen(t).split("\n")


def fmt(t, f):
    return tmux("display", "-p", "-t", t, f).strip()


def keys(t, *k):
    tmux("send-keys", "-t", t, *k)


def typed(t, text, enter=False):
    tmux("send-keys", "-t", t, "-l", text)
    if enter:
        keys(t, "Enter")


def wait_until(what, cond, timeout=10.0):
    """Poll cond() until it is true; raise Fail with what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {timeout:g} s: {what}")
        time.sleep(0.03)


def wait_screen(t, pattern, timeout=10.0, absent=False):
    """Wait until the pane shows (or, absent=True, no longer shows) regex pattern."""
    pat = re.compile(pattern, re.M)

    def check():
        s = screen(t)
        return (pat.search(s) is None) == absent and (s or True)
    try:
        return wait_until(f"{t}: /{pattern}/ {'gone' if absent else 'shown'}", check, timeout)
    except Fail as e:
        raise Fail(f"{e}\n--- screen {t}:\n{screen(t)}") from None


def start_shells(lab, h, width, height):
    """Two tmux sessions, a and b, each running sh in namespace h with the prompt PROMPT.

    Keys typed before sh prints its first prompt are echoed by the terminal ahead of it, and
    the new prompt then lands after the old one on the same row; so wait for sh's own prompt
    before typing anything."""
    env = ["-e", "LC_ALL=C.UTF-8"]
    size = ["-x", str(width), "-y", str(height)]
    lab.run(h, ["tmux", "-L", SOCK, "-f", "/dev/null", "new-session", "-d", "-s", "a"]
            + size + env + ["sh"])
    tmux("new-session", "-d", "-s", "b", *size, *env, "sh")
    for t in "ab":
        wait_screen(t, r"^[#$] ?$")
        typed(t, f"PS1='{PROMPT}'", enter=True)
        wait_screen(t, "^" + re.escape(PROMPT.strip()))


def press(t, *k):
    """Send keys and wait until the screen changes."""
    before = screen(t)
    keys(t, *k)
    wait_until(f"{t}: screen changes after {k}", lambda: screen(t) != before, 5)


def cells(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def status_row(t):
    return rows(t)[0]


def title_row(t):
    r = rows(t)
    return r[int(fmt(t, "#{pane_height}")) - 2]


def input_row(t):
    r = rows(t)
    return r[int(fmt(t, "#{pane_height}")) - 1]


def start_client(t, tincan, home, port, nick):
    typed(t, f"{tincan} --home {home} --lan --port {port} --lan-port {LAN_PORT} --nick {nick};"
             f" echo EXIT=$?", enter=True)
    wait_screen(t, r"your ID is")


def check_wrapped(t, text, width, indent):
    """The rows of the message holding text: each fits in width cells, continuation rows
    are indented, and together they give the text back, no character split."""
    r = rows(t)
    first = next((i for i, row in enumerate(r) if "<alice> " + text[:5] in row), None)
    if first is None:
        raise Fail(f"{t}: no row starts the long line\n{screen(t)}")
    got = r[first].split("<alice> ", 1)[1].rstrip(" |")
    got = got.split("|")[0].rstrip()
    n = 1
    while len(got) < len(text):
        row = r[first + n]
        if not row.startswith(" " * indent) or row[indent] == " ":
            raise Fail(f"{t}: continuation row {n} not indented by {indent}: {row!r}")
        got += row[indent:].split("|")[0].rstrip()
        n += 1
    for i in range(first, first + n):
        if cells(r[i].split("|")[0].rstrip()) > width:
            raise Fail(f"{t}: row wider than {width}: {r[i]!r}")
    if got != text:
        raise Fail(f"{t}: wrapped text differs: {got!r}")
    return n


def run(tincan, lab, tmp):
    h = lab.host("h")
    lab.run(h, ["ip", "link", "set", "lo", "multicast", "on"])
    start_shells(lab, h, 80, 24)
    tmux("set", "-g", "monitor-bell", "on")
    tmux("set", "-g", "bell-action", "any")
    homes = {n: os.path.join(tmp, n) for n in ("alice", "bob", "carol")}
    start_client("a", tincan, homes["alice"], 17301, "alice")
    start_client("b", tincan, homes["bob"], 17302, "bob")
    if fmt("b", "#{alternate_on}") != "1":
        raise Fail("the UI did not switch to the alternate screen")

    # meet on the LAN: alice asks, bob accepts
    typed("a", "/peers", enter=True)
    wait_screen("a", r"peer bob ")
    typed("a", "/add bob hello from alice", enter=True)
    wait_screen("b", r"asks to be your contact")
    typed("b", "/accept alice", enter=True)
    wait_screen("a", r"bob is online")
    wait_screen("b", r"alice is online")

    # a Chinese message into a window bob is not looking at: activity, bell
    if fmt("b", "#{window_bell_flag}") != "0":
        raise Fail("bell flag set before any message")
    typed("a", "/msg bob 你好，世界", enter=True)
    wait_screen("b", r"Act: 2\(1\)")
    wait_until("bob's bell flag", lambda: fmt("b", "#{window_bell_flag}") == "1")
    if "[1:status]" not in title_row("b"):
        raise Fail("bob left window 1 by himself")
    press("b", "M-a")                                    # Alt+A: the window with activity
    wait_screen("b", r"^\d\d:\d\d <alice> 你好，世界 ")
    if "[2:alice]" not in title_row("b") or "Act:" in status_row("b"):
        raise Fail(f"Alt+A did not go to window 2\n{screen('b')}")
    press("b", "M-1")
    wait_screen("b", r"^\[1:status\]")
    press("b", "M-2")
    wait_screen("b", r"^\[2:alice\]")

    # the cursor after wide characters: "> " + 4 wide + 3 narrow
    typed("b", "你好世界abc")
    wait_screen("b", r"^> 你好世界abc")
    wait_until("cursor_x 13", lambda: fmt("b", "#{cursor_x}") == "13")
    keys("b", "C-c")
    wait_screen("b", r"^> 你好世界abc", absent=True)

    # a long CJK line at 40 columns, then 100, then 20 (too small), then 80
    tmux("resize-window", "-t", "b", "-x", "40", "-y", "24")
    wait_until("40 columns", lambda: fmt("b", "#{pane_width}") == "40")
    wait_screen("b", r"\|$", absent=True)                 # no buddy pane below 60 columns
    typed("a", CJK, enter=True)
    wait_screen("b", "<alice> " + CJK[:13] + r"\s*$")
    if check_wrapped("b", CJK, 40, 14) != 3:
        raise Fail("a 60-cell line at 40 columns should take 3 rows")
    tmux("resize-window", "-t", "b", "-x", "100", "-y", "24")
    wait_screen("b", "<alice> " + CJK + r"\s*\|")
    tmux("resize-window", "-t", "b", "-x", "20", "-y", "24")
    wait_screen("b", r"^terminal too small")
    tmux("resize-window", "-t", "b", "-x", "80", "-y", "24")
    wait_screen("b", "<alice> " + CJK[:23])
    check_wrapped("b", CJK, 60, 14)
    if not status_row("b").startswith("[") or "[2:alice]" not in title_row("b"):
        raise Fail(f"screen not restored after resizing\n{screen('b')}")

    # a headless third client sends escape sequences and CR
    carol = lab.spawn(h, [tincan, "--headless", "--home", homes["carol"], "--lan", "--port",
                          "17303", "--lan-port", LAN_PORT, "--nick", "carol"],
                      env={"LC_ALL": "C.UTF-8"}, name="carol")
    carol.expect(r"^ready ")
    carol.send("/peers")
    carol.expect(r"^peer \S+ bob ")
    carol.send("/add bob hi")
    wait_screen("b", r"\| \? carol")                      # waiting, in the buddy pane
    typed("b", "/accept carol", enter=True)
    carol.expect(r"^online ")
    carol.send("/msg bob " + EVIL)
    carol.expect(r"^delivered ")
    wait_screen("b", r"Act:.* 3\(1\)")
    press("b", "M-3")
    wait_screen("b", r"^\[3:carol\]")
    flat = "".join(r.split("|")[0].strip() for r in rows("b"))
    if EVIL_SHOWN not in flat:
        raise Fail(f"escape sequences not shown as text\n{screen('b')}")
    if (not status_row("b").startswith("[") or "tincan" not in status_row("b") or
            not input_row("b").startswith(">") or fmt("b", "#{alternate_on}") != "1" or
            fmt("b", "#{pane_title}") == "pwned" or fmt("b", "#{cursor_flag}") != "1"):
        raise Fail(f"the screen was changed by peer text\n{screen('b')}")
    carol.send("/quit")
    carol.wait(10)

    # scrollback: 40 lines, PgUp until the first shows, Alt+End back
    for i in range(1, 41):
        typed("a", f"scroll {i:02d}", enter=True)
    press("b", "M-2")
    wait_screen("b", r"<alice> scroll 40")
    if re.search(r"scroll 05", screen("b")):
        raise Fail("scroll 05 visible before scrolling")
    for _ in range(6):
        if re.search(r"<alice> scroll 05", screen("b")):
            break
        press("b", "PPage")
    wait_screen("b", r"<alice> scroll 05", timeout=1)
    wait_screen("b", r"-- more --", timeout=1)
    press("b", "M-End")
    wait_screen("b", r"<alice> scroll 40")
    wait_screen("b", r"-- more --", absent=True)

    # a pasted text of three lines is inserted, and sent only when confirmed
    tmux("set-buffer", "-b", "p3", "paste one\npaste two\npaste three")
    tmux("paste-buffer", "-p", "-b", "p3", "-t", "a")
    wait_screen("a", r"^> paste one\|paste two\|paste three")
    keys("a", "Enter")
    wait_screen("a", r"send 3 lines\? Enter/Esc")
    keys("a", "Escape")
    wait_screen("a", r"send 3 lines", absent=True)
    keys("a", "C-c")
    wait_screen("a", r"^> paste one", absent=True)
    typed("a", "sync marker", enter=True)
    wait_screen("b", r"<alice> sync marker")
    if "paste one" in screen("b"):
        raise Fail("the paste was sent without confirmation")
    tmux("paste-buffer", "-p", "-b", "p3", "-t", "a")
    wait_screen("a", r"^> paste one")
    keys("a", "Enter")
    wait_screen("a", r"send 3 lines\? Enter/Esc")
    keys("a", "Enter")
    wait_screen("b", r"<alice> paste one[^\n]*\n[^\n]*<alice> paste two[^\n]*\n"
                     r"[^\n]*<alice> paste three")

    # /quit gives the terminal back
    typed("b", "/quit", enter=True)
    wait_screen("b", r"^EXIT=0\s*\n" + re.escape(PROMPT.strip()))
    if fmt("b", "#{alternate_on}") != "0":
        raise Fail("still on the alternate screen after /quit")

    # again: the conversation opens with its last lines from disk, older ones page in
    start_client("b", tincan, homes["bob"], 17302, "bob")
    typed("b", "/query alice", enter=True)
    wait_screen("b", r"<alice> paste three")
    wait_screen("b", r"scroll 05", absent=True, timeout=1)
    for _ in range(8):
        if re.search(r"<alice> scroll 05", screen("b")):
            break
        press("b", "PPage")
    wait_screen("b", r"<alice> scroll 05", timeout=1)
    for t in "ab":
        typed(t, "/quit", enter=True)
        wait_screen(t, r"^EXIT=0\s*\n" + re.escape(PROMPT.strip()))


def lab_main(name, lab_name, tmp_prefix, body, finish=None):
    """main() of a tmux test called name (ui-tmux: usage names ui_tmux.py): check argv and tmux,
    call body(tincan, lab, tmp) in a netlab.Lab called lab_name with a temporary directory, then
    finish() if given; on a failure in either, print each pane's last screen. The exit status."""
    if len(sys.argv) != 2:
        print(f"usage: {name.replace('-', '_')}.py path/to/tincan", file=sys.stderr)
        return 2
    tincan = os.path.abspath(sys.argv[1])
    if shutil.which("tmux") is None:
        print("tmux not installed (apt-get install tmux)", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix=tmp_prefix)
    try:
        with netlab.Lab(lab_name, timeout=280) as lab:
            try:
                body(tincan, lab, tmp)
                if finish is not None:
                    finish()
            except Exception:
                lab.failed = True
                for t in "ab":
                    r = subprocess.run(["tmux", "-L", SOCK, "capture-pane", "-p", "-t", t],
                                       capture_output=True, text=True)
                    print(f"--- last screen of {t}:\n{r.stdout}", file=sys.stderr)
                raise
    except (Fail, netlab.ExpectTimeout, netlab.LabTimeout) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        subprocess.run(["tmux", "-L", SOCK, "kill-server"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(lab_main("ui-tmux", "uit", "tincan-ui-", run))
