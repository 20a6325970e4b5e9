#!/usr/bin/env python3
"""ui_notices.py: tincan.conf, typing notices and key-change warnings in the real curses UI.

    python3 tests/ui_notices.py build/tincan

Two curses clients (alice, bob) in tmux and a headless one (carol) in one network namespace,
LAN mode. Checks: a bad tincan.conf stops the start with file:line before curses starts;
-f FILE and DIR/tincan.conf change the screen (timestamp format, hidden pane, pane width);
typing in one client shows "alice is typing..." in the other's title line and a mark in its
buddy pane, then "paused" after 5 s idle, and goes away when the input is cleared or sent;
commands and `/set typing.send off` send no notice (the headless client sees the frames as
`typing` lines, so their absence before a message is checked); `/typing` from the headless
client shows in the curses one; `/set typing.show off` hides a notice. Key change: a LAN peer
that takes a contact's name with another key puts a red line in the contact's window and in
window 1, [KEY CHANGED] in the title and a '!' in the pane, and holds messages to that contact
until `/verify <contact> confirm` (the headless client gets `warning` and `error key-changed`,
also after a restart: the mark is kept in the contacts file).
Every wait has a deadline.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ui_tmux as ut  # noqa: E402  (tmux helpers: send-keys, capture-pane, bounded waits)
from ui_tmux import Fail, fmt, keys, screen, typed, wait_screen, wait_until  # noqa: E402

LAN_PORT = "17489"
PROMPT = ut.PROMPT


def title_row(t):
    return ut.title_row(t)


def title_has(t, text, timeout=10.0, absent=False):
    what = f"{t}: title {'without' if absent else 'with'} {text!r}"
    try:
        return wait_until(what, lambda: (text in title_row(t)) != absent, timeout)
    except Fail as e:
        raise Fail(f"{e}\n--- screen {t}:\n{screen(t)}") from None


def start_ui(t, tincan, args, lan=True):
    cmd = f"{tincan} {args}" + (f" --lan --lan-port {LAN_PORT}" if lan else "")
    typed(t, f"{cmd}; echo EXIT=$?", enter=True)


def headless(lab, h, tincan, home, port, nick):
    p = lab.spawn(h, [tincan, "--headless", "--home", home, "--lan", "--port", str(port),
                      "--lan-port", LAN_PORT, "--nick", nick], env={"LC_ALL": "C.UTF-8"},
                  name=nick)
    m = p.expect(r"^ready (\S+)")
    p.id = m.group(1)
    return p


def lines_between(p, start, word):
    """Lines of p from index start up to the first that starts with word (that one excluded)."""
    with p._cond:
        got = list(p.lines[start:])
    for i, line in enumerate(got):
        if line.startswith(word):
            return got[:i]
    raise Fail(f"{p.name}: no {word!r} line after line {start}")


def check_config(tmp, tincan):
    """A bad file: file:line on stderr, exit status 1, the terminal never switched."""
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("# settings\npane.width = 300\n")
    start_ui("a", tincan, f"--home {tmp}/never -f {bad}", lan=False)
    wait_screen("a", re.escape(f"tincan: {bad}:2: pane.width: a number of columns from 10 to 60"))
    wait_screen("a", r"^EXIT=1")
    if fmt("a", "#{alternate_on}") != "0" or os.path.exists(os.path.join(tmp, "never")):
        raise Fail("a bad configuration started something")


def run(tincan, lab, tmp):
    h = lab.host("h")
    lab.run(h, ["ip", "link", "set", "lo", "multicast", "on"])
    ut.start_shells(lab, h, 100, 24)
    check_config(tmp, tincan)

    # alice: -f FILE; bob: tincan.conf in his --home
    homes = {n: os.path.join(tmp, n) for n in ("alice", "bob", "carol", "mallory")}
    conf = os.path.join(tmp, "alice.conf")
    with open(conf, "w") as f:
        f.write('timestamps.format = "%H.%M.%S"\npane.hidden = on\nnick = alice\n')
    os.makedirs(homes["bob"])
    with open(os.path.join(homes["bob"], "tincan.conf"), "w") as f:
        f.write("pane.width = 30\nnick = bob\n")
    start_ui("a", tincan, f"--home {homes['alice']} --port 17401 -f {conf}")
    start_ui("b", tincan, f"--home {homes['bob']} --port 17402")
    for t in "ab":
        wait_screen(t, r"your ID is")
    typed("a", "/peers", enter=True)
    wait_screen("a", r"peer bob ")
    typed("a", "/add bob hello", enter=True)
    wait_screen("b", r"asks to be your contact")
    typed("b", "/accept alice", enter=True)
    wait_screen("a", r"bob is online")
    wait_screen("b", r"alice is online")
    # what the files said: HH.MM.SS and no pane for alice, a 30-column pane for bob
    wait_screen("a", r"^\d\d\.\d\d\.\d\d -!- bob is online")
    if any(len(r) > 70 and r[70:71] == "|" or r.rstrip().endswith("|") for r in ut.rows("a")):
        raise Fail(f"alice's pane shows although pane.hidden = on\n{screen('a')}")
    wait_screen("b", r"^\d\d:\d\d -!- alice is online")
    if not all(r[70:72] == "| " or r[70:71] == "|" for r in ut.rows("b")[1:-3]):
        raise Fail(f"bob's pane is not 30 columns wide\n{screen('b')}")

    # typing: alice in bob's window, bob looking at alice's
    typed("a", "/query bob", enter=True)
    wait_screen("a", r"^\[2:bob\]")
    typed("b", "/query alice", enter=True)
    wait_screen("b", r"^\[2:alice\]")
    typed("a", "hel")
    title_has("b", "alice is typing...")
    wait_screen("b", r"\| o alice +\.\.\.")                 # the pane's mark
    title_has("b", "alice paused typing", timeout=10)       # 5 s without a key
    wait_screen("b", r"\| o alice +\.\.\.", absent=True)
    typed("a", "lo")
    title_has("b", "alice is typing...")
    keys("a", "C-c")                                       # cleared: stopped
    title_has("b", "alice is typing", absent=True)
    title_has("b", "alice paused", absent=True)
    typed("a", "hi bob")
    title_has("b", "alice is typing...")
    keys("a", "Enter")                                     # sent: stopped
    wait_screen("b", r"<alice> hi bob")
    title_has("b", "alice is typing", absent=True)
    # typing.show off hides a notice that is showing
    typed("a", "more")
    title_has("b", "alice is typing...")
    typed("b", "/set typing.show off", enter=True)
    title_has("b", "alice is typing", absent=True)
    wait_screen("b", r"typing.show off")
    typed("b", "/set typing.show on", enter=True)
    title_has("b", "alice is typing...")
    keys("a", "C-c")
    title_has("b", "alice is typing", absent=True)

    # a headless contact sees the frames as lines
    carol = headless(lab, h, tincan, homes["carol"], 17403, "carol")
    carol.send("/peers")
    carol.expect(r"^peer \S+ alice ")
    carol.send("/add alice hi")
    wait_screen("a", r"Act: 1")
    keys("a", "M-1")
    wait_screen("a", r"carol \(\S+\) asks to be your")
    typed("a", "/accept carol", enter=True)
    carol.expect(r"^online ")
    typed("a", "/query carol", enter=True)
    wait_screen("a", r"^\[3:carol\]")
    typed("a", "x")
    m = carol.expect(r"^typing (\S+) typing$")
    alice_id = m.group(1)
    carol.expect(rf"^typing {alice_id} paused$", timeout=10)
    keys("a", "C-c")
    carol.expect(rf"^typing {alice_id} stopped$")
    # a command is not typing
    mark = len(carol.lines)
    typed("a", "/hel")
    keys("a", "C-c")
    typed("a", "/msg carol after a command", enter=True)
    carol.expect(r"^msg \S+ \d+ \d+ after a command$")
    if any(line.startswith("typing ") for line in lines_between(carol, mark, "msg ")):
        raise Fail(f"a command was announced as typing\n{carol.tail()}")
    # typing.send off: nothing goes out
    typed("a", "/set typing.send off", enter=True)
    wait_screen("a", r"typing.send off")
    mark = len(carol.lines)
    typed("a", "secret words", enter=True)
    carol.expect(r"^msg \S+ \d+ \d+ secret words$")
    if any(line.startswith("typing ") for line in lines_between(carol, mark, "msg ")):
        raise Fail(f"typing.send off still sent notices\n{carol.tail()}")
    typed("a", "/set typing.send on", enter=True)
    wait_screen("a", r"typing.send on")
    # /typing from the headless side shows in the curses one
    carol.send(f"/typing {alice_id} typing")
    title_has("a", "carol is typing...")
    carol.send("/typing alice stopped")
    title_has("a", "carol is typing", absent=True)
    carol.send("/typing alice dancing")
    carol.expect(r"^error usage /typing")
    key_change(lab, h, tincan, homes, carol, alice_id)


def quit_ok(p):
    """p has been told /quit: it must exit 0 (a sanitizer report would make it non-zero)."""
    rc = p.wait(10)
    if rc != 0:
        raise Fail(f"{p.name}: exit status {rc}\n{p.tail()}")


def red_row(t, text):
    """The row holding text is drawn in red (SGR 31 somewhere before it on that row)."""
    for row in ut.tmux("capture-pane", "-p", "-e", "-t", t).split("\n"):
        if text in re.sub(r"\x1b\[[0-9;]*m", "", row):
            return re.search(r"\x1b\[([0-9;]*;)?31(;[0-9;]*)?m", row) is not None
    return False


def key_change(lab, h, tincan, homes, carol, alice_id):
    # mallory calls itself bob: alice (curses) sees it everywhere, sending to bob is held
    mallory = headless(lab, h, tincan, homes["mallory"], 17404, "bob")
    mallory.send("/peers")
    wait_screen("a", r"Act: .*1")
    keys("a", "M-1")
    wait_screen("a", r"WARNING: bob: a LAN peer calls itself bob, but its key")
    if not red_row("a", "WARNING: bob: a LAN peer"):
        raise Fail(f"the warning in window 1 is not red\n{screen('a')}")
    keys("a", "M-2")
    title_has("a", "[KEY CHANGED] compare: /verify bob, then /verify bob confirm")
    wait_screen("a", r"WARNING: a LAN peer calls itself bob")
    if not red_row("a", "WARNING: a LAN peer calls itself bob"):
        raise Fail(f"the warning in bob's window is not red\n{screen('a')}")
    typed("a", "are you bob?", enter=True)
    wait_screen("a", r"not sent: the key of bob changed")
    keys("a", "F7")                             # alice's pane (hidden by her file): bob '!'
    wait_screen("a", r"\| o bob +!")
    keys("a", "F7")
    wait_screen("a", r"\| o bob", absent=True)
    # the headless side: mallory now calls itself alice; carol gets a warning and an error
    mallory.send("/nick alice")
    mallory.send("/peers")
    carol.expect(rf"^warning {alice_id} a LAN peer calls itself alice, but its key", timeout=15)
    carol.send(f"/msg {alice_id} are you alice?")
    carol.expect(r"^error key-changed not sent: another key claimed the name alice")
    mallory.send("/quit")
    quit_ok(mallory)
    # kept across a restart, until /verify ... confirm
    carol.send("/quit")
    quit_ok(carol)
    carol = headless(lab, h, tincan, homes["carol"], 17403, "carol")
    with open(os.path.join(homes["carol"], "contacts")) as f:
        flags = [int(line.split()[1]) for line in f if line.startswith(alice_id)]
    if len(flags) != 1 or not flags[0] & 256:
        raise Fail(f"the key-changed mark is not in carol's contacts file: {flags}")
    carol.send("/msg alice after the restart")
    carol.expect(r"^error key-changed ")
    carol.send("/verify alice")
    carol.expect(r"^info alice: safety number [0-9 ]+ .*\[KEY CHANGED: ")
    carol.send("/verify alice confirm")
    carol.expect(r"^info alice: safety number .*\[verified\]")
    carol.send("/msg alice verified now")
    carol.expect(r"^queued ")
    carol.expect(r"^delivered ", timeout=20)
    # alice confirms bob's pinned key: the title clears, sending works again
    typed("a", "/verify bob confirm", enter=True)
    title_has("a", "[KEY CHANGED]", absent=True)
    title_has("a", "[verified]")
    typed("a", "after verify", enter=True)
    wait_screen("b", r"<alice> after verify")
    if "are you bob?" in screen("b"):
        raise Fail("a held message reached bob")
    carol.send("/quit")
    quit_ok(carol)


def quit_both():
    for t in "ab":
        typed(t, "/quit", enter=True)
        wait_screen(t, r"^EXIT=0\s*\n" + re.escape(PROMPT.strip()))


if __name__ == "__main__":
    sys.exit(ut.lab_main("ui-notices", "uin", "tincan-uin-", run, quit_both))
