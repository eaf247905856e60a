#!/bin/sh
# SPDX-License-Identifier: MIT
# The power-cut emulator checks itself (tests/tools/lostwrites.c and lostwrites_undo.c, which
# tests/test_power_cut.sh trusts): a Python process preloaded with it makes changes, flushes
# some of them, and kills itself; after the undo, exactly what POSIX's flushes promise is there.
# Each case names a file: what a flush made durable stays, everything else is gone.
. "$SRC/tests/lib.sh"
: "${LOSTWRITES_SHIM:?LOSTWRITES_SHIM must point to tests/tools/lostwrites.c's library}"
: "${LOSTWRITES_UNDO:?LOSTWRITES_UNDO must point to lostwrites_undo}"

D="$WORK/disk"
mkdir -p "$D" "$WORK/side"
cat >"$WORK/changes.py" <<'PY'
import os, signal, sys
d = sys.argv[1]
def p(n): return os.path.join(d, n)
def put(n, data, flags=os.O_CREAT | os.O_WRONLY | os.O_TRUNC, sync=False):
    fd = os.open(p(n), flags, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    return fd
def syncdir(path=d):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)

# k: sync() makes everything before it durable, name and bytes.
k = put("k", b"k-first")
os.sync()
# Made durable before the cut: file and name flushed.
for n in ("a", "e", "f", "h"):
    os.close(put(n, b"old-" + n.encode(), sync=True))
os.close(put("h", b"12345678", sync=True))
syncdir()
# a: an append never flushed is lost; the flushed start stays.
fd = os.open(p("a"), os.O_WRONLY | os.O_APPEND)
os.write(fd, b" lost")
os.close(fd)
# c -> d: written, flushed, renamed, folder flushed: d holds it, c is gone.
os.close(put("c", b"c-data", sync=True))
os.rename(p("c"), p("d"))
syncdir()
# b: data flushed, name not: the file is lost.
os.close(put("b", b"b-data", sync=True))
# e: removed, folder never flushed again: it comes back.
os.unlink(p("e"))
# f: replaced by a flushed g renamed over it, folder not flushed: f keeps its old bytes, g
# (never named durably) is gone.
os.close(put("g", b"new-f", sync=True))
os.rename(p("g"), p("f"))
# h: cut to 3 bytes, never flushed: all 8 come back.
fd = os.open(p("h"), os.O_WRONLY)
os.ftruncate(fd, 3)
os.close(fd)
# k: what is written after the sync is lost: an append, and an overwrite of durable bytes.
os.write(k, b" k-lost")
# sub/x: flushed in a folder whose own name never was: both lost.
os.mkdir(p("sub"))
os.close(put("sub/x", b"x", sync=True))
syncdir(p("sub"))
os.pwrite(k, b"K", 0)
os.kill(os.getpid(), signal.SIGKILL)
PY
LD_PRELOAD="$LOSTWRITES_SHIM" LOST_PREFIX="$D/" LOST_JOURNAL="$WORK/journal" \
    LOST_SIDE="$WORK/side" python3 "$WORK/changes.py" "$D" 2>"$WORK/py.err" && true
[ -s "$WORK/journal" ] || fail "nothing journaled: $(cat "$WORK/py.err")"
"$LOSTWRITES_UNDO" "$WORK/journal" "$WORK/side" >"$WORK/undo.out" || fail "undo: $(cat "$WORK/undo.out")"
cat "$WORK/undo.out"

content() { if [ -e "$D/$1" ]; then cat "$D/$1"; else echo "(none)"; fi; }
assert_eq "old-a" "$(content a)" "a: the unflushed append"
assert_eq "(none)" "$(content b)" "b: a flushed file whose name was not"
assert_eq "(none)" "$(content c)" "c: renamed away durably"
assert_eq "c-data" "$(content d)" "d: renamed in durably"
assert_eq "old-e" "$(content e)" "e: an unflushed unlink"
assert_eq "old-f" "$(content f)" "f: an unflushed rename over it"
assert_eq "(none)" "$(content g)" "g: never durably named"
assert_eq "12345678" "$(content h)" "h: an unflushed truncation"
assert_eq "k-first" "$(content k)" "k: durable by sync(), then appended to and overwritten"
assert_eq "(none)" "$(content sub)" "sub: a folder never durably named"
[ ! -e "$WORK/side" ] || fail "side links left behind"
grep -q "undid .* write(s)" "$WORK/undo.out" || fail "no summary line"
pass
