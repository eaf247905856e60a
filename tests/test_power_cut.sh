#!/bin/sh
# SPDX-License-Identifier: MIT
# Power cuts, repeated (issue 20): tests/test_crash_rounds.sh with every kill turned into a
# power cut. pacsd runs with tests/tools/lostwrites.c preloaded, which journals each change it
# makes in the data folder and each flush; after the kill, tests/tools/lostwrites_undo throws
# away every change no flush had made durable (POSIX's rules: a file's fsync keeps its bytes,
# a folder's fsync its names, syncfs everything), as a disk without power would. Then, as in
# the crash rounds: every instance acknowledged is found, retrieved byte-identical and
# verifies; nothing unacknowledged is half there (`pacs verify`: nothing missing or corrupt).
# With PostgreSQL the index is the server's to keep; the objects are still cut.
#   CRASH_ROUNDS=50 ctest -R test_power_cut --output-on-failure   (the long run, by hand)
CRASH_CUT=1
. "$SRC/tests/test_crash_rounds.sh"
