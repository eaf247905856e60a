# SPDX-License-Identifier: MIT
# Test certificates for the TLS tests (issue 8), made with the openssl command: a CA, server and
# client certificates it signs, a second CA nobody trusts, and an expired client certificate.
# Sourced after lib.sh; everything goes to $WORK/pki. RSA 2048 keys (the BCP 195 profiles'
# ECDHE-RSA suites need RSA certificates).
PKI=$WORK/pki

# make_ca NAME: $PKI/NAME.key and $PKI/NAME.crt, self-signed, valid for 30 days.
make_ca() {
    mkdir -p "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.crt" \
        -days 30 -subj "/O=pacsd test/CN=$1" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
}

# make_cert CA NAME [days] [subjectAltName]: $PKI/NAME.key and $PKI/NAME.crt signed by CA, for
# 127.0.0.1 and localhost (unless told otherwise), usable by a server and a client.
make_cert() {
    openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$2.key" -out "$PKI/$2.csr" \
        -subj "/O=pacsd test/CN=$2" >/dev/null 2>&1
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
        "${4:-IP:127.0.0.1,DNS:localhost}" >"$PKI/$2.ext"
    openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.crt" -CAkey "$PKI/$1.key" \
        -CAcreateserial -out "$PKI/$2.crt" -days "${3:-30}" -extfile "$PKI/$2.ext" >/dev/null 2>&1
}

# make_expired_cert CA NAME: as make_cert, but its validity ended in 2020 (openssl ca sets
# dates in the past, which openssl x509 -req cannot).
make_expired_cert() {
    openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$2.key" -out "$PKI/$2.csr" \
        -subj "/O=pacsd test/CN=$2" >/dev/null 2>&1
    d=$PKI/ca-$1
    mkdir -p "$d"
    : >"$d/index.txt"
    echo 1000 >"$d/serial"
    cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
database = $d/index.txt
serial = $d/serial
new_certs_dir = $d
certificate = $PKI/$1.crt
private_key = $PKI/$1.key
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
organizationName = optional
[x]
extendedKeyUsage = serverAuth,clientAuth
CNF
    openssl ca -batch -config "$d/ca.cnf" -extensions x -in "$PKI/$2.csr" -out "$PKI/$2.crt" \
        -startdate 20200101000000Z -enddate 20200201000000Z -notext >/dev/null 2>&1
}

# The standard set: ca (trusted), rogue (not trusted), server, client, stranger (signed by
# rogue), expired (signed by ca, no longer valid), elsewhere (signed by ca for another host).
make_pki() {
    make_ca ca && make_ca rogue && make_cert ca server && make_cert ca client &&
        make_cert rogue stranger && make_expired_cert ca expired &&
        make_cert ca elsewhere 30 DNS:elsewhere.example,IP:10.9.9.9 ||
        fail "openssl could not make the test certificates"
    [ -s "$PKI/expired.crt" ] || fail "no expired certificate"
}
