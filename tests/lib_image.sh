# SPDX-License-Identifier: MIT
# Helpers for the test_image_* scripts (sourced after lib.sh, not a test itself): reference
# decodes with DCMTK's and OpenJPEG's own tools, and a pixel comparer in plain python3 (no
# numpy): raw frames with planes, 1-bit packing and YBR 4:2:2 undone, and 8-bit PNG files.

IMGCMP="$WORK/imgcmp.py"
cat >"$IMGCMP" <<'PY'
import struct, sys, zlib

def raw_samples(path, bps, signed, offset, count):
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(count * bps)
    if len(data) < count * bps:
        sys.exit("short reference %s" % path)
    fmt = {1: "B", 2: "H", 4: "I"}[bps]
    if signed:
        fmt = fmt.lower()
    return list(struct.unpack("<%d%s" % (count, fmt), data))

def interleave(v, n, samples):
    return [v[(i % samples) * n + i // samples] for i in range(n * samples)]

def png_pixels(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        ln, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, lace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and lace == 0 and ctype in (0, 2)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + ln
    ch = 3 if ctype == 2 else 1
    raw, stride, out, prev = zlib.decompress(idat), w * ch, [], [0] * (w * ch)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], list(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if ft == 1: line[i] = (line[i] + a) & 255
            elif ft == 2: line[i] = (line[i] + b) & 255
            elif ft == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, ch, out

def pgm_pixels(path):
    with open(path, "rb") as f:
        data = f.read()
    parts, pos = [], 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace(): pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos); continue
        end = pos
        while not data[end:end + 1].isspace(): end += 1
        parts.append(data[pos:end]); pos = end
    pos += 1
    w, h, maxv = int(parts[1]), int(parts[2]), int(parts[3])
    ch = 3 if parts[0] == b"P6" else 1
    n = w * h * ch
    if maxv < 256:
        return w, h, ch, list(data[pos:pos + n])
    return w, h, ch, list(struct.unpack(">%dH" % n, data[pos:pos + 2 * n]))

def main():
    mode = sys.argv[1]
    if mode == "raw":
        # raw MINE REF rows cols samples bps signed ref_planar ref_kind frame tolerance
        mine, ref = sys.argv[2], sys.argv[3]
        rows, cols, samples, bps, signed, planar = map(int, sys.argv[4:10])
        kind, frame, tol = sys.argv[10], int(sys.argv[11]), float(sys.argv[12])
        n = rows * cols
        if kind == "bits":      # 1-bit packed reference, LSB first; mine is one byte per pixel
            with open(ref, "rb") as f:
                f.seek(frame * n // 8); packed = f.read((n + 7) // 8 + 1)
            start = frame * n % 8
            b = [(packed[(start + i) >> 3] >> ((start + i) & 7)) & 1 for i in range(n)]
            a = raw_samples(mine, 1, 0, 0, n)
        elif kind == "ybr422":  # Y0 Y1 Cb Cr pairs; mine is full YBR
            r = raw_samples(ref, 1, 0, frame * n * 2, n * 2)
            b = []
            for y in range(rows):
                for x in range(cols):
                    k = (y * cols + (x & ~1)) * 2
                    b += [r[k + (x & 1)], r[k + 2], r[k + 3]]
            a = raw_samples(mine, 1, 0, 0, n * 3)
        else:
            cnt = n * samples
            b = raw_samples(ref, bps, signed, frame * cnt * bps, cnt)
            if planar == 1 and samples > 1:
                b = interleave(b, n, samples)
            a = raw_samples(mine, bps, signed, 0, cnt)
        worst = max(abs(x - y) for x, y in zip(a, b)) if a else 0
        mean = sum(abs(x - y) for x, y in zip(a, b)) / max(1, len(a))
        print("max=%d mean=%.3f" % (worst, mean))
        sys.exit(0 if worst <= tol else 1)
    if mode == "img":
        # img MINE.png REF.(pgm|ppm|png) max_tolerance mean_tolerance
        ga = png_pixels(sys.argv[2])
        gb = png_pixels(sys.argv[3]) if sys.argv[3].endswith(".png") else pgm_pixels(sys.argv[3])
        if ga[:3] != gb[:3]:
            print("size or channels differ: %s vs %s" % (ga[:3], gb[:3])); sys.exit(1)
        d = [abs(x - y) for x, y in zip(ga[3], gb[3])]
        worst, mean = max(d), sum(d) / len(d)
        print("max=%d mean=%.3f" % (worst, mean))
        sys.exit(0 if worst <= float(sys.argv[4]) and mean <= float(sys.argv[5]) else 1)
    if mode == "retag":
        # retag IN OUT TS: the same file with another Transfer Syntax UID in its meta header
        # (dciodvfy does not know HTJ2K; its encapsulation is that of JPEG 2000)
        d = open(sys.argv[2], "rb").read()
        pos, meta = 132, []
        while d[pos:pos + 2] == b"\x02\x00":
            tag = d[pos:pos + 4]; vr = d[pos + 4:pos + 6]
            if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
                ln = struct.unpack("<I", d[pos + 8:pos + 12])[0]; hl = 12
            else:
                ln = struct.unpack("<H", d[pos + 6:pos + 8])[0]; hl = 8
            meta.append((tag, vr, d[pos + hl:pos + hl + ln])); pos += hl + ln
        out = b""
        for tag, vr, val in meta:
            if tag == b"\x02\x00\x00\x00": continue
            if tag == b"\x02\x00\x10\x00":
                val = sys.argv[4].encode(); val += b"\0" * (len(val) & 1)
            if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
                out += tag + vr + b"\0\0" + struct.pack("<I", len(val)) + val
            else:
                out += tag + vr + struct.pack("<H", len(val)) + val
        gl = b"\x02\x00\x00\x00UL" + struct.pack("<HI", 4, len(out))
        open(sys.argv[3], "wb").write(d[:132] + gl + out + d[pos:])
        return
    if mode == "frame":
        # frame DICOM INDEX OUT: the codestream of one encapsulated frame (pydicom)
        import pydicom
        from pydicom.encaps import generate_pixel_data_frame
        ds = pydicom.dcmread(sys.argv[2])
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        data = list(generate_pixel_data_frame(ds.PixelData, frames))[int(sys.argv[3])]
        with open(sys.argv[4], "wb") as f:
            f.write(data)

main()
PY

imgcmp() { /usr/bin/python3 "$IMGCMP" "$@"; }

# A key=value field of `pacs render --info` output.
info_field() { # info-line key
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
