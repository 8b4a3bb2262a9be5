"""Write SM2 (and Ed25519) PKCS#8 PEM seeds for the ``key_import`` harness, deterministically.

    python fuzz/make_sm2_seeds.py

Entry points 9 and 10 of ``fuzz_key_import.py`` read PKCS#8 PEM through
``keys/pkcs8.py`` (``private_from_pem``), without and with the harness'
passphrase.  These seeds are what that reader takes: an SM2 key plain, and
PBES2-encrypted as this library writes it (PBKDF2-HMAC-SHA-256, AES-256-CBC)
and as other tools do (PBKDF2 with its default HMAC-SHA-1 and AES-128-CBC;
scrypt with SM4-CBC), plus the fixture's Ed25519 key through the same reader.

Test keys only: the SM2 scalar is SHA-256 of a fixed label (no one's key), and
salts and IVs come from the same kind of labels, so rerunning writes the same
files (named by their SHA-256, like every seed).  Iteration counts and scrypt
costs are small, inside the harness' bounds, so mutation stays fast.
``make_seeds.py`` includes these seeds when it rewrites the whole corpus.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from fixtures import KEYS

from ecert_token.crypto.sm2 import SM2PrivateKey
from ecert_token.keys import pkcs8
from ecert_token.keys.files import private_to_pem

SEEDS = Path(__file__).resolve().parent / "seeds" / "key_import"
PASSPHRASE = b"fuzz passphrase"
"""The passphrase entry point 10 of ``fuzz_key_import.py`` uses."""
ITERATIONS = 1000
OID_AES128_CBC = "2.16.840.1.101.3.4.1.2"
OID_SM4_CBC = "1.2.156.10197.1.104.2"


def labelled(label: str) -> Callable[[int], bytes]:
    """Deterministic "random" bytes: SHA-256 of the label and a counter, as many as asked."""
    counter = iter(range(1 << 30))

    def draw(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{label}/{next(counter)}".encode()).digest()
        return out[:n]

    return draw


def test_sm2_key() -> SM2PrivateKey:
    """The fuzz corpus' SM2 test key (a fixed label's SHA-256; below n, so valid)."""
    return SM2PrivateKey(hashlib.sha256(b"ecert-token fuzz seed SM2 test key").digest())


def _encrypted(der: bytes, kdf: bytes, cipher_oid: str, key: bytes, iv: bytes) -> bytes:
    """An ``ENCRYPTED PRIVATE KEY`` PEM of ``der`` under PBES2 with the given parts."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(der) + padder.finalize()
    algorithm = algorithms.SM4(key) if cipher_oid == OID_SM4_CBC else algorithms.AES(key)
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    scheme = pkcs8.seq(pkcs8.der_oid(cipher_oid), pkcs8.tlv(pkcs8.OCTET_STRING, iv))
    return pkcs8.pem(pkcs8.PEM_ENCRYPTED, pkcs8.seq(
        pkcs8.seq(pkcs8.der_oid(pkcs8.OID_PBES2), pkcs8.seq(kdf, scheme)),
        pkcs8.tlv(pkcs8.OCTET_STRING, ciphertext)))


def pbkdf2_sha1_aes128(der: bytes) -> bytes:
    """PBKDF2 with no PRF given (RFC 8018's default, HMAC-SHA-1) and AES-128-CBC."""
    draw = labelled("pbkdf2-sha1")
    salt, iv = draw(8), draw(16)
    key = pkcs8._pbkdf2(PASSPHRASE, salt, ITERATIONS, 16, pkcs8.hashes.SHA1)
    kdf = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_PBKDF2), pkcs8.seq(
        pkcs8.tlv(pkcs8.OCTET_STRING, salt), pkcs8.der_int(ITERATIONS)))
    return _encrypted(der, kdf, OID_AES128_CBC, key, iv)


def scrypt_sm4(der: bytes) -> bytes:
    """scrypt (N = 256, r = 8, p = 1: 256 KiB, the harness' bound) and SM4-CBC."""
    draw = labelled("scrypt-sm4")
    salt, iv = draw(16), draw(16)
    key = Scrypt(salt, 16, 256, 8, 1).derive(PASSPHRASE)
    kdf = pkcs8.seq(pkcs8.der_oid(pkcs8.OID_SCRYPT), pkcs8.seq(
        pkcs8.tlv(pkcs8.OCTET_STRING, salt), pkcs8.der_int(256), pkcs8.der_int(8),
        pkcs8.der_int(1)))
    return _encrypted(der, kdf, OID_SM4_CBC, key, iv)


def sm2_pkcs8_seeds() -> list[bytes]:
    """Seeds in the harness' layout: byte 9 (no passphrase) or 10 (the passphrase) + PEM."""
    sm2 = test_sm2_key()
    info = pkcs8.private_key_info(sm2)
    ed25519 = KEYS.signing_key.private_key
    return [
        b"\x09" + pkcs8.sm2_to_pem(sm2),
        b"\x0a" + pkcs8.sm2_to_pem(sm2, PASSPHRASE, iterations=ITERATIONS,
                                   random_bytes=labelled("pbes2-sha256-aes256")),
        b"\x0a" + pbkdf2_sha1_aes128(info),
        b"\x0a" + scrypt_sm4(info),
        b"\x09" + private_to_pem(ed25519),
        b"\x0a" + pkcs8.pem(pkcs8.PEM_ENCRYPTED, pkcs8.encrypt(
            pkcs8.open_pem(private_to_pem(ed25519))[0], PASSPHRASE, iterations=ITERATIONS,
            random_bytes=labelled("pbes2-ed25519"))),
    ]


def write(seeds: list[bytes]) -> None:
    """Add the seeds to the corpus (named by content; other seeds are left alone)."""
    SEEDS.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (SEEDS / hashlib.sha256(seed).hexdigest()).write_bytes(seed)


def main() -> None:
    write(sm2_pkcs8_seeds())


if __name__ == "__main__":
    main()
