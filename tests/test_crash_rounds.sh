#!/bin/sh
# SPDX-License-Identifier: MIT
# Crash safety, repeated: in every round, instances go in over DIMSE (several storescu
# associations) and STOW-RS (several HTTP clients) at once, pacsd is killed with SIGKILL at a
# random moment, and restarted. After each restart every instance acknowledged in that round
# is found and retrieved byte-identical (its dataset, after the meta header pacsd writes), and
# every instance acknowledged in any earlier round is still found; the files the kill left
# unacknowledged are sent again in the next round (a modality's retry). At the end
# `pacs verify` is clean: nothing corrupt or missing, and the orphans the kills left were
# swept at each restart.
#
# CI runs a few rounds. The long run is the same test with more rounds, by hand:
#   CRASH_ROUNDS=200 ctest -R test_crash_rounds --output-on-failure   (in a build folder)
# Other knobs: CRASH_ASSOCS, CRASH_PER_ASSOC (storescu), CRASH_STOWS, CRASH_PER_STOW (STOW-RS).
# CRASH_CUT=1 makes each kill a power cut (tests/test_power_cut.sh): pacsd runs with the
# emulator tests/tools/lostwrites.c preloaded, and before each restart every change it made
# in the data folder that no flush had made durable is thrown away (tests/tools/lostwrites_undo).
. "$SRC/tests/lib.sh"

ROUNDS=${CRASH_ROUNDS:-6}
ASSOCS=${CRASH_ASSOCS:-3}
PER_ASSOC=${CRASH_PER_ASSOC:-40}
STOWS=${CRASH_STOWS:-2}
PER_STOW=${CRASH_PER_STOW:-30}
STOW_TOOL="python3 $SRC/tests/tools/stow_tool.py"

CUT=${CRASH_CUT:-0}
undone_total=0 unflushed_total=0
# Starts pacsd; under CRASH_CUT with the emulator journaling its changes (only pacsd's).
start_round_pacsd() {
    if [ "$CUT" = 1 ]; then
        mkdir -p "$WORK/side"
        export LD_PRELOAD="$LOSTWRITES_SHIM" LOST_PREFIX="$DATA/" LOST_JOURNAL="$WORK/journal"
        export LOST_SIDE="$WORK/side"
        start_pacsd
        unset LD_PRELOAD LOST_PREFIX LOST_JOURNAL LOST_SIDE
    else
        start_pacsd
    fi
}
# Under CRASH_CUT, after a kill: what no flush covered goes, as in a power cut. Every third
# cut keeps the SQLite index's unflushed writes (its log reached the disk, the objects did not):
# rows of instances never acknowledged may then name objects that are not there, which the
# start-up check of the puts made just before (ingest.one_flush) must remove.
cut_power() {
    [ "$CUT" = 1 ] || return 0
    keep=""
    [ $((r % 3)) = 1 ] && keep="$DATA/index.sqlite-wal $DATA/index.sqlite"
    LOST_KEEP="$keep" "$LOSTWRITES_UNDO" "$WORK/journal" "$WORK/side" >"$WORK/undo.out" 2>&1 ||
        fail "the power cut could not be emulated: $(cat "$WORK/undo.out")"
    rm -f "$WORK/journal"
    echo "round $r: $(cat "$WORK/undo.out")${keep:+ (the index's writes kept)}"
    n=$(sed -n 's/^lostwrites: undid \([0-9]*\) write.* \([0-9]*\) size change(s), \([0-9]*\) new file(s).*/\1 \2 \3/p' \
        "$WORK/undo.out" | awk '{ print $1 + $2 + $3 }')
    undone_total=$((undone_total + ${n:-0}))
}

# A random integer from $1 to $2.
rand() {
    od -An -N4 -tu4 /dev/urandom | awk -v lo="$1" -v hi="$2" '{ print lo + $1 % (hi - lo + 1) }'
}

: >"$WORK/acked-uids"   # every SOP Instance UID acknowledged so far, sorted
head -c 307200 /dev/urandom >"$WORK/big.bin"
: >"$WORK/pending"      # files sent but not acknowledged: sent again next round
dimse_acked=0 stow_acked=0 mid_stream=0 swept_total=0 resent_total=0
start_round_pacsd
if [ "$CUT" = 1 ]; then
    # A power cut before anything was stored is a crash all the same: what opening the archive
    # made (the lock file that says it is open, its folders) must have been made durable.
    r=0
    kill9_pacsd
    cut_power
    start_round_pacsd
    grep -q "ended uncleanly" "$WORK/pacsd.log" ||
        fail "a power cut before the first store went unnoticed: $(tail -3 "$WORK/pacsd.log")"
fi
r=1
while [ "$r" -le "$ROUNDS" ]; do
    dir="$WORK/r$r"
    mkdir -p "$dir"
    a=1
    while [ "$a" -le "$ASSOCS" ]; do
        make_ct_copies "$dir/s$a" "$PER_ASSOC"
        a=$((a + 1))
    done
    b=1
    while [ "$b" -le "$STOWS" ]; do
        make_ct_copies "$dir/w$b" "$PER_STOW"
        b=$((b + 1))
    done
    # One large instance per client kind (about 350 KB): an object of 256 KB or more has its
    # pages sent to the disk while it arrives (objstore.c), and is cut with the others.
    for big in "$dir/s1/ct1.dcm" "$dir/w1/ct1.dcm"; do
        [ -f "$big" ] || continue
        timeout 60 dcmodify -nb -q -i "(0029,0010)=PACS TEST" -if "(0029,1010)=$WORK/big.bin" "$big" ||
            fail "dcmodify could not make $big large"
    done
    cp "$WORK/pending" "$dir/resend"
    : >"$WORK/pending"
    total=$((ASSOCS * PER_ASSOC + STOWS * PER_STOW))

    # Clients: storescu per association, the STOW-RS tool per HTTP client, and one more
    # association for last round's unacknowledged files. The kill comes once a random share
    # (up to three quarters) of this round's objects are in and every HTTP client has had an
    # answer, or when all clients are done.
    n_resend=$(wc -l <"$dir/resend" | tr -d ' ')
    target=$(($(count_files "$DATA/objects") + $(rand 1 $(((total + n_resend) * 3 / 4)))))
    # Under CRASH_CUT, every second kill waits for the clients to finish: with nothing after the
    # last acknowledgement to flush it by chance, an answer given before the flush is caught.
    if [ "$CUT" = 1 ] && [ $((r % 2)) = 0 ]; then
        target=1000000000
    fi
    pids=""
    a=1
    while [ "$a" -le "$ASSOCS" ]; do
        timeout 300 storescu -v -aec PACS 127.0.0.1 "$DIMSE_PORT" "$dir/s$a"/ct*.dcm \
            >"$dir/storescu$a.log" 2>&1 &
        pids="$pids $!"
        a=$((a + 1))
    done
    if [ -s "$dir/resend" ]; then
        # shellcheck disable=SC2046
        timeout 300 storescu -v -aec PACS 127.0.0.1 "$DIMSE_PORT" $(cat "$dir/resend") \
            >"$dir/storescu-resend.log" 2>&1 &
        pids="$pids $!"
        resent_total=$((resent_total + n_resend))
    fi
    b=1
    while [ "$b" -le "$STOWS" ]; do
        timeout 300 $STOW_TOOL stow --url "http://127.0.0.1:$HTTP_PORT/dicomweb" \
            --per-request 3 --acked "$dir/acked-w$b" "$dir/w$b"/ct*.dcm >"$dir/stow$b.log" 2>&1 &
        pids="$pids $!"
        b=$((b + 1))
    done

    timeout 120 sh -c 'answered() { for f in "$1"/acked-w*; do [ -s "$f" ] || return 1; done
            [ "$(ls "$1" | grep -c "^acked-w")" -ge "$2" ]; }
        until [ "$(find "$3/objects" -type f | wc -l)" -ge "$4" ] && answered "$1" "$2"; do
        alive=0; for p in $5; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 1 ] || exit 0; sleep 0.02; done' _ "$dir" "$STOWS" "$DATA" "$target" "$pids" ||
        fail "round $r: no progress before the kill"
    kill9_pacsd
    for p in $pids; do
        wait "$p" || true
    done
    cut_power

    # What the clients were told: storescu's successes and the STOW-RS tool's list.
    : >"$dir/acked"
    for log in "$dir"/storescu*.log; do
        awk '/Sending file: / { f = $NF }
             /Received Store Response \(Success\)/ { if (f != "") print f; f = "" }' "$log"
    done >"$dir/acked-dimse"
    cat "$dir"/acked-w* 2>/dev/null >"$dir/acked-stow" || true
    cat "$dir/acked-dimse" "$dir/acked-stow" | sort -u >"$dir/acked"
    n_dimse=$(wc -l <"$dir/acked-dimse" | tr -d ' ')
    n_stow=$(wc -l <"$dir/acked-stow" | tr -d ' ')
    dimse_acked=$((dimse_acked + n_dimse))
    stow_acked=$((stow_acked + n_stow))
    ls "$dir"/s*/ct*.dcm "$dir"/w*/ct*.dcm | cat - "$dir/resend" | sort -u >"$dir/sent"
    comm -23 "$dir/sent" "$dir/acked" >"$WORK/pending"
    n_pending=$(wc -l <"$WORK/pending" | tr -d ' ')
    [ "$n_pending" -gt 0 ] && mid_stream=$((mid_stream + 1))

    # Restart: the crash is noticed, orphans swept, nothing left in tmp/.
    cleans=$(grep -c "ended uncleanly" "$WORK/pacsd.log" || true)
    logn=$(wc -l <"$WORK/pacsd.log")
    start_round_pacsd
    [ "$(grep -c "ended uncleanly" "$WORK/pacsd.log")" -gt "$cleans" ] ||
        fail "round $r: the restart did not notice the crash: $(tail -5 "$WORK/pacsd.log")"
    swept=$(grep "ended uncleanly" "$WORK/pacsd.log" | tail -1 | sed -n 's/.*swept \([0-9]*\).*/\1/p')
    swept_total=$((swept_total + ${swept:-0}))
    unflushed=$(tail -n +"$((logn + 1))" "$WORK/pacsd.log" | grep "had not reached the disk" |
        sed -n 's/.*: \([0-9]*\) had not.*/\1/p')
    [ -z "$unflushed" ] || unflushed_total=$((unflushed_total + unflushed))
    assert_eq 0 "$(tmp_files)" "round $r: temporary files after the restart"
    # Nothing indexed lacks its object, before anything is sent again (a resend would heal it).
    if [ "$CUT" = 1 ]; then
        "$PACS" --data "$DATA" ${PACS_INDEX:+--set "index=$PACS_INDEX"} verify >"$dir/verify.log" 2>&1 ||
            true
        grep -q " 0 corrupt, 0 missing," "$dir/verify.log" ||
            fail "round $r: after the restart, indexed instances lack their object: $(cat "$dir/verify.log")"
    fi

    # This round's acknowledged instances: retrievable and byte-identical.
    if [ -s "$dir/acked" ]; then
        # shellcheck disable=SC2046
        timeout 300 $STOW_TOOL check --url "http://127.0.0.1:$HTTP_PORT/dicomweb" \
            $(cat "$dir/acked") >"$dir/check.log" 2>&1 ||
            fail "round $r: acknowledged instances lost or changed: $(grep -v '^CHECK' "$dir/check.log" | head -5)"
        # shellcheck disable=SC2046
        file_uids $(cat "$dir/acked") | sort -m - "$WORK/acked-uids" | uniq >"$WORK/acked-uids.new"
        mv "$WORK/acked-uids.new" "$WORK/acked-uids"
    fi
    # And every earlier one is still there.
    image_uids >"$WORK/found-uids"
    missing=$(comm -23 "$WORK/acked-uids" "$WORK/found-uids" | head -5)
    [ -z "$missing" ] || fail "round $r: acknowledged earlier, not found now: $missing"
    echo "round $r: acknowledged dimse=$n_dimse stow=$n_stow, unacknowledged=$n_pending," \
        "swept=${swept:-0}, stored in all=$(wc -l <"$WORK/found-uids" | tr -d ' ')"
    # Acknowledged files are checked; keep only the ones still to be sent again.
    # shellcheck disable=SC2046
    rm -f $(cat "$dir/acked")
    r=$((r + 1))
done

[ "$dimse_acked" -gt 0 ] || fail "no instance was acknowledged over DIMSE"
[ "$stow_acked" -gt 0 ] || fail "no instance was acknowledged over STOW-RS"
[ "$mid_stream" -gt 0 ] || fail "no kill came while instances were on their way"
if [ "$CUT" = 1 ]; then
    [ "$undone_total" -gt 0 ] || fail "no power cut threw away a write: the emulator saw nothing"
fi
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 ||
    fail "pacs verify after $ROUNDS crashes: $(cat "$WORK/verify.log")"
grep -q " 0 corrupt, 0 missing, 0 orphan" "$WORK/verify.log" ||
    fail "pacs verify: $(cat "$WORK/verify.log")"
cat "$WORK/verify.log"
echo "crash rounds: $ROUNDS survived, $mid_stream killed mid-stream; acknowledged" \
    "$dimse_acked over DIMSE and $stow_acked over STOW-RS, none lost;" \
    "$resent_total resent after a crash; $swept_total orphan object(s) swept" \
    "$([ "$CUT" = 1 ] && echo "; each a power cut: $undone_total unflushed change(s) thrown away," \
        "$unflushed_total indexed instance(s) whose object was lost removed at a restart")"
pass
