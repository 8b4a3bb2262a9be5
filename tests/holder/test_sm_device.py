"""SM2 device keys (issue #15 item 3, issue #13's holder credentials): activation, offline
presentation and the terminal's check with SM2 devices and with every mix of suites, on a real
SQLite registry; another device's key, a swapped algorithm and tampering refused; every device
signature checked again by the independent pure-Python gmssl."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import BusinessType, FixedClock, TokenRejected, TrustStore
from ecert_token.codec.base45 import b45decode, b45encode
from ecert_token.crypto.ed25519 import ALG_EDDSA
from ecert_token.crypto.sm2 import ALG_SM2_SM3, P, SM2PrivateKey, compress
from ecert_token.errors import ErrorCode, InvalidArgument, KeyMaterialError
from ecert_token.holder import new_challenge, present, verify_with_challenge
from ecert_token.holder.claims import HolderClaimsError, decode_device_key
from ecert_token.holder.device import DeviceKey, DevicePublicKey
from ecert_token.holder.presentation import parse
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.keys.suite import Suite
from ecert_token.model import Channel, InsuranceType, Region
from ecert_token.registry import Activation, ActivationRegistry, HolderPlatform
from ecert_token_tools.vectors import seeded_random

from ..conftest import NOW
from ..gm import independent_verify, require_gm
from .conftest import HOLDER, MEMBER, activation, device, make_terminal

require_gm()

REG = BusinessType.HOSPITAL_REGISTRATION
SUITES = [(i, d) for i in (Suite.ED25519, Suite.SM) for d in (Suite.ED25519, Suite.SM)]
VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "holder"


def _keys(suite: Suite) -> KeyDir:
    return generate(issuer="NHSA", group="national", suite=suite,
                    random_bytes=seeded_random(b"sm device keys " + suite.value.encode()))


def _platform(tmp_path: Path, keys: KeyDir, sealed: bool = False) -> HolderPlatform:
    registry = ActivationRegistry(tmp_path / "registry.db",
                                  random_bytes=seeded_random(b"indices"))
    return HolderPlatform(registry, keys.signing_key, keys.group_key if sealed else None,
                          clock=FixedClock(NOW - 3600), random_bytes=seeded_random(b"nonces"))


def _device_signature_is_independently_valid(text: str, device_key: DevicePublicKey) -> bool:
    """gmssl's verdict on the presentation's SM2 device signature over its Sig_structure."""
    data = cbor2.loads(b45decode(text[4:]))
    protected, _, payload, signature = data.value
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    return independent_verify(device_key.raw, to_be_signed, signature)


@pytest.mark.parametrize(("issuer_suite", "device_suite"), SUITES,
                         ids=[f"{i.value}-issuer/{d.value}-device" for i, d in SUITES])
@pytest.mark.parametrize("sealed", [False, True], ids=["open", "sealed"])
def test_offline_life_with_every_mix_of_suites(tmp_path: Path, issuer_suite: Suite,
                                               device_suite: Suite, sealed: bool) -> None:
    """Activate, present with no network, verify at a terminal holding only public trust
    (and the group key when sealed) and the status list; replay; unbind reaches it."""
    keys = _keys(issuer_suite)
    platform = _platform(tmp_path, keys, sealed)
    phone = device(b"phone", device_suite.value)
    issued = platform.activate(activation(HOLDER, phone))
    trust = TrustStore([k.public for k in keys.issuer_ring],
                       list(keys.group_ring) if sealed else ())
    status, _ = platform.status_list(now=NOW - 60)
    terminal = make_terminal(trust)
    terminal.status.offer(status, now=NOW)

    text = present(issued.file.sealed, phone, REG, now=NOW)
    presented = parse(text)
    assert presented.alg is None  # the cnf key's algorithm, not repeated in the header
    assert parse(present(issued.file.sealed, phone, REG, now=NOW, name_alg=True)).alg == (
        phone.alg) == device_suite.signature_alg
    result = terminal.verifier.verify(text, REG)
    assert result.credential is not None and result.status_checked
    assert result.credential.device_key == phone.public_key
    assert result.claims.credential_id == HOLDER and result.issuer == "NHSA"
    if device_suite is Suite.SM:
        assert _device_signature_is_independently_valid(text, phone.public_key)
    with pytest.raises(TokenRejected) as info:
        terminal.verifier.verify(text, REG)
    assert info.value.code is ErrorCode.REPLAYED

    stranger = device(b"stranger", device_suite.value)
    with pytest.raises(TokenRejected) as info:
        terminal.verifier.verify(present(issued.file.sealed, stranger, REG, now=NOW), REG)
    assert info.value.code is ErrorCode.BAD_SIGNATURE
    other_suite = Suite.SM if device_suite is Suite.ED25519 else Suite.ED25519
    impostor = device(b"impostor", other_suite.value)  # signs with the other algorithm
    with pytest.raises(TokenRejected) as info:  # checked with the cnf key's algorithm
        terminal.verifier.verify(present(issued.file.sealed, impostor, REG, now=NOW), REG)
    assert info.value.code is ErrorCode.BAD_SIGNATURE
    with pytest.raises(TokenRejected) as info:  # a header naming another algorithm
        terminal.verifier.verify(present(issued.file.sealed, impostor, REG, now=NOW,
                                         name_alg=True), REG)
    assert info.value.code is ErrorCode.MALFORMED
    earlier = present(issued.file.sealed, phone, REG, now=NOW, name_alg=True)
    assert terminal.verifier.verify(earlier, REG).credential is not None  # still read

    platform.unbind(HOLDER, now=NOW)
    later, _ = platform.status_list(now=NOW + 10)
    terminal.status.offer(later, now=NOW + 10)
    terminal.clock.now = NOW + 20
    with pytest.raises(TokenRejected) as info:
        terminal.verifier.verify(present(issued.file.sealed, phone, REG, now=NOW + 15), REG)
    assert info.value.code is ErrorCode.CREDENTIAL_REVOKED


def test_reactivation_moves_from_an_ed25519_phone_to_an_sm2_phone(tmp_path: Path) -> None:
    keys = _keys(Suite.SM)
    platform = _platform(tmp_path, keys)
    old = platform.activate(activation(HOLDER, device(b"old")))
    new_phone = device(b"new", "sm")
    new = platform.activate(activation(HOLDER, new_phone), now=NOW - 1800)
    assert new.revoked == (old.record.status_idx,)
    assert len(new.record.device_key) == 33  # the registry keeps the compressed point
    assert DevicePublicKey.from_encoded(new.record.device_key) == new_phone.public_key
    terminal = make_terminal(TrustStore([keys.signing_key.public]))
    status, _ = platform.status_list(now=NOW - 60)
    terminal.status.offer(status, now=NOW)
    assert terminal.verifier.verify(present(new.file.sealed, new_phone, REG, now=NOW), REG)
    with pytest.raises(TokenRejected) as info:
        terminal.verifier.verify(present(old.file.sealed, device(b"old"), REG, now=NOW), REG)
    assert info.value.code is ErrorCode.CREDENTIAL_REVOKED


def test_family_delegation_and_challenge_on_an_sm2_device(tmp_path: Path) -> None:
    keys = _keys(Suite.ED25519)
    platform = _platform(tmp_path, keys)
    phone = device(b"phone", "sm")
    platform.activate(activation(HOLDER, phone))
    member = Activation(MEMBER, bytes(32), Region("110105"), InsuranceType.RESIDENT_BASIC,
                        "李*", Channel.WECHAT, auth_method="family-binding")
    delegation = platform.add_family_member(HOLDER, member).file.sealed
    terminal = make_terminal(TrustStore([keys.signing_key.public]))
    text = present(delegation, phone, REG, now=NOW)
    assert _device_signature_is_independently_valid(text, phone.public_key)
    result = terminal.verifier.verify(text, REG)
    assert result.claims.credential_id == MEMBER and result.claims.actor_id == HOLDER
    with pytest.raises(TokenRejected) as info:
        terminal.verifier.verify(present(delegation, device(b"x", "sm"), REG, now=NOW), REG)
    assert info.value.code is ErrorCode.BAD_SIGNATURE

    challenge = new_challenge(seeded_random(b"challenge"))
    answer = present(delegation, phone, REG, now=NOW, challenge=challenge)
    assert _device_signature_is_independently_valid(answer, phone.public_key)
    assert verify_with_challenge(terminal.verifier, answer, REG, challenge, now=NOW)
    wrong = present(delegation, phone, REG, now=NOW, challenge=b"\x00" * 8)
    with pytest.raises(TokenRejected) as info:
        verify_with_challenge(terminal.verifier, wrong, REG, challenge, now=NOW)
    assert info.value.code is ErrorCode.CHALLENGE_MISMATCH


@pytest.fixture(scope="module")
def sm_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, TrustStore]:
    keys = _keys(Suite.SM)
    platform = _platform(tmp_path_factory.mktemp("sm"), keys)
    phone = device(b"phone", "sm")
    issued = platform.activate(activation(HOLDER, phone))
    return (present(issued.file.sealed, phone, REG, now=NOW),
            TrustStore([keys.signing_key.public]))


@settings(deadline=None, max_examples=150)
@given(st.data())
def test_tampered_sm_presentations_are_refused(sm_world: tuple[str, TrustStore],
                                               data: st.DataObject) -> None:
    """Any change to the bytes of an SM2-signed presentation (SM2 issuer, SM2 device):
    refused with a TokenRejected, never accepted, never another exception."""
    text, trust = sm_world
    raw = bytearray(b45decode(text[4:]))
    for i in data.draw(st.sets(st.integers(0, len(raw) - 1), min_size=1, max_size=3)):
        raw[i] ^= data.draw(st.integers(1, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    terminal = make_terminal(trust)
    with pytest.raises(TokenRejected):
        terminal.checker.check("EP1:" + b45encode(bytes(raw)), REG, now=NOW)


def test_every_single_byte_flip_of_the_device_signature_is_refused(
        sm_world: tuple[str, TrustStore]) -> None:
    text, trust = sm_world
    raw = b45decode(text[4:])
    terminal = make_terminal(trust)
    assert terminal.checker.check(text, REG, now=NOW)
    for i in range(len(raw) - 64, len(raw)):
        flipped = raw[:i] + bytes((raw[i] ^ 0x01,)) + raw[i + 1:]
        with pytest.raises(TokenRejected) as info:
            terminal.checker.check("EP1:" + b45encode(flipped), REG, now=NOW)
        assert info.value.code is ErrorCode.BAD_SIGNATURE


def test_the_cnf_key_is_strict() -> None:
    """Only the shapes we write: Ed25519 OKP, or SM2 EC2 with x and the sign of y."""
    phone = DeviceKey(SM2PrivateKey.generate(seeded_random(b"cnf")))
    cnf = {1: phone.public_key.cose_key()}
    assert cnf[1] == {1: 2, -1: ALG_SM2_SM3, -2: phone.public_key.raw[:32],
                      -3: bool(phone.public_key.raw[63] & 1)}
    assert decode_device_key(cnf) == phone.public_key
    x = phone.public_key.raw[:32]
    bad = [
        {1: {1: 2, -1: ALG_SM2_SM3, -2: x, -3: phone.public_key.raw[32:]}},  # uncompressed
        {1: {1: 2, -1: ALG_SM2_SM3, -2: x, -3: 1}},  # an int, not a bool
        {1: {1: 2, -1: ALG_SM2_SM3, -2: x}},  # no y at all
        {1: {1: 2, -1: 1, -2: x, -3: True}},  # P-256, not SM2
        {1: {1: 1, -1: 6, -2: x, -3: True}},  # OKP with a y
        {1: {1: 2, -1: ALG_SM2_SM3, -2: x[:31], -3: True}},
        {1: {1: 2, -1: ALG_SM2_SM3, -2: P.to_bytes(32, "big"), -3: True}},  # x = p
        {1: {1: 2, -1: ALG_SM2_SM3, -2: (5).to_bytes(32, "big"), -3: False}},  # no such point
    ]
    for value in bad:
        with pytest.raises(HolderClaimsError):
            decode_device_key(value)


def test_compressed_points_round_trip_and_are_validated() -> None:
    rnd = seeded_random(b"points")
    for _ in range(20):
        key = SM2PrivateKey.generate(rnd).public_key
        assert DevicePublicKey.from_encoded(compress(key.raw)).raw == key.raw
    for bad in (b"\x04" + bytes(32), b"\x02" + b"\xff" * 32, b"\x02" + bytes(31), bytes(33)):
        with pytest.raises(KeyMaterialError) as info:
            DevicePublicKey.from_encoded(bad)
        assert info.value.code is ErrorCode.WEAK_KEY


def test_device_key_objects() -> None:
    """The abstraction other modules sign and verify with (payment bindings too)."""
    for suite, alg in ((Suite.ED25519, ALG_EDDSA), (Suite.SM, ALG_SM2_SM3)):
        key = DeviceKey.generate(suite, seeded_random(b"objects"))
        assert key.alg == key.public_key.alg == alg and key.suite is suite
        signature = key.sign(b"message")
        assert len(signature) == 64 and key.public_key.verify(signature, b"message")
        assert key.public_key.verify_signed(signature + b"message")
        assert not key.public_key.verify(signature, b"messagE")
        assert not key.public_key.verify(signature[:63], b"message")
        assert DevicePublicKey.from_jwk(key.public_key.jwk()) == key.public_key
        assert DevicePublicKey.from_encoded(key.public_key.encoded) == key.public_key
        with pytest.raises(AttributeError):
            key.public_key.alg = 0  # type: ignore[misc]
    with pytest.raises(InvalidArgument):
        DeviceKey(SM2PrivateKey(b"\x01" * 32, uid=b"someone else"))  # custom IDs: not devices


def test_sm_vectors_from_the_file_alone() -> None:
    """docs/vectors/holder/sm_presentations.json: each case on a terminal built from the
    file's keys only; the device signatures also checked by gmssl."""
    from ecert_token import Verifier, VerifyPolicy
    from ecert_token.crypto.ed25519 import Ed25519PublicKey
    from ecert_token.crypto.sm2 import SM2PublicKey
    from ecert_token.holder import PresentationVerifier
    from ecert_token.keys.material import IssuerVerifyKey

    from ..conftest import running_store

    doc = json.loads((VECTORS / "sm_presentations.json").read_text("utf-8"))
    assert doc["format"] == "ecert-holder-vectors/1"
    assert {c["suites"] for c in doc["cases"]} == {"sm/sm", "ed25519/sm", "sm/ed25519"}
    for case in doc["cases"]:
        k = case["keys"]
        raw = bytes.fromhex(k["issuer_public"])
        public = SM2PublicKey(raw) if k.get("issuer_alg") == "SM2-SM3" else Ed25519PublicKey(raw)
        trust = TrustStore([IssuerVerifyKey(k["issuer"], bytes.fromhex(k["issuer_kid"]),
                                            public)])
        policy = VerifyPolicy(clock=lambda: NOW)
        verifier = Verifier(trust, policy, running_store(),
                            presentations=PresentationVerifier(trust, policy))
        for check in case["checks"]:
            try:
                result = verifier.verify(check["text"], BusinessType.from_code(
                    check["business_type"]), now=check["now"])
            except TokenRejected as exc:
                assert exc.code.value == check["expected"]["outcome"], check["description"]
                continue
            assert check["expected"]["outcome"] == "valid", check["description"]
            assert result.to_dict() == check["expected"]["result"]
            if k.get("device_alg") == "SM2-SM3":
                device_raw = bytes.fromhex(k["devices"]["holder"]["public"])
                assert _device_signature_is_independently_valid(
                    check["text"], DevicePublicKey(ALG_SM2_SM3, device_raw))
        credential = cbor2.loads(bytes.fromhex(case["credential_cose_sign1_hex"]))
        cnf = cbor2.loads(credential.value[2])[8][1]
        if k.get("device_alg") == "SM2-SM3":
            device_raw = bytes.fromhex(k["devices"]["holder"]["public"])
            assert cnf == {1: 2, -1: -65537, -2: device_raw[:32], -3: bool(device_raw[63] & 1)}
        else:
            assert cnf[1] == 1 and cnf[-1] == 6


def test_the_sm2_presentation_header_is_what_the_format_says() -> None:
    phone = DeviceKey.generate(Suite.SM, seeded_random(b"header"))
    keys = _keys(Suite.ED25519)
    from ecert_token.holder.claims import HolderClaims, StatusRef
    from ecert_token.holder.credential import issue

    claims = HolderClaims(HOLDER, NOW - 100, NOW + 86_400, phone.public_key,
                          StatusRef("ec:NHSA", 3), Region("110105"), InsuranceType.EMPLOYEE_BASIC,
                          Channel.WECHAT, "张*丰")
    blob = issue(claims, keys.signing_key)
    message = cbor2.loads(b45decode(present(blob, phone, REG, now=NOW)[4:]))
    protected, unprotected, _, signature = message.value
    assert message.tag == 18 and unprotected == {} and len(signature) == 64
    assert protected == b"\xa1\x0d" + blob  # kcwt: the CWT itself; alg: the cnf key's
    earlier = cbor2.loads(b45decode(present(blob, phone, REG, now=NOW, name_alg=True)[4:]))
    assert earlier.value[0] == b"\xa2\x01\x3a\x00\x01\x00\x00\x0d" + blob
    assert cbor2.loads(earlier.value[0])[1] == ALG_SM2_SM3


def test_backend_decompression_matches_the_python_reference() -> None:
    from ecert_token.crypto.sm2 import decompress, decompress_python

    rnd = seeded_random(b"decompress")
    for _ in range(50):
        raw = SM2PrivateKey.generate(rnd).public_key.raw
        assert decompress(compress(raw)) == decompress_python(compress(raw)) == raw
    for x in range(1, 40):  # about half of all x have no point: both refuse the same ones
        data = b"\x02" + x.to_bytes(32, "big")
        outcomes = []
        for f in (decompress, decompress_python):
            try:
                outcomes.append(f(data))
            except KeyMaterialError as exc:
                assert exc.code is ErrorCode.WEAK_KEY
                outcomes.append(None)
        assert outcomes[0] == outcomes[1]


def test_inspect_shows_an_sm2_presentations_algorithm_not_its_key(tmp_path: Path) -> None:
    from ecert_token.inspect import inspect_code

    keys = _keys(Suite.SM)
    phone = device(b"phone", "sm")
    issued = _platform(tmp_path, keys).activate(activation(HOLDER, phone))
    out = json.dumps(inspect_code(present(issued.file.sealed, phone, REG, now=NOW)).to_dict())
    shown = json.loads(out)["presentation"]
    assert (shown["alg"], shown["alg_name"], shown["signature_bytes"]) == (
        ALG_SM2_SM3, "SM2-SM3", 64)
    assert phone.public_key.raw[:32].hex() not in out and phone.seed.hex() not in out


@pytest.mark.parametrize("issuer_suite", [Suite.ED25519, Suite.SM],
                         ids=["ed25519-issuer", "sm-issuer"])
def test_an_sm2_device_signs_the_payment_binding(tmp_path: Path, issuer_suite: Suite) -> None:
    """The offline payment binding (holder/payment.py) is signed by an SM2 device key too:
    the terminal's own transaction is accepted, any other is transaction_mismatch, and
    gmssl finds the device signature (which covers the binding) valid."""
    from ecert_token import ErrorCode, Verifier, VerifyPolicy
    from ecert_token.holder.payment import Charge

    keys = _keys(issuer_suite)
    phone = device(b"sm payment phone", "sm")
    issued = _platform(tmp_path, keys).activate(activation(HOLDER, phone))
    till = Charge(2_350, "P11010500017", "RX-0001", "T1101050001", NOW - 20)
    pharmacy = BusinessType.PHARMACY_PURCHASE
    text = present(issued.file.sealed, phone, pharmacy, now=NOW,
                   handle_key=issued.file.handle_key, payment=till, counter=5,
                   random_bytes=seeded_random(b"sm payment"))
    assert _device_signature_is_independently_valid(text, phone.public_key)
    checker = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW))).presentations
    verified = checker.check(text, pharmacy, now=NOW, charge=till)
    assert verified.payment is not None and verified.payment.counter == 5
    assert verified.payment_checked
    other = Charge(2_351, "P11010500017", "RX-0001", "T1101050001", NOW - 20)
    with pytest.raises(TokenRejected) as info:
        checker.check(text, pharmacy, now=NOW, charge=other)
    assert info.value.code is ErrorCode.TRANSACTION_MISMATCH
