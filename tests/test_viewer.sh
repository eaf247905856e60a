#!/bin/sh
# SPDX-License-Identifier: MIT
# pacsd's own web viewer at /viewer (dicomweb/viewer.c): OHIF's app as the build installed it
# (scripts/viewer.sh) served from the same origin as DICOMweb. Checked with curl: content types,
# caching headers, ETag revalidation, gzip twins, client-side routes, the app configuration
# pacsd writes, and path traversal refused in every spelling; then in Debian's headless
# Chromium (playwright-core, tests/node/viewer_test.js) on a stored 300-slice CT: the study
# list shows it, the study opens, a slice is drawn, scrolling changes it. Last, pacsd started
# without a viewer says so in its log and on /viewer, and DICOMweb still works.
# Screenshots: $ARTIFACT_DIR/test_viewer/ (the build's test-artifacts/ under ctest).
. "$SRC/tests/lib.sh"

: "${PACS_GEN:?PACS_GEN must point to pacs-gen}"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
SITE=$(cd "$(dirname "$PACSD")/.." && pwd)/viewer
[ -f "$SITE/index.html" ] && [ -f "$SITE/.pacs-viewer" ] ||
    fail "the viewer is not installed in $SITE (the build installs it with npm: scripts/viewer.sh)"
ART=${ARTIFACT_DIR:-$WORK/artifacts}/test_viewer
mkdir -p "$ART" "$WORK/node"
rm -f "$ART"/*.png
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/viewer_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"

start_pacsd
B="http://127.0.0.1:$HTTP_PORT"
grep -q "web viewer .* at /viewer from $SITE" "$WORK/pacsd.log" ||
    fail "pacsd did not say where the viewer is"

# ---- static files ----
get() { # url [curl options]: prints "status|content-type|cache-control|encoding|etag" headers
    u=$1
    shift
    curl -s --path-as-is -o "$WORK/body" -D "$WORK/headers" "$@" "$u" >/dev/null || true
    tr -d '\r' <"$WORK/headers" >"$WORK/h"
    status=$(head -1 "$WORK/h" | cut -d' ' -f2)
}
header() { # name: the last response's header value
    sed -n "s/^$1: //Ip" "$WORK/h" | head -1
}

get "$B/viewer/"
assert_eq 200 "$status" "/viewer/"
assert_eq "text/html; charset=utf-8" "$(header Content-Type)" "index.html's type"
assert_eq no-cache "$(header Cache-Control)" "index.html is revalidated"
grep -q 'src="/viewer/app.bundle' "$WORK/body" || fail "index.html does not load its bundle under /viewer/"
grep -q 'PUBLIC_URL="/viewer/"' "$WORK/body" || fail "index.html's PUBLIC_URL is not /viewer/"
etag=$(header ETag)
[ -n "$etag" ] || fail "no ETag on index.html"
get "$B/viewer/" -H "If-None-Match: $etag"
assert_eq 304 "$status" "index.html revalidated with its ETag"

get "$B/viewer/app-config.js"
assert_eq 200 "$status" "app-config.js"
assert_eq "text/javascript; charset=utf-8" "$(header Content-Type)" "app-config.js's type"
grep -q "routerBasename: '/viewer'" "$WORK/body" || fail "app-config.js: routerBasename is not /viewer"
grep -q 'window.location.origin + "\\/dicomweb"' "$WORK/body" ||
    fail "app-config.js does not point at this server's DICOMweb root: $(grep -m1 origin "$WORK/body")"
grep -q "thumbnailRendering: 'thumbnail'" "$WORK/body" || fail "app-config.js: no server thumbnails"

bundle=$(sed -n 's/.*src="\/viewer\/\(app\.bundle\.[0-9a-f]*\.js\)".*/\1/p' "$SITE/index.html")
[ -n "$bundle" ] || fail "no app bundle named in index.html"
get "$B/viewer/$bundle"
assert_eq 200 "$status" "the app bundle"
assert_eq "text/javascript; charset=utf-8" "$(header Content-Type)" "the bundle's type"
assert_eq "public, max-age=31536000, immutable" "$(header Cache-Control)" "a hashed bundle is kept"
[ -z "$(header Content-Encoding)" ] || fail "gzip sent to a client that did not ask for it"
cmp -s "$WORK/body" "$SITE/$bundle" || fail "the bundle served differs from the file"
get "$B/viewer/$bundle" -H 'Accept-Encoding: gzip, deflate'
assert_eq gzip "$(header Content-Encoding)" "the bundle, gzipped for a browser"
assert_eq Accept-Encoding "$(header Vary)" "Vary on a file with a gzip twin"
gunzip -c "$WORK/body" | cmp -s - "$SITE/$bundle" || fail "the gzipped bundle does not inflate to the file"
wasm=$(cd "$SITE" && ls ./*.wasm | head -1)
get "$B/viewer/${wasm#./}"
assert_eq "200 application/wasm" "$status $(header Content-Type)" "a .wasm file"
css=$(cd "$SITE" && ls ./*.css | head -1)
get "$B/viewer/${css#./}"
assert_eq "200 text/css; charset=utf-8" "$status $(header Content-Type)" "a style sheet"

# OHIF's own routes are the app; a missing file is 404, not HTML; OHIF's usual study link
# (/viewer?StudyInstanceUIDs=) is sent on to its place under the app; only GET and HEAD.
get "$B/viewer/viewer?StudyInstanceUIDs=1.2.3"
assert_eq "200 text/html; charset=utf-8" "$status $(header Content-Type)" "a client-side route"
get "$B/viewer/no-such-bundle.js"
assert_eq 404 "$status" "a missing file"
get "$B/viewer?StudyInstanceUIDs=1.2.3"
assert_eq "302 /viewer/viewer?StudyInstanceUIDs=1.2.3" "$status $(header Location)" "OHIF's study link"
get "$B/viewer/" -X POST
assert_eq 405 "$status" "POST under /viewer"

# ---- path traversal: the build folder holds bin/pacsd beside viewer/ ----
[ -f "$SITE/../bin/pacsd" ] || fail "test layout: no pacsd beside the viewer"
for p in /viewer/../bin/pacsd /viewer/%2e%2e/bin/pacsd /viewer/.%2e/bin/pacsd \
    /viewer/%2E%2E/bin/pacsd /viewer/..%2fbin%2fpacsd /viewer/%2e%2e%2fbin%2fpacsd \
    /viewer/..%5cbin%5cpacsd /viewer/assets/../../bin/pacsd /viewer/assets/%2e%2e/%2e%2e/bin/pacsd \
    /viewer//etc/passwd /viewer/%2fetc%2fpasswd /viewer/%2Fetc/passwd \
    /viewer/../../../../../../etc/passwd /viewer/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd \
    /viewer/.pacs-viewer /viewer/. /viewer/./index.html /viewer/index.html%00.js; do
    get "$B$p"
    case $status in
    2*) fail "$p answered $status" ;;
    esac
    if grep -q 'root:' "$WORK/body" || cmp -s "$WORK/body" "$SITE/../bin/pacsd"; then
        fail "$p leaked a file from outside the viewer"
    fi
done
# And over a raw socket, where no client tidies the path.
for p in "/viewer/../../../../etc/passwd" "/viewer/..\\..\\..\\etc\\passwd"; do
    printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$p" |
        timeout 10 python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(sys.stdin.buffer.read()); out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
sys.stdout.buffer.write(out)' "$HTTP_PORT" >"$WORK/raw" || true
    head -1 "$WORK/raw" | grep -q ' 200 ' && fail "raw $p answered 200"
    grep -q 'root:' "$WORK/raw" && fail "raw $p leaked /etc/passwd"
done

# ---- a 300-slice CT in the browser ----
"$PACS_GEN" --out "$WORK/ct" --studies 1 --slices 300 >"$WORK/gen.log" 2>&1 ||
    fail "pacs-gen failed: $(tail -2 "$WORK/gen.log")"
STUDY=$(awk -F'\t' 'NR == 2 { print $2 }' "$WORK/ct/manifest.tsv")
NAME=$(awk -F'\t' 'NR == 2 { print $4 }' "$WORK/ct/manifest.tsv")
f=$(find "$WORK/ct" -name '*.dcm' | head -1)
DESC=$(dcm_value "$f" 0008,1030)
GIVEN=${NAME#*^}
[ -n "$STUDY" ] && [ -n "$GIVEN" ] && [ -n "$DESC" ] || fail "pacs-gen's manifest is not as expected"
store +sd "$(dirname "$f")" >"$WORK/store.log" 2>&1 || fail "storescu failed: $(tail -3 "$WORK/store.log")"
(cd "$WORK/node" && timeout 500 node viewer_test.js viewer "$B" "$STUDY" "$GIVEN" "$DESC" "$ART") \
    >"$WORK/browser.log" 2>&1 || fail "viewer checks failed: $(tail -15 "$WORK/browser.log")"
cat "$WORK/browser.log"
for s in viewer-study-list viewer-slice viewer-scrolled; do
    [ -s "$ART/$s.png" ] || fail "no screenshot $ART/$s.png"
done
echo "screenshots in $ART"

# ---- viewer.frames: every frame asked for as JPEG-LS (slow links), drawn from a raw study ----
stop_pacsd
if timeout 30 "$PACSD" --data "$WORK/d-bad" --set dimse.port=0 --set http.port=0 \
    --set viewer.frames=1.2.3 >"$WORK/bad.log" 2>&1; then
    fail "pacsd started with viewer.frames=1.2.3"
fi
grep -q 'viewer.frames = 1.2.3' "$WORK/bad.log" || fail "no message for a bad viewer.frames: $(tail -2 "$WORK/bad.log")"
start_pacsd --set viewer.frames=1.2.840.10008.1.2.4.80
B="http://127.0.0.1:$HTTP_PORT"
get "$B/viewer/app-config.js"
grep -q "requestTransferSyntaxUID: '1.2.840.10008.1.2.4.80'" "$WORK/body" ||
    fail "app-config.js does not ask for JPEG-LS frames"
SE=$(dcm_value "$f" 0020,000e)
SOP=$(dcm_value "$f" 0008,0018)
# What OHIF sends with that setting (omitQuotationForMultipartRequest).
get "$B/dicomweb/studies/$STUDY/series/$SE/instances/$SOP/frames/1" \
    -H 'Accept: multipart/related; type=image/jls; transfer-syntax=1.2.840.10008.1.2.4.80'
assert_eq 200 "$status" "a raw frame asked for as JPEG-LS"
header Content-Type | grep -q 'type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80' ||
    fail "the frame is not JPEG-LS: $(header Content-Type)"
[ "$(wc -c <"$WORK/body")" -lt $((512 * 512 * 2)) ] || fail "the JPEG-LS frame is not smaller than raw"
mkdir -p "$ART/jpeg-ls"
(cd "$WORK/node" && timeout 500 node viewer_test.js viewer "$B" "$STUDY" "$GIVEN" "$DESC" "$ART/jpeg-ls") \
    >"$WORK/browser-jls.log" 2>&1 || fail "viewer checks with JPEG-LS frames failed: $(tail -15 "$WORK/browser-jls.log")"
[ -s "$ART/jpeg-ls/viewer-slice.png" ] || fail "no screenshot of a JPEG-LS slice"

# ---- no viewer: pacsd runs and says so ----
stop_pacsd
: >"$WORK/pacsd.log"
start_pacsd --set "viewer.root=$WORK/no-viewer"
grep -q 'the web viewer is missing' "$WORK/pacsd.log" || fail "pacsd did not say the viewer is missing"
B="http://127.0.0.1:$HTTP_PORT"
get "$B/viewer/"
assert_eq 503 "$status" "/viewer without a viewer"
grep -q 'web viewer is missing' "$WORK/body" || fail "/viewer does not say the viewer is missing"
get "$B/dicomweb/studies" -H 'Accept: application/dicom+json'
assert_eq 200 "$status" "DICOMweb without a viewer"
pass
