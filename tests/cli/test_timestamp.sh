#!/usr/bin/env bash
# RFC 3161 timestamps of a commitment: a local timestamp authority made with
# `openssl ts` (a test CA and a TSA certificate made here) answers the request
# of `isotope commit --timestamp-request`; the reply is stored beside the key,
# carried in reports, and checked offline by `verify --tsa-ca`. A changed
# token or the wrong CA fails.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK"
command -v openssl >/dev/null || fail "openssl is needed"

make_ca() {  # make_ca NAME : a self-signed CA certificate NAME.pem with key NAME.key
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1 Test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null ||
    fail "making the CA $1"
}
make_ca ca
make_ca other-ca
openssl req -newkey rsa:2048 -nodes -keyout tsa.key -out tsa.csr -subj "/CN=isotope test TSA" 2>/dev/null || fail "tsa csr"
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' >tsa.ext
openssl x509 -req -in tsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile tsa.ext -out tsa.pem \
  2>/dev/null || fail "tsa certificate"
cat >tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = $WORK/tsa.serial
crypto_device = builtin
signer_cert = $WORK/tsa.pem
signer_key = $WORK/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
echo 01 >tsa.serial

"$ISOTOPE" keygen -o wm.key -q >/dev/null || fail keygen
commitment="$("$ISOTOPE" commit wm.key)"
expect_exit 0 "$ISOTOPE" commit wm.key --timestamp-request req.tsq
[ -s req.tsq ] || die "no request written"
openssl ts -query -in req.tsq -text >req.txt 2>&1 || die "openssl cannot read the request"
expect_in req.txt "SHA256|sha256"
# The imprint is SHA-256 of the commitment's 64 hex digits.
want="$(printf '%s' "$commitment" | sha256sum | cut -c1-64)"
python3 - "$want" req.tsq <<'PY' || die "the request's imprint is not SHA-256 of the commitment's hex"
import sys; want = bytes.fromhex(sys.argv[1]); assert want in open(sys.argv[2], "rb").read()
PY
openssl ts -reply -config tsa.cnf -queryfile req.tsq -out reply.tsr 2>/dev/null || fail "the test TSA did not answer"
# OpenSSL itself agrees that the reply is over the commitment.
printf '%s' "$commitment" >commitment.txt
openssl ts -verify -data commitment.txt -in reply.tsr -CAfile ca.pem >/dev/null 2>&1 || die "openssl ts -verify rejects the reply"

# A reply for another key is refused and not stored.
"$ISOTOPE" keygen -o other.key -q >/dev/null || fail keygen
expect_rc 17 "$ISOTOPE" commit other.key --timestamp-reply reply.tsr
[ -e other.key.tsr ] && die "a reply for another commitment was stored"
# The right one is checked (with the CA) and stored as KEYFILE.tsr.
expect_rc 17 "$ISOTOPE" commit wm.key --timestamp-reply reply.tsr --tsa-ca other-ca.pem
expect_exit 0 "$ISOTOPE" commit wm.key --timestamp-reply reply.tsr --tsa-ca ca.pem
expect_in "$WORK/out" "timestamped [0-9]{4}-[0-9]{2}-[0-9]{2}T"
cmp -s reply.tsr wm.key.tsr || die "the reply was not stored as wm.key.tsr"

# Reports carry it; verify checks it offline and prints the time.
"$ISOTOPE" signer new -o sign.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k wm.key -n 80 --seed 2 -q -o wm.txt || fail generate
"$ISOTOPE" detect -k wm.key wm.txt --report r.json --sign sign.key --controls 2 >/dev/null 2>&1 || fail "detect --report"
expect_in r.json '"timestamp":\{"reply":"'
expect_exit 0 "$ISOTOPE" verify r.json --signer sign.key.pub --tsa-ca ca.pem
expect_in "$WORK/out" "TIMESTAMP: the commitment existed at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"
expect_in "$WORK/out" "isotope test TSA"
expect_exit 0 "$ISOTOPE" verify r.json --signer sign.key.pub --tsa-ca ca.pem --key wm.key --inputs wm.txt
expect_in "$WORK/out" "^VERIFIED"
# Without --tsa-ca: shown, marked as not checked.
expect_exit 0 "$ISOTOPE" verify r.json --signer sign.key.pub
expect_in "$WORK/out" "not checked: give --tsa-ca"
# The wrong CA fails.
expect_rc 17 "$ISOTOPE" verify r.json --signer sign.key.pub --tsa-ca other-ca.pem
# A changed token fails, even re-signed (a flipped byte inside the signed time-stamp info).
python3 - <<'PY' || fail "editing the token"
import base64, json
d = json.load(open("r.json"))
der = bytearray(base64.b64decode(d["timestamp"]["reply"]))
der[len(der) // 3] ^= 1
d["timestamp"]["reply"] = base64.b64encode(bytes(der)).decode()
d.pop("signature")
json.dump(d, open("changed.json", "w"))
PY
"$ISOTOPE" report sign changed.json --sign sign.key -o changed-signed.json || fail "report sign"
expect_rc 17 "$ISOTOPE" verify changed-signed.json --signer sign.key.pub --tsa-ca ca.pem
# A report without a timestamp, asked for one.
"$ISOTOPE" detect -k other.key wm.txt --report plain.json --sign sign.key --controls 2 >/dev/null 2>&1 || fail "detect (2)"
expect_not_in plain.json '"timestamp"'
expect_rc 17 "$ISOTOPE" verify plain.json --signer sign.key.pub --tsa-ca ca.pem
# A stored reply that is not this key's stops the report.
cp reply.tsr other.key.tsr
expect_rc 17 "$ISOTOPE" detect -k other.key wm.txt --report bad.json --sign sign.key
finish
