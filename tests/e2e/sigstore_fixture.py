"""A Sigstore of our own, offline: a Fulcio-like certificate authority, a
Rekor-like transparency log key and a certificate-transparency log key,
making keyless signatures the way the public-good instance does (a
ten-minute certificate for an OpenID identity with an embedded SCT, an entry
logged with a signed entry timestamp and an inclusion proof under a signed
checkpoint), and the trusted root that pins them.

No server runs: the test signs in-process and pushes what cosign would. The
bundles are checked by cosign itself (`cosign verify --trusted-root`) and by
npm (sigstore-js, which also requires the SCT) in the tests, so they are the
real format, not cairn's idea of it.

Needs `cryptography` (.tools/py has it).
"""

import base64
import datetime
import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IN_TOTO = "application/vnd.in-toto+json"
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def b64(b):
    return base64.b64encode(b).decode()


def canonical(doc):
    """RFC 8785 for the documents used here (ASCII keys, integers)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def der_utf8(text):
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def spki(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def der_octets(data):
    n = len(data)
    length = bytes([n]) if n < 128 else bytes([0x82, n >> 8, n & 0xFF])
    return b"\x04" + length + data


def sct_list(ct_key, ct_id, issuer_key_hash, tbs, at_ms):
    """An RFC 6962 SignedCertificateTimestampList holding one SCT over the
    precertificate `tbs`, as a CT log returns it to Fulcio."""
    u16 = lambda n: n.to_bytes(2, "big")
    signed = (b"\x00\x00" + at_ms.to_bytes(8, "big") + u16(1) + issuer_key_hash
              + len(tbs).to_bytes(3, "big") + tbs + u16(0))
    sig = ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = b"\x00" + ct_id + at_ms.to_bytes(8, "big") + u16(0) + b"\x04\x03" + u16(len(sig)) + sig
    return u16(len(sct) + 2) + u16(len(sct)) + sct


def pae(payload_type, payload):
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node(mth(leaves[:k]), mth(leaves[k:]))


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def audit_path(leaves, m):
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return audit_path(leaves[:k], m) + [mth(leaves[k:])]
    return audit_path(leaves[k:], m - k) + [mth(leaves[:k])]


class Sigstore:
    """A certificate authority (root and intermediate, P-384) and a log key
    (P-256), made fresh for each test run."""

    ORIGIN = "rekor.test.local"

    def __init__(self, name="sigstore"):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.root = self._ca(f"{name}", self.root_key, self.root_key, None, now)
        self.inter_key = ec.generate_private_key(ec.SECP384R1())
        self.inter = self._ca(f"{name}-intermediate", self.inter_key, self.root_key, self.root, now)
        self.log_key = ec.generate_private_key(ec.SECP256R1())
        self.log_id = hashlib.sha256(spki(self.log_key)).digest()
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_id = hashlib.sha256(spki(self.ct_key)).digest()
        # Entries already in the log, so proofs have a path.
        self.leaves = [hashlib.sha256(b"\x00" + b"earlier entry %d" % i).digest() for i in range(5)]

    def _ca(self, cn, key, signer, issuer, now):
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.test"),
                             x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(subject)
             .issuer_name(issuer.subject if issuer else subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=3650))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if issuer is not None:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        return b.sign(signer, hashes.SHA384())

    def trusted_root(self):
        """Sigstore's trusted_root.json for this instance."""
        start = "2020-01-01T00:00:00Z"
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": f"https://{self.ORIGIN}", "hashAlgorithm": "SHA2_256",
                       "publicKey": {"rawBytes": b64(spki(self.log_key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                     "validFor": {"start": start}},
                       "logId": {"keyId": b64(self.log_id)}}],
            "certificateAuthorities": [{
                "subject": {"organization": "sigstore.test", "commonName": "sigstore"},
                "uri": "https://fulcio.test.local",
                "certChain": {"certificates": [
                    {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in (self.inter, self.root)]},
                "validFor": {"start": start}}],
            "ctlogs": [{"baseUrl": "https://ctfe.test.local", "hashAlgorithm": "SHA2_256",
                        "publicKey": {"rawBytes": b64(spki(self.ct_key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                      "validFor": {"start": start}},
                        "logId": {"keyId": b64(self.ct_id)}}],
            "timestampAuthorities": [],
        }

    def certificate(self, issuer, subject, at):
        """A ten-minute signing certificate for an OpenID identity, as
        Fulcio issues them: empty subject name, the identity in a critical
        SAN, the issuer in Fulcio's extensions."""
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.RFC822Name(subject) if "@" in subject and "://" not in subject \
            else x509.UniformResourceIdentifier(subject)
        builder = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.inter.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(at - datetime.timedelta(seconds=30))
                   .not_valid_after(at + datetime.timedelta(minutes=10))
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
                   .add_extension(x509.SubjectAlternativeName([san]), critical=True)
                   .add_extension(x509.UnrecognizedExtension(ISSUER_V1, issuer.encode()), critical=False)
                   .add_extension(x509.UnrecognizedExtension(ISSUER_V2, der_utf8(issuer)), critical=False))
        # The precertificate is the certificate without its SCT list; the
        # CT log's timestamp over it is embedded last.
        precert = builder.sign(self.inter_key, hashes.SHA384())
        scts = sct_list(self.ct_key, self.ct_id, hashlib.sha256(spki(self.inter_key)).digest(),
                        precert.tbs_certificate_bytes, int(at.timestamp() * 1000))
        cert = builder.add_extension(x509.UnrecognizedExtension(SCT_LIST, der_octets(scts)), critical=False) \
            .sign(self.inter_key, hashes.SHA384())
        return key, cert

    def log(self, body, integrated_time):
        """Logs a canonical entry body: the bundle's TransparencyLogEntry,
        with a signed entry timestamp and an inclusion proof under a signed
        checkpoint."""
        index = len(self.leaves)
        self.leaves.append(hashlib.sha256(b"\x00" + body).digest())
        size, root = len(self.leaves), mth(self.leaves)
        promise = canonical({"body": b64(body), "integratedTime": integrated_time,
                             "logID": self.log_id.hex(), "logIndex": index})
        set_sig = self.log_key.sign(promise, ec.ECDSA(hashes.SHA256()))
        note = f"{self.ORIGIN} - 4242\n{size}\n{b64(root)}\n"
        note_sig = self.log_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n\u2014 {self.ORIGIN} {b64(self.log_id[:4] + note_sig)}\n"
        kind = json.loads(body)["kind"]
        return {
            "logIndex": str(index),
            "logId": {"keyId": b64(self.log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": b64(set_sig)},
            "inclusionProof": {"logIndex": str(index), "rootHash": b64(root), "treeSize": str(size),
                               "hashes": [b64(h) for h in audit_path(self.leaves, index)],
                               "checkpoint": {"envelope": checkpoint}},
            "canonicalizedBody": b64(body),
        }

    def _identity(self, issuer, subject, late):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        key, cert = self.certificate(issuer, subject, now)
        # `late`: the log integrates it after the certificate expired.
        integrated = int((now + (datetime.timedelta(hours=1) if late else datetime.timedelta(seconds=5))).timestamp())
        return key, cert, integrated

    def sign_statement(self, statement, issuer, subject, late=False):
        """A v0.3 bundle of a DSSE envelope over the in-toto statement."""
        key, cert, integrated = self._identity(issuer, subject, late)
        payload = json.dumps(statement).encode()
        sig = key.sign(pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256()))
        envelope = {"payload": b64(payload), "payloadType": IN_TOTO, "signatures": [{"sig": b64(sig)}]}
        body = canonical({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(canonical(envelope)).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(sig), "verifier": b64(pem(cert))}]}})
        return {"mediaType": BUNDLE_V03,
                "verificationMaterial": {
                    "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                    "tlogEntries": [self.log(body, integrated)]},
                "dsseEnvelope": envelope}

    def sign_image(self, digest, issuer, subject, late=False, predicate_type=COSIGN_SIGN, predicate=None):
        """What `cosign sign` (cosign 3, keyless) makes for an image."""
        statement = {"_type": "https://in-toto.io/Statement/v1",
                     "subject": [{"name": "", "digest": {"sha256": digest.split(":", 1)[1]}}],
                     "predicateType": predicate_type, "predicate": predicate or {}}
        return self.sign_statement(statement, issuer, subject, late)

    def sign_file(self, data, issuer, subject):
        """What sigstore-maven-plugin (or `cosign sign-blob --bundle`)
        writes beside a file: a v0.3 bundle of a message signature over the
        file's bytes, logged as a hashedrekord."""
        key, cert, integrated = self._identity(issuer, subject, False)
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        digest = hashlib.sha256(data).digest()
        body = canonical({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": b64(sig), "publicKey": {"content": b64(pem(cert))}}}})
        return {"mediaType": BUNDLE_V03,
                "verificationMaterial": {
                    "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                    "tlogEntries": [self.log(body, integrated)]},
                "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                                     "signature": b64(sig)}}

    def sign_legacy(self, digest, reference, issuer, subject):
        """What cosign's legacy layout holds for a keyless signature: the
        simple-signing payload and the annotations of its `.sig` layer."""
        key, cert, integrated = self._identity(issuer, subject, False)
        payload = json.dumps({"critical": {"identity": {"docker-reference": reference},
                                           "image": {"docker-manifest-digest": digest},
                                           "type": "cosign container image signature"},
                              "optional": None}).encode()
        sig = key.sign(payload, ec.ECDSA(hashes.SHA256()))
        body = canonical({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": b64(sig), "publicKey": {"content": b64(pem(cert))}}}})
        entry = self.log(body, integrated)
        rekor_bundle = {"SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
                        "Payload": {"body": b64(body), "integratedTime": integrated,
                                    "logIndex": int(entry["logIndex"]), "logID": self.log_id.hex()}}
        annotations = {"dev.cosignproject.cosign/signature": b64(sig),
                       "dev.sigstore.cosign/certificate": pem(cert).decode(),
                       "dev.sigstore.cosign/chain": (pem(self.inter) + pem(self.root)).decode(),
                       "dev.sigstore.cosign/bundle": json.dumps(rekor_bundle)}
        return payload, annotations
