#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the web viewer into DEST (the build runs it for BUILD/viewer): OHIF's prebuilt app,
# the dist/ folder of the npm package pinned with its integrity in dicomweb/viewer.lock, fetched
# with `npm pack`, checked against that SHA-512, unpacked, its public path moved from / to
# /viewer/ (OHIF's build bakes PUBLIC_URL into index.html and webpack's runtime), its demo
# app-config.js removed (pacsd writes its own), and its text and wasm files gzipped beside them
# (pacsd sends the .gz to browsers that accept gzip). Does nothing when DEST already holds that
# version. Never fails the build: without npm or the registry it says so and exits 0, and
# pacsd then says that the viewer is missing.
# usage: scripts/viewer.sh DEST [LOCK]
set -u
dest=${1:?usage: viewer.sh DEST [LOCK]}
lock=${2:-$(dirname "$0")/../dicomweb/viewer.lock}
base=/viewer/

set -- $(grep -v '^#' "$lock" | head -1)
name=${1:-} version=${2:-} integrity=${3:-}
stamp="$name@$version $integrity $base"
if [ -f "$dest/.pacs-viewer" ] && [ "$(cat "$dest/.pacs-viewer")" = "$stamp" ]; then
    exit 0
fi
tmp=""
skip() {
    echo "viewer.sh: $*: the viewer is not installed in $dest (pacsd runs without it)" >&2
    [ -n "$tmp" ] && rm -rf "$tmp"
    exit 0
}
[ -n "$integrity" ] || skip "no package in $lock"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
command -v node >/dev/null 2>&1 || skip "node is not installed"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pacs-viewer.XXXXXX") || skip "no temporary folder"
echo "viewer.sh: fetching $name@$version with npm" >&2
(cd "$tmp" && timeout 600 npm pack --silent --prefer-offline --fetch-retries=1 \
    --fetch-timeout=60000 --loglevel=error "$name@$version" >pack.log 2>&1) || skip "npm pack failed: $(tail -2 "$tmp/pack.log")"
tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -1)
[ -n "$tgz" ] || skip "npm pack wrote no tarball"
got=$(node -e 'const c = require("crypto"), f = require("fs");
    process.stdout.write("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"));' "$tgz")
[ "$got" = "$integrity" ] || skip "$tgz has integrity $got, not the $integrity in $lock"
mkdir "$tmp/x" && tar xzf "$tgz" -C "$tmp/x" package/dist || skip "cannot unpack $tgz"
site="$tmp/x/package/dist"
[ -f "$site/index.html" ] || skip "the package has no dist/index.html"

# The public path: absolute "/..." references in index.html, manifest.json and the style sheets,
# and webpack's runtime (`__webpack_require__.p = "/"`) in the app bundle and each worker bundle.
sed -i -E -e "s#=\"/([^/\"])#=\"$base\\1#g" -e "s#=\"/\"#=\"$base\"#g" "$site/index.html"
sed -i -e "s#\"src\": \"/#\"src\": \"$base#g" -e "s#\"start_url\": \"/#\"start_url\": \"$base#g" \
    "$site/manifest.json" 2>/dev/null
for f in "$site"/*.css; do
    [ -f "$f" ] && sed -i "s#url(/\([^/]\)#url($base\\1#g" "$f"
done
grep -l '__webpack_require__.p = "/";' "$site"/*.js | while read -r f; do
    sed -i "s#__webpack_require__.p = \"/\";#__webpack_require__.p = \"$base\";#" "$f"
done
grep -q "PUBLIC_URL=\"$base\"" "$site/index.html" && grep -q "src=\"${base}app.bundle" "$site/index.html" &&
    grep -qs "__webpack_require__.p = \"$base\"" "$site"/app.bundle.*.js ||
    skip "could not move the app to $base (has OHIF's dist changed shape?)"
rm -f "$site/app-config.js" "$site/_headers" "$site/_redirects" "$site/serve.json"

# Compressed copies for browsers that accept gzip, kept only where they are smaller.
find "$site" -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.css' -o -name '*.html' \
    -o -name '*.json' -o -name '*.svg' -o -name '*.wasm' -o -name '*.txt' -o -name '*.map' \) |
    while read -r f; do
        gzip -9 -n -k "$f" || continue
        if [ "$(stat -c %s "$f.gz")" -ge "$(stat -c %s "$f")" ]; then
            rm -f "$f.gz"
        fi
    done
printf '%s\n' "$stamp" >"$site/.pacs-viewer"

# Swapped in whole, so pacsd never sees half a viewer.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mv "$site" "$dest" || skip "cannot move the viewer into $dest"
rm -rf "$dest.old" "$tmp"
echo "viewer.sh: $name@$version installed in $dest" >&2
