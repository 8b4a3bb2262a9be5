"""Write the published test vectors of holder credentials (docs/vectors/holder/).

    python docs/gen_holder_vectors.py [--out DIR]

Fixed seeds, a fixed time and seeded random bytes: rerunning gives
byte-identical files (the test suite checks that, and every outcome, in
tests/holder/test_vectors.py).  TEST KEYS ONLY: the seeds are published.

Files (format ``ecert-holder-vectors/1``):

* ``credentials.json``: a holder credential, open (the issuer's COSE_Sign1) and
  sealed (COSE_Encrypt0 to the verifier group), with its claims map (version 2:
  the compact status reference, the index last in the holder array), and the
  same credential in version 1 (the draft's ``status`` claim), which terminals
  still accept;
* ``presentations.json``: presentations and the outcome a terminal must give,
  in order, on one terminal (so the second use of one presentation is a replay);
* ``delegations.json``: a family member's delegation shown by the holder's
  device, and by a stranger's;
* ``status_lists.json``: signed status lists (1 and 2 bits) with lookups;
* ``payments.json``: payment presentations (two scans, ceiling) with their
  device-signed bindings, the terminal's own transaction and the outcome, and
  the version-2 settlement handles with the handle key they are made with.
* ``sm_presentations.json``: the SM suite (docs/sm-suite.md): SM2 device keys
  (the credential's ``cnf`` a compressed EC2 SM2 COSE_Key, presentations signed
  SM2 over SM3 with the default signer ID) under an SM2 and an Ed25519 issuer,
  an Ed25519 device under an SM2 issuer, and the refusals (another device's
  key, a header naming the other algorithm).

Status indices are drawn at random by the registry (registry/store.py), here
from a seeded source; SM2 signatures use seeded nonces, so they too are
byte-identical on every run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ecert_token import TokenRejected, TrustStore, Verifier, VerifyPolicy
from ecert_token.codec import cbor, cose
from ecert_token.codec.base45 import b45decode, b45encode
from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from ecert_token.crypto.sm2 import SM2PrivateKey
from ecert_token.holder import PresentationVerifier, StatusListLoader, present
from ecert_token.holder.claims import StatusRef, decode_claims, encode_claims
from ecert_token.holder.credential import sign_credential
from ecert_token.holder.device import DeviceKey
from ecert_token.holder.payment import Ceiling, Charge
from ecert_token.holder.presentation import parse
from ecert_token.holder.statuslist import StatusList, pack, sign_status_list
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.keys.suite import Suite
from ecert_token.model import BusinessType, Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token.replay.memory import MemoryReplayStore
from ecert_token.settlement.handles import HandleKey
from ecert_token_tools.vectors import seeded_random as seeded

FORMAT = "ecert-holder-vectors/1"
NOW = 1_790_000_000
ACTIVATED = NOW - 86_400
HOLDER, MEMBER, OTHER = "E4Q7ZK2M9PXA", "M7K2Q9ZX4PEA", "R3VN8TQ2LD6W"
OUT = Path(__file__).resolve().parent / "vectors" / "holder"
REG, PAY = BusinessType.HOSPITAL_REGISTRATION, BusinessType.HOSPITAL_SETTLEMENT
PHARMACY = BusinessType.PHARMACY_PURCHASE


def _device(seed: bytes, suite: Suite, nonce_seed: bytes) -> DeviceKey:
    """A device key from 32 seed bytes: the Ed25519 seed, or (SM) the SM2 scalar ``d``
    (these seeds are below n - 1) with seeded signing nonces."""
    if suite is Suite.SM:
        return DeviceKey(SM2PrivateKey(seed, random_bytes=seeded(nonce_seed)))
    return DeviceKey(Ed25519PrivateKey(seed))


class World:
    """The issuer, its registry (a temporary SQLite file), phones and status lists."""

    def __init__(self, directory: Path, sealed: bool = False, *,
                 issuer_suite: Suite = Suite.ED25519,
                 device_suite: Suite = Suite.ED25519) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tag = b"" if (issuer_suite, device_suite) == (Suite.ED25519,) * 2 else (
            f" {issuer_suite.value}/{device_suite.value}".encode())
        self.keys: KeyDir = generate(random_bytes=seeded(b"holder vectors keys" + tag),
                                     suite=issuer_suite)
        sk = self.keys.signing_key
        if isinstance(sk.private_key, SM2PrivateKey):  # seeded signing nonces
            sm2 = SM2PrivateKey(sk.private_key.secret,
                                random_bytes=seeded(b"holder vectors issuer nonces" + tag))
            self.keys = KeyDir.of(dataclasses.replace(sk, private_key=sm2), self.keys.group_key)
        self.seeds = {name: seeded(b"device " + name.encode() + tag)(32)
                      for name in ("holder", "other", "stranger")}
        self.devices = {n: _device(s, device_suite, b"device nonces " + n.encode() + tag)
                        for n, s in self.seeds.items()}
        self.platform = HolderPlatform(
            ActivationRegistry(directory / ("sealed.db" if sealed else "open.db"),
                               random_bytes=seeded(b"holder vectors status indices" + tag)),
            self.keys.signing_key, self.keys.group_key if sealed else None,
            random_bytes=seeded(b"holder vectors nonces" + tag))
        self.random = seeded(b"holder vectors presentations" + tag)

    def activate(self, cert_id: str, device: str, name: str = "张*丰") -> bytes:
        return self.platform.activate(Activation(
            cert_id, self.devices[device].public_key.encoded, Region("110105"),
            InsuranceType.EMPLOYEE_BASIC, name, Channel.WECHAT), now=ACTIVATED).file.sealed

    def present(self, blob: bytes, device: str, business: BusinessType, at: int,
                challenge: bytes | None = None, *, name_alg: bool = False) -> str:
        return present(blob, self.devices[device], business, now=at, challenge=challenge,
                       random_bytes=self.random, name_alg=name_alg)

    def keys_json(self, sealed: bool = False) -> dict[str, object]:
        sk = self.keys.signing_key
        out: dict[str, object] = {
            "issuer": sk.issuer, "issuer_kid": sk.kid.hex(),
            "issuer_seed": sk.private_key.seed.hex(),
            "issuer_public": sk.private_key.public_key.raw.hex(),
            "devices": {n: {"seed": s.hex(), "public": self.devices[n].public_key.raw.hex()}
                        for n, s in self.seeds.items()},
        }
        if isinstance(sk.private_key, SM2PrivateKey):
            out["issuer_alg"] = "SM2-SM3"
        if self.devices["holder"].suite is Suite.SM:
            out["device_alg"] = "SM2-SM3"
        if sealed:
            out["group_kid"] = self.keys.group_key.kid.hex()
            out["group_key"] = self.keys.group_key.secret.hex()
        return out


def charge_of(check: dict[str, Any]) -> Charge | None:
    """The terminal's own transaction of a check (payments.json), or None."""
    c = check.get("charge")
    return None if c is None else Charge(c["amount_fen"], c["payee"], c["order_id"],
                                         c.get("terminal_id"), c.get("time"))


def _outcome(checker: Verifier, text: str, business: BusinessType, now: int,
             challenge: bytes | None, *, charge: Charge | None = None) -> dict[str, Any]:
    try:
        if challenge is not None or charge is not None:
            result = checker.presentations.check(text, business, now=now, challenge=challenge,
                                                 charge=charge)
        else:
            result = checker.verify(text, business, now=now)
    except TokenRejected as exc:
        return {"outcome": exc.code.value}
    return {"outcome": "valid", "result": result.to_dict()}


def terminal(trust: TrustStore, status: bytes | None) -> Verifier:
    """The vectors' terminal: replay memory began an hour before NOW, status list loaded."""
    policy = VerifyPolicy(clock=lambda: NOW)
    loader = StatusListLoader(trust, clock=lambda: NOW)
    if status is not None:
        loader.offer(status, now=NOW)
    return Verifier(trust, policy, MemoryReplayStore(max_lifetime=305, clock=lambda: NOW - 3600),
                    presentations=PresentationVerifier(trust, policy, loader))


def run_checks(trust: TrustStore, status: bytes | None,
               checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each check's expected outcome, on one terminal, in order."""
    verifier = terminal(trust, status)
    for check in checks:
        challenge = bytes.fromhex(check["challenge"]) if check.get("challenge") else None
        check["expected"] = _outcome(verifier, check["text"],
                                     BusinessType.from_code(check["business_type"]),
                                     check["now"], challenge, charge=charge_of(check))
    return checks


def version_1(w: World, blob: bytes) -> bytes:
    """``blob``'s credential as version 1 wrote it: the draft's status claim naming the
    platform's list (signed by the same issuer; version 1 is read, no longer issued)."""
    claims = decode_claims(cose.decode_sign1(blob).payload)
    ref = StatusRef(w.platform.status_uri, claims.status.idx)
    return sign_credential(dataclasses.replace(claims, status=ref), w.keys.signing_key)


def credentials(w: World, ws: World) -> dict[str, Any]:
    open_blob = w.activate(HOLDER, "holder")
    sealed_blob = ws.activate(HOLDER, "holder")
    claims_cbor = cose.decode_sign1(open_blob).payload
    claims = decode_claims(claims_cbor)
    assert encode_claims(claims) == claims_cbor and claims.status.uri is None
    v1 = version_1(w, open_blob)
    return {
        "description": "A holder credential as the platform issues it at activation.",
        "keys": w.keys_json(sealed=True),
        "claims": {
            "credential_id": claims.credential_id, "issued_at": claims.issued_at,
            "expires_at": claims.expires_at, "device_key": claims.device_key.raw.hex(),
            "status": {"uri": claims.status.uri, "idx": claims.status.idx},
            "insured_region": claims.region.code, "insurance_type": claims.insurance_type.value,
            "channel": claims.channel.value, "masked_name": claims.masked_name,
            "subject_kind": claims.subject_kind.value, "actor_id": claims.actor_id,
        },
        "claims_cbor_hex": claims_cbor.hex(),
        "open_cose_sign1_hex": open_blob.hex(),
        "sealed_cose_encrypt0_hex": sealed_blob.hex(),
        "sealed_note": "decrypt with group_key (AES-CCM-16-64-128, AAD the Enc_structure): "
                       "the plaintext is open_cose_sign1_hex, byte for byte",
        "status_list_uri": w.platform.status_uri,
        "version_1_cose_sign1_hex": v1.hex(),
        "version_1_claims_cbor_hex": cose.decode_sign1(v1).payload.hex(),
        "version_1_note": "the same credential with the Token Status List draft's claim "
                          "65535 {status_list: {idx, uri}} and a five-item holder array "
                          "(version 1: still accepted, no longer issued)",
    }


def presentations(w: World) -> dict[str, Any]:
    blob = w.activate(HOLDER, "holder")
    revoked_blob = w.activate(OTHER, "other", name="王*")
    w.platform.unbind(OTHER, now=NOW - 600)
    status, _ = w.platform.status_list(now=NOW - 300)
    p = w.present(blob, "holder", REG, NOW)
    v1 = version_1(w, blob)
    checks = [
        {"description": "a presentation minted offline, checked 5 s later",
         "text": p, "business_type": "01101", "now": NOW + 5},
        {"description": "the same presentation again", "text": p, "business_type": "01101",
         "now": NOW + 6},
        {"description": "a payment presentation at its payment step",
         "text": w.present(blob, "holder", PAY, NOW), "business_type": "01301", "now": NOW},
        {"description": "an identity presentation at a payment step",
         "text": w.present(blob, "holder", REG, NOW), "business_type": "01301", "now": NOW},
        {"description": "a 60 s presentation two minutes later",
         "text": w.present(blob, "holder", REG, NOW - 120), "business_type": "01101",
         "now": NOW},
        {"description": "the credential presented with another device's key",
         "text": w.present(blob, "stranger", REG, NOW), "business_type": "01101", "now": NOW},
        {"description": "an unbound (revoked) credential",
         "text": w.present(revoked_blob, "other", REG, NOW), "business_type": "01101",
         "now": NOW},
        {"description": "the status list 48 h after it was issued",
         "text": w.present(blob, "holder", REG, NOW + 48 * 3600 - 300),
         "business_type": "01101", "now": NOW + 48 * 3600 - 299},
        {"description": "challenge mode: the terminal showed 0a0b0c0d",
         "text": w.present(blob, "holder", REG, NOW, b"\x0a\x0b\x0c\x0d"),
         "business_type": "01101", "now": NOW, "challenge": "0a0b0c0d"},
        {"description": "challenge mode: an answer to another challenge",
         "text": w.present(blob, "holder", REG, NOW, b"\x01\x02\x03\x04"),
         "business_type": "01101", "now": NOW, "challenge": "0a0b0c0d"},
        {"description": "a version-1 credential (the draft's status claim), still accepted",
         "text": w.present(v1, "holder", REG, NOW), "business_type": "01101", "now": NOW},
        {"description": "an earlier phone's presentation: the header names alg -8",
         "text": w.present(blob, "holder", REG, NOW, name_alg=True),
         "business_type": "01101", "now": NOW},
        {"description": "the unbound credential in version 1: the same status bit",
         "text": w.present(version_1(w, revoked_blob), "other", REG, NOW),
         "business_type": "01101", "now": NOW},
    ]
    trust = TrustStore([w.keys.signing_key.public])
    return {
        "description": "Presentations checked in order on one terminal that holds the issuer's "
                       "public key and the status list; replay memory began at NOW - 3600.",
        "keys": w.keys_json(), "status_list_cwt_hex": status.hex(),
        "checks": run_checks(trust, status, checks),
    }


def delegations(w: World) -> dict[str, Any]:
    w.activate(HOLDER, "holder")
    member = Activation(MEMBER, bytes(32), Region("110105"), InsuranceType.RESIDENT_BASIC,
                        "李*", Channel.WECHAT, auth_method="family-binding")
    delegation = w.platform.add_family_member(HOLDER, member, now=ACTIVATED + 60).file.sealed
    checks = [
        {"description": "a member's code shown by the holder's device",
         "text": w.present(delegation, "holder", REG, NOW), "business_type": "01101",
         "now": NOW},
        {"description": "the member's delegation presented by an unrelated device",
         "text": w.present(delegation, "stranger", REG, NOW), "business_type": "01101",
         "now": NOW},
    ]
    return {
        "description": "A family delegation: subject the member, actor the holder, cnf the "
                       "holder's device key.",
        "keys": w.keys_json(), "delegation_cose_sign1_hex": delegation.hex(),
        "delegation_claims_cbor_hex": cose.decode_sign1(delegation).payload.hex(),
        "checks": run_checks(TrustStore([w.keys.signing_key.public]), None, checks),
    }


def status_lists(w: World) -> dict[str, Any]:
    out = []
    for bits, statuses in ((1, {1: 1, 3: 1, 9: 1}), (2, {1: 1, 2: 2, 3: 3})):
        sl = StatusList("ec:NHSA", NOW, NOW + 86_400, 43_200, bits, pack(statuses, 16, bits))
        signed = sign_status_list(sl, w.keys.signing_key)
        out.append({"bits": bits, "cwt_hex": signed.hex(), "issued_at": NOW,
                    "lst_uncompressed_hex": sl.data.hex(),
                    "lookups": {str(i): sl.status(i) for i in range(16)}})
    return {"description": "Signed status lists (Token Status List draft, CWT form).",
            "keys": w.keys_json(), "lists": out}


def _charge_json(c: Charge) -> dict[str, Any]:
    out: dict[str, Any] = {"amount_fen": c.amount_fen, "payee": c.payee, "order_id": c.order_id}
    if c.terminal_id is not None:
        out.update(terminal_id=c.terminal_id, time=c.time)
    return out


def payments(w: World) -> dict[str, Any]:
    issued = w.platform.activate(Activation(
        HOLDER, w.devices["holder"].public_key.encoded, Region("110105"),
        InsuranceType.EMPLOYEE_BASIC, "张*丰", Channel.WECHAT), now=ACTIVATED).file
    assert issued.handle_key is not None
    till = Charge(2_350, "P11010500017", "RX-0001", "T1101050001", NOW - 30)
    ceiling = Ceiling(5_000, "P11010500017")

    def bound(terms: Charge | Ceiling | None, counter: int | None) -> str:
        return present(issued.sealed, w.devices["holder"], PHARMACY, now=NOW,
                       random_bytes=w.random, handle_key=issued.handle_key, payment=terms,
                       counter=counter)

    exact, under, plain = bound(till, 1), bound(ceiling, 2), bound(None, None)
    checks = [
        {"description": "two scans: the terminal's own transaction (the one it showed)",
         "text": exact, "charge": _charge_json(till)},
        {"description": "two scans: another amount than the person confirmed",
         "text": bound(till, 3), "charge": _charge_json(Charge(2_351, till.payee, till.order_id,
                                                               till.terminal_id, till.time))},
        {"description": "one scan: 48.00 yuan under a 50.00 yuan ceiling at the payee",
         "text": under, "charge": _charge_json(Charge(4_800, "P11010500017", "RX-0002"))},
        {"description": "one scan: above the ceiling",
         "text": bound(ceiling, 4), "charge": _charge_json(Charge(5_001, "P11010500017", "X"))},
        {"description": "one scan: the ceiling was confirmed for another payee",
         "text": bound(ceiling, 5), "charge": _charge_json(Charge(100, "P11010500018", "X"))},
        {"description": "a payment presentation without a binding, at a terminal asking for one",
         "text": plain, "charge": _charge_json(till)},
    ]
    for check in checks:
        check.update(business_type=PHARMACY.value, now=NOW + 5)
    bindings = []
    for text in (exact, under):
        claims = parse(text).claims
        b = claims.binding
        assert b is not None
        terms = (till.terms(b.counter) if b.ceiling_fen is None
                 else ceiling.terms(b.counter))
        bindings.append({"presentation_id_hex": claims.presentation_id.hex(),
                         "claim_value_cbor_hex": cbor.dumps(b.value()).hex(),
                         "form": b.form, "counter": b.counter, "ceiling_fen": b.ceiling_fen,
                         "digest_hex": b.digest.hex(), "terms_cbor_hex": terms.hex()})
    handle_key = HandleKey.of(w.keys.signing_key)
    handles = []
    for check in run_checks(TrustStore([w.keys.signing_key.public]), None, checks):
        result = check["expected"].get("result")
        if result is not None:
            claims = parse(check["text"]).claims
            handles.append({"presentation_id_hex": claims.presentation_id.hex(),
                            "expires_at": claims.expires_at,
                            "handle": result["settlement"]["mdtrt_cert_no"]})
    return {
        "description": "Payment presentations (02121) checked on one terminal against its own "
                       "transaction; digest = SHA-256(domain | presentation id | terms)[:8], "
                       "domain 'ecert-token payment binding v1' 0x00 (exact) or "
                       "'ecert-token payment ceiling v1' 0x00 (ceiling).",
        "keys": {**w.keys_json(), "handle_secret": handle_key.secret.hex(),
                 "holder_handle_key": issued.handle_key.hex(), "credential_id": HOLDER},
        "credential_cose_sign1_hex": issued.sealed.hex(),
        "checks": checks, "bindings": bindings, "handles": handles,
    }


def _swap_alg(text: str) -> str:
    """A presentation in the earlier layout (``{1: alg, 13: ...}``) with its header's alg
    replaced by the other suite's (same bytes otherwise; the signature no longer covers
    it, and the alg check comes first)."""
    data = b45decode(text[4:])
    ed, sm = b"\xa2\x01\x27\x0d", b"\xa2\x01\x3a\x00\x01\x00\x00\x0d"
    swapped = data.replace(sm, ed, 1) if sm in data else data.replace(ed, sm, 1)
    head = len(sm) - len(ed) if sm in data else len(ed) - len(sm)
    # the protected bstr's length heading (58 LL) is the byte after d2 84
    assert swapped[2] == 0x59 or swapped[2] == 0x58
    size = int.from_bytes(swapped[3:5], "big") if swapped[2] == 0x59 else swapped[3]
    fixed = size - head
    if swapped[2] == 0x59:
        swapped = swapped[:3] + fixed.to_bytes(2, "big") + swapped[5:]
    else:
        swapped = swapped[:3] + bytes((fixed,)) + swapped[4:]
    return "EP1:" + b45encode(swapped)


def sm_presentations(directory: Path) -> dict[str, Any]:
    """Both suites' device keys under both suites' issuers, on terminals trusting both."""
    worlds = {
        "sm/sm": World(directory / "sm-sm", issuer_suite=Suite.SM, device_suite=Suite.SM),
        "ed25519/sm": World(directory / "ed-sm", device_suite=Suite.SM),
        "sm/ed25519": World(directory / "sm-ed", issuer_suite=Suite.SM),
    }
    cases = []
    for name, w in worlds.items():
        blob = w.activate(HOLDER, "holder")
        p = w.present(blob, "holder", REG, NOW)
        checks = [
            {"description": f"{name} (issuer/device): a presentation, checked 5 s later",
             "text": p, "business_type": "01101", "now": NOW + 5},
            {"description": f"{name}: the same presentation again", "text": p,
             "business_type": "01101", "now": NOW + 6},
            {"description": f"{name}: the credential presented with another device's key",
             "text": w.present(blob, "stranger", REG, NOW), "business_type": "01101",
             "now": NOW},
            {"description": f"{name}: an earlier phone's header, naming the algorithm",
             "text": w.present(blob, "holder", REG, NOW, name_alg=True),
             "business_type": "01101", "now": NOW},
            {"description": f"{name}: the header names the other suite's algorithm",
             "text": _swap_alg(w.present(blob, "holder", REG, NOW, name_alg=True)),
             "business_type": "01101", "now": NOW},
        ]
        trust = TrustStore([w.keys.signing_key.public])
        cases.append({"suites": name, "keys": w.keys_json(),
                      "credential_cose_sign1_hex": blob.hex(),
                      "checks": run_checks(trust, None, checks)})
    return {
        "description": "The SM suite for holders: SM2 device keys (cnf a compressed EC2 SM2 "
                       "COSE_Key {1: 2, -1: -65537, -2: x, -3: y odd}), presentations signed "
                       "SM2 over SM3 with the default signer ID (protected header {1: -65537, "
                       "13: credential}); each case on its own terminal, in order.",
        "cases": cases,
    }


def write(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        docs = {
            "credentials.json": credentials(World(t / "a"), World(t / "b", sealed=True)),
            "presentations.json": presentations(World(t / "c")),
            "delegations.json": delegations(World(t / "d")),
            "status_lists.json": status_lists(World(t / "e")),
            "payments.json": payments(World(t / "g")),
            "sm_presentations.json": sm_presentations(t / "f"),
        }
    paths = []
    for name, doc in docs.items():
        path = out / name
        path.write_text(json.dumps({"format": FORMAT, **doc}, ensure_ascii=False, indent=2,
                                   sort_keys=True) + "\n", "utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help=f"directory (default {OUT})")
    args = parser.parse_args(argv)
    for path in write(Path(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
