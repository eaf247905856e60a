#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test helper for the DICOMweb authentication tests: makes JWKS files from PEM public keys and
signs JWTs (RS256, ES256, HS256, none) with the `openssl` command, so that the tokens pacsd
checks are made by a different implementation than the one checking them. Also mints a share
token straight into a data folder's key and index (share.key, the shares table) to test expiry
without waiting days.

  jwt_tool.py jwks OUT PUB.pem:KID [PUB.pem:KID ...]
  jwt_tool.py sign ALG KEYFILE|- HEADER_JSON PAYLOAD_JSON   (prints the token)
  jwt_tool.py share DATA_DIR STUDY_UID EXPIRES_AT            (prints the token)
"""
import base64, hashlib, hmac, json, os, re, sqlite3, subprocess, sys, time


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def openssl(*args, data=None):
    return subprocess.run(['openssl', *args], input=data, capture_output=True, check=True).stdout


def der_to_raw(der, size):
    """An ECDSA signature from DER (SEQUENCE of two INTEGERs) to JOSE's r||s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b''
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b'\x00')
        out += v.rjust(size, b'\x00')
        i += 2 + n
    return out


def jwk_of(pem, kid):
    text = openssl('pkey', '-pubin', '-in', pem, '-noout', '-text').decode()
    if 'Modulus' in text or 'RSA' in text:
        mod = openssl('rsa', '-pubin', '-in', pem, '-noout', '-modulus').decode()
        n = bytes.fromhex(mod.strip().split('=', 1)[1])
        e = int(re.search(r'Exponent: (\d+)', text).group(1))
        return {'kty': 'RSA', 'kid': kid, 'use': 'sig', 'n': b64u(n),
                'e': b64u(e.to_bytes((e.bit_length() + 7) // 8, 'big'))}
    pub = re.search(r'pub:\s*((?:[0-9a-f]{2}:?\s*)+)', text).group(1)
    raw = bytes.fromhex(re.sub(r'[^0-9a-f]', '', pub))
    assert raw[0] == 4 and len(raw) == 65, 'P-256 uncompressed point expected'
    return {'kty': 'EC', 'kid': kid, 'crv': 'P-256', 'x': b64u(raw[1:33]), 'y': b64u(raw[33:])}


def sign(alg, key, header, payload):
    h = json.loads(header)
    h['alg'] = alg
    signing = (b64u(json.dumps(h).encode()) + '.' + b64u(json.dumps(json.loads(payload)).encode()))
    data = signing.encode()
    if alg == 'none':
        sig = b''
    elif alg == 'RS256':
        sig = openssl('dgst', '-sha256', '-sign', key, data=data)
    elif alg == 'ES256':
        sig = der_to_raw(openssl('dgst', '-sha256', '-sign', key, data=data), 32)
    elif alg == 'HS256':
        sig = hmac.new(open(key, 'rb').read(), data, hashlib.sha256).digest()
    else:
        raise SystemExit('unknown alg ' + alg)
    return signing + '.' + b64u(sig)


def share(data_dir, study, expires):
    """A share token made as storage/share.c documents it, straight into the index's shares
    table: PACS_INDEX's PostgreSQL database (through psql) when it names one, else the data
    folder's index.sqlite."""
    key = open(os.path.join(data_dir, 'share.key'), 'rb').read()
    head = bytes([1]) + os.urandom(9) + int(expires).to_bytes(4, 'big')
    mac = hmac.new(key, b'pacs-share\x00' + head + study.encode(), hashlib.sha256).digest()[:16]
    token = b64u(head + mac)
    row = (b64u(head[1:10]), hashlib.sha256(token.encode()).digest(), study, int(time.time()),
           int(expires), 'test')
    index = os.environ.get('PACS_INDEX', '')
    if index.startswith('postgres'):
        sql = ("INSERT INTO shares(id, token_sha256, study_uid, created_at, expires_at, creator)"
               " VALUES ('%s', '\\x%s', '%s', %d, %d, '%s')" % (row[0], row[1].hex(), *row[2:]))
        subprocess.run(['psql', index, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], check=True,
                       timeout=60, stdout=subprocess.DEVNULL)
        return token
    db = sqlite3.connect(os.path.join(data_dir, 'index.sqlite'), timeout=10)
    db.execute('INSERT INTO shares(id, token_sha256, study_uid, created_at, expires_at, creator)'
               ' VALUES (?, ?, ?, ?, ?, ?)', row)
    db.commit()
    db.close()
    return token


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'jwks':
        keys = [jwk_of(*a.split(':', 1)) for a in sys.argv[3:]]
        with open(sys.argv[2], 'w') as f:
            json.dump({'keys': keys}, f)
    elif cmd == 'sign':
        print(sign(*sys.argv[2:6]))
    elif cmd == 'share':
        print(share(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        raise SystemExit(__doc__)
