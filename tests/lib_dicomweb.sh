# SPDX-License-Identifier: MIT
# Helpers shared by the DICOMweb integration tests (sourced after tests/lib.sh, not a test by
# itself): bounded curl calls, STOW bodies, and small Python checks on DICOM bytes, DICOM JSON
# and multipart bodies. Every network call is bounded by curl's --max-time.

# GET with curl: prints the body; extra curl arguments (headers) come first.
# Usage: http_get [curl args] URL
http_get() {
    curl -sS --max-time 60 "$@"
}

# The HTTP status of a request (the body goes to $WORK/body, the headers to $WORK/headers).
http_status() {
    curl -sS --max-time 60 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@"
}

# A header's value from $WORK/headers (case-insensitive name), without CR.
header_value() {
    grep -i "^$1:" "$WORK/headers" | tail -1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

# Writes a multipart/related STOW body with boundary $1 to file $2 from the files that follow
# (each a Part 10 file, or anything else to test failures).
stow_body() { # boundary out files...
    b=$1 out=$2
    shift 2
    : >"$out"
    for f in "$@"; do
        printf -- '--%s\r\nContent-Type: application/dicom\r\n\r\n' "$b" >>"$out"
        cat "$f" >>"$out"
        printf '\r\n' >>"$out"
    done
    printf -- '--%s--\r\n' "$b" >>"$out"
}

# POSTs a STOW body file $2 to URL $1; status out, response in $WORK/body.
stow_post() { # url bodyfile [boundary]
    curl -sS --max-time 300 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        -H "Content-Type: multipart/related; type=\"application/dicom\"; boundary=${3:-PACSTEST}" \
        -H 'Accept: application/dicom+json' --data-binary @"$2" "$1"
}

# Runs a Python snippet with the helpers below defined; arguments follow.
py() { # code args...
    code=$1
    shift
    python3 -c "
import json, sys, re
def dataset_bytes(data):
    '''The dataset of a Part 10 file: what follows the preamble and the meta header.'''
    assert data[128:132] == b'DICM', 'not a Part 10 file'
    off = 132
    while off + 8 <= len(data) and data[off:off + 2] == b'\x02\x00':
        vr = data[off + 4:off + 6]
        if vr in (b'OB', b'OW', b'OF', b'SQ', b'UT', b'UN'):
            off += 12 + int.from_bytes(data[off + 8:off + 12], 'little')
        else:
            off += 8 + int.from_bytes(data[off + 6:off + 8], 'little')
    return data[off:]
def same_dataset(got, orig):
    '''Dataset bytes equal; DCMTK's storescu drops a trailing (FFFC,FFFC) padding element.'''
    a, b = dataset_bytes(got), dataset_bytes(orig)
    return a == b or (b.startswith(a) and b[len(a):len(a) + 4] == b'\xfc\xff\xfc\xff')
def multipart(body, ctype):
    '''The parts of a multipart body: a list of (headers dict, bytes).'''
    m = re.search(r'boundary=\"?([^\";\s]+)', ctype)
    assert m, 'no boundary in ' + ctype
    delim = b'--' + m.group(1).encode()
    pieces = body.split(delim)
    assert pieces[-1].strip() in (b'--', b'--\r\n'.strip()), 'no closing boundary'
    parts = []
    for p in pieces[1:-1]:
        assert p.startswith(b'\r\n') and p.endswith(b'\r\n'), 'bad part framing'
        head, _, content = p[2:-2].partition(b'\r\n\r\n')
        hdrs = {}
        for line in head.split(b'\r\n'):
            k, _, v = line.decode().partition(':')
            hdrs[k.strip().lower()] = v.strip()
        parts.append((hdrs, content))
    return parts
$code
" "$@"
}

# Fails unless the JSON in $WORK/body parses and the Python expression (on `d`) is true.
json_check() { # expression message
    py "d = json.load(open('$WORK/body', 'rb'))
sys.exit(0 if ($1) else 1)" || fail "$2 (body: $(head -c 400 "$WORK/body"))"
}
