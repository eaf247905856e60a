#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian package (issue 21, packaging/): cpack builds it from this build folder; dpkg-deb
# shows its contents (pacsd and pacs in /usr/bin, the conffile /etc/pacsd/pacsd.conf with every
# setting pacsd knows, the unit pacsd.service and its hardening, maintainer scripts, a Depends
# computed by dpkg-shlibdeps); `systemd-analyze verify` accepts the unit without a word, and
# `systemd-analyze security` rates its exposure 2.0 or better. As root
# (CI), and only when no pacsd package is installed already: apt installs it, which makes the
# system user pacsd and /var/lib/pacsd; the unit's ExecStart, run as user pacsd with a clean
# environment (as systemd would; there may be no running systemd), answers C-ECHO and stores an
# instance; `dpkg --purge` removes it, and the test removes the user and folder it made.
# Without root, or without cpack/dpkg-deb/systemd-analyze, it exits 77 (SKIP) saying why.
. "$SRC/tests/lib.sh"
: "${PACS:?PACS must point to the pacs tool}"

skip() {
    echo "SKIP [$TEST_NAME]: $*"
    exit 77
}
for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (scripts/deps.sh)"
done
BUILD=$(dirname "$(dirname "$PACSD")")
[ -f "$BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $BUILD"

# -- the package --
timeout 600 cpack -G DEB -B "$WORK/pkg" --config "$BUILD/CPackConfig.cmake" >"$WORK/cpack.log" 2>&1 ||
    fail "cpack: $(tail -20 "$WORK/cpack.log")"
DEB=$(ls "$WORK"/pkg/pacsd_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || fail "cpack wrote no pacsd_*.deb: $(ls "$WORK/pkg")"
dpkg-deb -c "$DEB" | awk '{print $6}' >"$WORK/contents"
for f in ./usr/bin/pacsd ./usr/bin/pacs ./etc/pacsd/pacsd.conf ./lib/systemd/system/pacsd.service; do
    grep -qx "$f" "$WORK/contents" || fail "$f is not in the package: $(cat "$WORK/contents")"
done
dpkg-deb -f "$DEB" Package Depends >"$WORK/control"
grep -qx 'Package: pacsd' "$WORK/control" || fail "control: $(cat "$WORK/control")"
grep -q 'libdcmtk[0-9]* (>= ' "$WORK/control" && grep -q 'libc6 (>= ' "$WORK/control" ||
    fail "Depends was not computed by dpkg-shlibdeps: $(cat "$WORK/control")"
dpkg-deb -e "$DEB" "$WORK/ctl"
assert_eq /etc/pacsd/pacsd.conf "$(cat "$WORK/ctl/conffiles")" "conffiles"
for s in postinst prerm postrm; do
    [ -x "$WORK/ctl/$s" ] || fail "no executable $s in the package"
done
grep -q 'useradd --system' "$WORK/ctl/postinst" || fail "postinst makes no system user"

# The conffile: data = /var/lib/pacsd, every other setting commented with its default, and
# accepted by the tools as it is.
dpkg-deb -x "$DEB" "$WORK/root"
CONF="$WORK/root/etc/pacsd/pacsd.conf"
assert_eq "data = /var/lib/pacsd" "$(grep -v '^#' "$CONF" | grep -v '^$')" "the conffile's settings"
"$PACSD" --help-config | awk '{print $1}' | while read -r key; do
    [ "$key" = data ] || grep -q "^# $key =" "$CONF" || fail "the conffile does not list $key"
done
"$PACS" --config "$CONF" --data "$WORK/probe" stats >/dev/null 2>"$WORK/err" ||
    fail "the conffile is not accepted: $(cat "$WORK/err")"

# The unit.
UNIT="$WORK/root/lib/systemd/system/pacsd.service"
for line in 'User=pacsd' 'ExecStart=/usr/bin/pacsd --config /etc/pacsd/pacsd.conf' \
    'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/pacsd' \
    'ProtectHome=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=' 'AmbientCapabilities='; do
    grep -qx "$line" "$UNIT" || fail "the unit lacks $line"
done
# verify checks that ExecStart exists: before installing, a copy names the extracted binary.
sed "s|/usr/bin/pacsd|$WORK/root/usr/bin/pacsd|" "$UNIT" >"$WORK/pacsd.service"
out=$(systemd-analyze verify "$WORK/pacsd.service" 2>&1) || fail "systemd-analyze verify: $out"
assert_eq "" "$out" "systemd-analyze verify's remarks"
# systemd's own rating of the hardening (0 best, 10 worst); 1.4 when written.
level=$(systemd-analyze security --offline=true "$WORK/pacsd.service" 2>&1 |
    sed -n 's/.*Overall exposure level for pacsd.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || fail "systemd-analyze security gave no exposure level"
awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
    fail "the unit's exposure level is $level, above 2.0: hardening was lost"

# -- installed, run as pacsd, removed: root only, and never over a pacsd already installed --
[ "$(id -u)" -eq 0 ] || skip "the package built and checked; installing it needs root (uid $(id -u))"
if dpkg-query -W -f='${Status}' pacsd 2>/dev/null | grep -q 'install ok'; then
    skip "a pacsd package is installed on this machine: not touching it"
fi
had_user=0
getent passwd pacsd >/dev/null && had_user=1
had_group=0
getent group pacsd >/dev/null && had_group=1
had_dir=0
[ -e /var/lib/pacsd ] && had_dir=1
RUN_PID=""
uninstall() {
    [ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null
    if dpkg-query -W -f='${Status}' pacsd 2>/dev/null | grep -q 'install'; then
        dpkg --purge pacsd >/dev/null 2>&1 || true
    fi
    [ "$had_user" = 1 ] || userdel pacsd 2>/dev/null || true
    [ "$had_group" = 1 ] || groupdel pacsd 2>/dev/null || true
    [ "$had_dir" = 1 ] || rm -rf /var/lib/pacsd
}
trap 'uninstall; cleanup' EXIT

DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends "$DEB" \
    >"$WORK/install.log" 2>&1 || fail "apt-get install ./$(basename "$DEB"): $(tail -20 "$WORK/install.log")"
dpkg-query -W -f='${Status}' pacsd | grep -q 'install ok installed' || fail "pacsd is not installed"
entry=$(getent passwd pacsd) || fail "postinst made no user pacsd"
uid=$(echo "$entry" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "pacsd is not a system user: $entry"
assert_eq /usr/sbin/nologin "$(echo "$entry" | cut -d: -f7)" "pacsd's shell"
assert_eq "pacsd pacsd 750" "$(stat -c '%U %G %a' /var/lib/pacsd)" "/var/lib/pacsd"
assert_eq "root pacsd 640" "$(stat -c '%U %G %a' /etc/pacsd/pacsd.conf)" "/etc/pacsd/pacsd.conf"
out=$(systemd-analyze verify /lib/systemd/system/pacsd.service 2>&1) ||
    fail "systemd-analyze verify (installed): $out"
assert_eq "" "$out" "systemd-analyze verify's remarks on the installed unit"
if [ -d /run/systemd/system ]; then
    # Where systemd runs, postinst started the service; stop it to run ExecStart by hand.
    systemctl is-active --quiet pacsd || fail "systemd runs here, but pacsd.service is not active"
    systemctl stop pacsd
fi

# The unit's ExecStart, as user pacsd with systemd's clean environment; ports from the
# environment (PACS_*, which the configuration file does not override) and a ready file.
EXEC=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/pacsd.service)
# shellcheck disable=SC2086 # ExecStart's words
setpriv --reuid pacsd --regid pacsd --init-groups --no-new-privs \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PACS_DIMSE_PORT=0 PACS_HTTP_PORT=0 PACS_HL7_PORT=0 \
    $EXEC --ready-file /var/lib/pacsd/test-ready >"$WORK/pacsd.log" 2>&1 &
RUN_PID=$!
timeout 30 sh -c 'until [ -s /var/lib/pacsd/test-ready ]; do sleep 0.05; done' ||
    fail "the installed pacsd did not become ready"
. /var/lib/pacsd/test-ready
assert_eq pacsd "$(stat -c %U "/proc/$PID")" "the user pacsd runs as"
timeout 60 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" >"$WORK/echo.log" 2>&1 ||
    fail "C-ECHO to the installed pacsd: $(cat "$WORK/echo.log")"
store "$SAMPLES/test_files/CT_small.dcm" >"$WORK/store.log" 2>&1 ||
    fail "C-STORE to the installed pacsd: $(cat "$WORK/store.log")"
assert_eq pacsd "$(stat -c %U /var/lib/pacsd/index.sqlite)" "the index's owner"
kill -TERM "$RUN_PID"
timeout 30 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done' _ "$RUN_PID" ||
    fail "the installed pacsd did not stop on SIGTERM"
RUN_PID=""

# Purged: nothing of the package is left but the archive and its user (kept on purpose).
timeout 120 dpkg --purge pacsd >"$WORK/purge.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/purge.log")"
for f in /usr/bin/pacsd /usr/bin/pacs /etc/pacsd /lib/systemd/system/pacsd.service \
    /etc/systemd/system/multi-user.target.wants/pacsd.service; do
    [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
grep -q '/var/lib/pacsd (the archive) and the user pacsd are kept' "$WORK/purge.log" ||
    fail "purge does not say the archive is kept: $(cat "$WORK/purge.log")"
[ -f /var/lib/pacsd/index.sqlite ] || fail "purge removed the archive"
pass
