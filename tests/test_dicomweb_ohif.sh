#!/bin/sh
# SPDX-License-Identifier: MIT
# A real viewer against the real pacsd: OHIF 3.13.2's prebuilt app (the @ohif/app package's
# dist/, fetched with `npm pack`), served from another origin (so CORS is exercised), driven in
# Debian's headless Chromium by playwright-core (tests/node/ohif_test.js): the study list shows
# the stored studies, and opening a 40-slice CT fetches its series, metadata and frames with
# every DICOMweb request answered 2xx.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

OHIF_VERSION=3.13.2
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
mkdir -p "$WORK/node"
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/ohif_test.js" "$SRC/tests/node/serve_static.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1 &&
    timeout 300 npm pack --loglevel=error "@ohif/app@$OHIF_VERSION" >>npm.log 2>&1 &&
    tar xzf "ohif-app-$OHIF_VERSION.tgz") || fail "npm failed: $(tail -5 "$WORK/node/npm.log")"

WEB_PORT=$(free_port)
start_pacsd --set "http.cors_origins=http://127.0.0.1:$WEB_PORT"
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
T="$SAMPLES/test_files"

# OHIF's configuration: its DICOMweb data source pointed at this pacsd.
SITE="$WORK/node/package/dist"
sed -i -e "s|https://d14fa38qiwhyfd.cloudfront.net/dicomweb|$B|g" \
    -e "s|wadoUriRoot: '$B'|wadoUriRoot: '$B/wado'|" -e 's|staticWado: true|staticWado: false|' \
    -e 's|qidoSupportsIncludeField: false|qidoSupportsIncludeField: true|' \
    -e 's|supportsFuzzyMatching: false|supportsFuzzyMatching: true|' "$SITE/app-config.js"
grep -q "qidoRoot: '$B'" "$SITE/app-config.js" || fail "could not point OHIF's app-config.js at pacsd"
timeout 600 node "$WORK/node/serve_static.js" "$SITE" "$WEB_PORT" >"$WORK/static.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
trap_background
timeout 20 sh -c 'until curl -s -o /dev/null "http://127.0.0.1:$1/"; do sleep 0.1; done' _ "$WEB_PORT" ||
    fail "the static server did not start"

# A 40-slice CT series (CT_small with new UIDs) and the MR sample.
i=0
set --
while [ $i -lt 40 ]; do
    cp "$T/CT_small.dcm" "$WORK/s$i.dcm"
    set -- "$@" "$WORK/s$i.dcm"
    i=$((i + 1))
done
dcmodify -nb -m "(0020,000d)=1.2.826.0.1.3680043.10.1347.77.1" \
    -m "(0020,000e)=1.2.826.0.1.3680043.10.1347.77.1.1" "$@" >/dev/null 2>&1 ||
    fail "dcmodify failed"
dcmodify -nb -gin "$@" >/dev/null 2>&1 || fail "dcmodify failed"
store "$@" "$T/MR_small.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"

SCREENSHOT="$WORK/ohif.png" timeout 400 node "$WORK/node/ohif_test.js" "http://127.0.0.1:$WEB_PORT" \
    "$B" 1.2.826.0.1.3680043.10.1347.77.1 10 || fail "OHIF checks failed"
pass
