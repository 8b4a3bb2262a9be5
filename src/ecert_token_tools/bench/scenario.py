"""The inputs and operations every contender runs on.

One issuer key, one verifier group, one credential; ``count`` tokens minted
for the same claims shape (fresh token ids, so the replay mark accepts each
once).  The bare signature baselines verify the exact Sig_structure and
signature inside those tokens; the peers decode an equivalent token carrying
the same claims (python-cwt reads this format's own bytes).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import nacl.bindings as sodium

from ecert_token.codec import cose
from ecert_token.codec.base45 import ALPHABET, b45encode
from ecert_token.errors import TokenRejected
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.keys.material import GroupKey
from ecert_token.model import BusinessType, TokenClaims
from ecert_token.replay.memory import MemoryReplayStore
from ecert_token.token import Issuer, Verifier, VerifyPolicy
from ecert_token.token.text import from_text, to_text

from ..vectors import sample_person
from .peers import cbor2_5_dir, load_python_cwt
from .runner import Contender

NOW = 1_790_000_000


def running_store() -> MemoryReplayStore:
    """An in-memory replay store whose memory began an hour before NOW."""
    return MemoryReplayStore(max_lifetime=VerifyPolicy().replay_window, clock=lambda: NOW - 3600)
REG = BusinessType.HOSPITAL_REGISTRATION
PEER_INPUTS = 256
"""Peers do not consume their inputs; they cycle through this many."""


def _rng_bytes(seed: int) -> Callable[[int], bytes]:
    """Reproducible benchmark keys (never for real keys)."""
    return random.Random(seed).randbytes  # noqa: S311 - benchmark inputs, not secrets


class Scenario:
    """Keys, tokens and peer inputs for one benchmark run."""

    def __init__(self, count: int, *, cbor2_dir: str | None = None, peers: bool = True) -> None:
        self.keys: KeyDir = generate(issuer="NHSA", group="national",
                                     random_bytes=_rng_bytes(1))
        self.credential = sample_person()
        self.issuer = Issuer(self.keys.signing_key, self.keys.group_key,
                             clock=lambda: NOW, random_bytes=os.urandom)
        self.tokens = [self.issuer.mint(self.credential, REG) for _ in range(count)]
        self.verifier = self.new_verifier()
        pk = self.keys.signing_key.private_key.public_key.raw
        self.public_raw = pk
        self.signed: list[bytes] = []  # signature || Sig_structure, as libsodium takes it
        self.messages: list[tuple[bytes, bytes]] = []
        for t in self.tokens[:PEER_INPUTS]:
            env = cose.decode_encrypt0(from_text(t))
            plain = self.keys.group_key.aead.decrypt(env.iv, env.ciphertext,
                                                     cose.enc_structure(env.protected))
            s1 = cose.decode_sign1(plain)
            msg = cose.sig_structure(s1.protected, s1.payload)
            self.signed.append(s1.signature + msg)
            self.messages.append((s1.signature, msg))
        self.claims = self.verifier.check(self.tokens[0], REG, now=NOW).claims
        self.rejects = self._rejects()
        self.peer_notes: dict[str, str] = {}
        self.peer_ops: dict[str, Callable[[int], object]] = {}
        if peers:
            self._load_peers(cbor2_dir)

    def new_verifier(self) -> Verifier:
        """A verifier at NOW whose replay memory began an hour earlier (a running terminal:
        a store created at NOW would fence the tokens minted at NOW)."""
        return Verifier(self.keys.trust_store(), VerifyPolicy(clock=lambda: NOW), running_store())

    # --- rejections -----------------------------------------------------

    def _rejects(self) -> dict[str, list[str]]:
        rnd = random.Random(7)  # noqa: S311 - benchmark inputs, not secrets
        size = len(self.tokens[0])
        other_group = GroupKey("other", b"\x0f\x0e\x0d\x0c", bytes(range(16)))
        foreign_issuer = Issuer(self.keys.signing_key, other_group, clock=lambda: NOW)
        unknown = [foreign_issuer.mint(self.credential, REG) for _ in range(PEER_INPUTS)]
        tampered = []
        for t in self.tokens[-PEER_INPUTS:]:
            raw = bytearray(from_text(t))
            raw[-1] ^= 0x01
            tampered.append(to_text(bytes(raw)))
        garbage = ["EC1:" + "".join(rnd.choice(ALPHABET) for _ in range(size - 4))
                   for _ in range(PEER_INPUTS)]
        foreign = []
        for i in range(PEER_INPUTS):
            kind = i % 4
            if kind == 0:
                foreign.append("HC1:" + b45encode(rnd.randbytes(300)))  # an EU DCC-like code
            elif kind == 1:
                foreign.append(f"https://example.org/pay?order={rnd.randrange(10**12)}")
            elif kind == 2:
                foreign.append(str(rnd.randrange(10**17, 10**18)))  # a payment barcode number
            else:
                foreign.append(rnd.randbytes(200).hex().upper())
        return {"foreign QR code": foreign, "garbage after EC1:": garbage,
                "unknown group key": unknown, "tampered ciphertext": tampered}

    # --- peers ----------------------------------------------------------

    def equivalent_claims(self, i: int) -> dict[str, Any]:
        """The claims as JSON-style fields for PASETO and JWT (exp far ahead)."""
        c = self.claims
        now = int(time.time())
        return {
            "sub": c.credential_id, "iat": now, "exp": now + 86_400 * 365,
            "jti": os.urandom(8).hex(),
            "ecert": [c.region.wire, c.insurance_type.wire, c.business_type.wire,
                      c.channel.wire, c.masked_name, c.subject_kind.wire],
        }

    def _load_peers(self, cbor2_dir: str | None) -> None:
        seed = self.keys.signing_key.private_key.seed
        self._load_cwt(cbor2_dir)
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import (
                Ed25519PrivateKey as OsslPrivate,
            )
            from cryptography.hazmat.primitives.serialization import (
                Encoding,
                NoEncryption,
                PrivateFormat,
                PublicFormat,
            )
        except ImportError as exc:  # pragma: no cover - cryptography is a core dependency
            self.peer_notes["openssl"] = str(exc)
            return
        ossl = OsslPrivate.from_private_bytes(seed)
        ossl_pub = ossl.public_key()
        messages = self.messages

        def openssl_verify(i: int) -> None:
            sig, msg = messages[i]
            ossl_pub.verify(sig, msg)

        self.peer_ops["OpenSSL Ed25519 verify (cryptography)"] = openssl_verify
        try:
            pyseto = importlib.import_module("pyseto")

            pem = ossl.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            pub_pem = ossl_pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            skey = pyseto.Key.new(version=4, purpose="public", key=pem)
            pkey = pyseto.Key.new(version=4, purpose="public", key=pub_pem)
            pasetos = [pyseto.encode(skey, self._paseto_payload(i), serializer=json)
                       for i in range(PEER_INPUTS)]
            pyseto.decode(pkey, pasetos[0], deserializer=json)
            self.peer_ops["pyseto v4.public decode"] = (
                lambda i: pyseto.decode(pkey, pasetos[i], deserializer=json))
            self.peer_notes["pyseto"] = "v4.public, claims as JSON, exp checked"
        except ImportError as exc:
            self.peer_notes["pyseto"] = f"not installed ({exc})"
        try:
            jwt = importlib.import_module("jwt")

            jwts = [jwt.encode(self.equivalent_claims(i), ossl, algorithm="EdDSA")
                    for i in range(PEER_INPUTS)]
            jwt.decode(jwts[0], ossl_pub, algorithms=["EdDSA"])
            self.peer_ops["PyJWT EdDSA decode"] = (
                lambda i: jwt.decode(jwts[i], ossl_pub, algorithms=["EdDSA"]))
            self.peer_notes["pyjwt"] = "EdDSA (OpenSSL), same claims as JSON, exp checked"
        except ImportError as exc:
            self.peer_notes["pyjwt"] = f"not installed ({exc})"

    def _paseto_payload(self, i: int) -> dict[str, Any]:
        claims = self.equivalent_claims(i)
        for k in ("iat", "exp"):
            claims[k] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(claims[k]))
        return claims

    def _load_cwt(self, cbor2_dir: str | None) -> None:
        pcwt, note = load_python_cwt(cbor2_5_dir(cbor2_dir))
        if pcwt is None:
            self.peer_notes["python-cwt"] = note
            return
        gk, sk = self.keys.group_key, self.keys.signing_key
        enc_key = pcwt.COSEKey.new({1: 4, 3: 10, -1: gk.secret, 2: gk.kid})
        ver_key = pcwt.COSEKey.new(
            {1: 1, 3: -8, -1: 6, -2: sk.private_key.public_key.raw, 2: sk.kid})
        keys = [enc_key, ver_key]
        now = int(time.time())
        raws = []
        for _ in range(PEER_INPUTS):
            claims: TokenClaims = dataclasses.replace(
                self.claims, token_id=os.urandom(8), issued_at=now,
                expires_at=now + 86_400 * 365)
            raws.append(from_text(self.issuer.mint_claims(claims)))
        try:
            pcwt.decode(raws[0], keys=keys)
        except Exception as exc:  # report any failure of the peer
            self.peer_notes["python-cwt"] = (
                f"cannot decode {note}: {type(exc).__name__}: {exc}; install cbor2 5 beside it")
            return
        self.peer_notes["python-cwt"] = (
            f"{note}; decodes this format's COSE bytes (Encrypt0 + Sign1), no Base45, no replay")
        self.peer_ops["python-cwt decode (same token)"] = lambda i: pcwt.decode(raws[i], keys=keys)

    # --- contenders -----------------------------------------------------

    def contenders(self, count: int) -> list[Contender]:
        """Every operation of the comparison, ready for :func:`runner.run`."""
        verifier = self.verifier
        tokens = self.tokens
        signed = self.signed
        pk = self.public_raw
        sign_open = sodium.crypto_sign_open
        secret = sodium.crypto_sign_seed_keypair(self.keys.signing_key.private_key.seed)[1]
        sign = sodium.crypto_sign
        messages = [m for _, m in self.messages]
        issuer, credential = self.issuer, self.credential
        out = [
            Contender("ecert verify (full)", lambda i: verifier.verify(tokens[i], REG, now=NOW),
                      count),
            Contender("libsodium Ed25519 verify (PyNaCl)", lambda i: sign_open(signed[i], pk),
                      len(signed)),
            Contender("ecert mint", lambda i: issuer.mint(credential, REG, now=NOW),
                      PEER_INPUTS, group="mint"),
            Contender("libsodium Ed25519 sign (PyNaCl)", lambda i: sign(messages[i], secret),
                      len(messages), group="mint"),
        ]
        for name, op in self.peer_ops.items():
            out.append(Contender(name, op, PEER_INPUTS))
        for reason, inputs in self.rejects.items():
            out.append(Contender(f"reject: {reason}", _rejecting(verifier, inputs),
                                 len(inputs), group="reject"))
        return out


def _rejecting(verifier: Verifier, inputs: list[str]) -> Callable[[int], object]:
    def op(i: int) -> object:
        try:
            verifier.verify(inputs[i], REG, now=NOW)
        except TokenRejected as exc:
            return exc.code
        raise AssertionError("a token meant to be rejected was accepted")

    return op
