#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes the package's /etc/pacsd/pacsd.conf on stdout: every setting pacsd knows with its
# default, commented out, from `pacsd --help-config` (so the file cannot drift from the code),
# and the data folder of the service. Usage: pacsd-conf.sh PATH/TO/pacsd
set -eu
cat <<'HEAD'
# /etc/pacsd/pacsd.conf: the settings of the pacsd service (`key = value`; `#` starts a
# comment). Every setting is listed below with its default, commented out; uncomment and change
# what you need (`pacsd --help-config` prints the same list). Environment variables PACS_* and
# the command line (see the unit, pacsd.service) override this file.
# After a change: `systemctl restart pacsd`; known AEs and forwarding rules only:
# `systemctl reload pacsd`. Back up with `pacs --config /etc/pacsd/pacsd.conf backup DEST`.

# The data folder (objects, index, audit trail, share key). The service may write only here.
data = /var/lib/pacsd
HEAD
"$1" --help-config | awk '
{
    key = $1
    rest = substr($0, index($0, " = ") + 3)
    cut = index(rest, "  ")
    value = cut ? substr(rest, 1, cut - 1) : rest
    help = cut ? substr(rest, cut) : ""
    sub(/^ +/, "", help)
    if (key == "data") {
        next
    }
    print ""
    # the help, wrapped at 96 columns
    line = "#"
    n = split(help, words, " ")
    for (i = 1; i <= n; i++) {
        if (length(line) + 1 + length(words[i]) > 96) {
            print line
            line = "#"
        }
        line = line " " words[i]
    }
    print line
    print value == "" ? "# " key " =" : "# " key " = " value
}'
