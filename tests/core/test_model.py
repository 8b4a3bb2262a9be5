"""The data model: code tables, regions, credentials, family accounts, claims."""

from __future__ import annotations

import dataclasses
from enum import StrEnum

import pytest

from ecert_token import (
    BusinessClass,
    BusinessType,
    CertType,
    Channel,
    Credential,
    CredentialStatus,
    ErrorCode,
    FamilyAccount,
    InsuranceType,
    InvalidArgument,
    PsnCertType,
    Region,
    SubjectKind,
    TokenClaims,
    mask_name,
)
from ecert_token.codec import cwt
from ecert_token.model import MAX_FAMILY_MEMBERS
from ecert_token.model.codes import LOCAL_CHANNEL_CODES, may_use
from tests.conftest import NOW

CODED: list[tuple[type[StrEnum], int]] = [
    (BusinessType, 5),
    (CertType, 2),
    (Channel, 1),
    (InsuranceType, 3),
    (PsnCertType, 2),
    (SubjectKind, 1),
]


def _from_code(enum: type[StrEnum], code: object) -> StrEnum:
    result: StrEnum = enum.from_code(code)  # type: ignore[attr-defined]
    return result


# --- code tables ----------------------------------------------------------


@pytest.mark.parametrize(("enum", "width"), CODED)
def test_from_code_accepts_string_and_integer_forms(enum: type[StrEnum], width: int) -> None:
    for member in enum:
        # Local channel extensions (21, 22) are two digits on purpose (model/codes.py).
        local = isinstance(member, Channel) and not member.is_national
        assert len(member.value) == (2 if local else width)
        assert _from_code(enum, member.value) is member
        assert _from_code(enum, int(member.value)) is member


@pytest.mark.parametrize(("enum", "width"), CODED)
@pytest.mark.parametrize("bad", ["", "99999", "x", " 01101", "1101", -1, 10**9, True, False,
                                 None, 1.0, b"01101", ["01101"]])
def test_from_code_refuses_unknown_codes(enum: type[StrEnum], width: int, bad: object) -> None:
    with pytest.raises(InvalidArgument) as info:
        _from_code(enum, bad)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


def test_business_type_table_matches_domain() -> None:
    assert [b.value for b in BusinessType] == [
        "01101", "01102", "01103", "01104", "01201", "01202", "01203", "01204",
        "01301", "01302", "01303", "01304", "01305", "02121", "02122", "03131",
    ]
    assert CertType.ECERT_TOKEN.value == "01"
    assert [c.value for c in CertType] == ["01", "02", "03"]
    assert {i.value for i in InsuranceType} >= {"310", "390"}
    assert (Channel.ALIPAY.value, Channel.WECHAT.value, Channel.CITY_GOVERNMENT_APP.value) == (
        "1", "2", "3")


PAYMENT = {"01104", "01301", "02121"}


def test_code_tables_are_exactly_domain_md() -> None:
    """DOMAIN.md's tables, value for value (it was corrected: these pin the correction)."""
    assert [i.value for i in InsuranceType] == [
        "310", "320", "330", "340", "350", "360", "370", "380", "390", "391", "392", "399",
        "410", "510"]
    assert [p.value for p in PsnCertType] == [
        *(f"{n:02d}" for n in range(1, 16)), "90", "99"]
    assert {p for p in PsnCertType if p.is_foreigner_document} == {
        PsnCertType.FOREIGNER_PERMANENT_RESIDENCE, PsnCertType.FOREIGN_PASSPORT}
    assert (PsnCertType.HONG_KONG_DOCUMENT.value, PsnCertType.MACAU_DOCUMENT.value) == ("04", "05")
    assert BusinessType.HOSPITAL_OUTPATIENT_SETTLEMENT.value == "01301"
    assert BusinessType.HOSPITAL_SETTLEMENT is BusinessType.HOSPITAL_OUTPATIENT_SETTLEMENT


def test_channel_local_extensions_are_marked_and_never_national() -> None:
    national = [c for c in Channel if c.is_national]
    assert [c.value for c in national] == ["1", "2", "3"]
    assert all(c.national_code == c.value for c in national)
    for local in (Channel.NATIONAL_SERVICE_APP, Channel.BANK_APP):
        assert not local.is_national
        assert local.national_code is None
        assert local.wire in LOCAL_CHANNEL_CODES  # one CBOR byte, far from 1-3
    assert Channel.from_code(21) is Channel.NATIONAL_SERVICE_APP
    for gone in ("4", "5", 4, 5):  # the old invented codes are not readable any more
        with pytest.raises(InvalidArgument):
            Channel.from_code(gone)


def test_claims_encoder_fixed_headings_still_hold() -> None:
    """Every code still fits the claims encoder's fixed headings (codec/cwt.py)."""
    assert cwt._FIXED_HEADINGS is True


@pytest.mark.parametrize("bad", ["311", "999", 300, "0310"])
def test_unknown_insurance_type_is_a_data_error_naming_the_valid_codes(bad: object) -> None:
    with pytest.raises(InvalidArgument) as info:
        InsuranceType.from_code(bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert "valid codes: 310, 320, 330, 340, 350" in message
    assert all(i.value in message for i in InsuranceType)


@pytest.mark.parametrize("kind", list(SubjectKind))
@pytest.mark.parametrize("business", list(BusinessType))
def test_only_insured_persons_may_pay(kind: SubjectKind, business: BusinessType) -> None:
    assert kind.may_pay is (kind is SubjectKind.INSURED_PERSON)
    assert may_use(kind, business) is (kind.may_pay or not business.is_payment)


@pytest.mark.parametrize("business", list(BusinessType))
def test_business_class_identity_versus_payment(business: BusinessType) -> None:
    payment = business.value in PAYMENT
    assert business.is_payment is payment
    assert business.business_class is (BusinessClass.PAYMENT if payment else BusinessClass.IDENTITY)
    assert business.scene == business.value[:2]
    assert business.wire == int(business.value)


def test_wire_forms_are_integers_of_the_codes() -> None:
    assert BusinessType.HOSPITAL_REGISTRATION.wire == 1101
    assert InsuranceType.RESIDENT_BASIC.wire == 390
    assert Channel.WECHAT.wire == 2
    assert SubjectKind.PHARMACY.wire == 7


# --- region ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["110000", "110105", "610100", "619900", "820000", "710101"])
def test_region_accepts_division_codes(code: str) -> None:
    region = Region(code)
    assert str(region) == code
    assert region.province == code[:2]
    assert region.province_region == Region(code[:2] + "0000")
    assert region.wire == int(code)
    assert Region.of(code) == region
    assert Region.of(int(code)) == region
    assert Region.of(region) is region


@pytest.mark.parametrize("bad", ["", "11010", "1101050", "000000", "100105", "110 05", "11010a",
                                 "１１０１０５", "٦١٠١٠٠", "+11010", "-11010", "990000\n",
                                 "990000", "991234"])
def test_region_refuses_bad_codes(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        Region(bad)


@pytest.mark.parametrize("bad", [True, 1.5, None, 11010, 1_101_050, -110105, b"110105"])
def test_region_of_refuses_bad_values(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        Region.of(bad)  # type: ignore[arg-type]


def test_region_is_frozen_and_ordered() -> None:
    region = Region("110105")
    with pytest.raises(dataclasses.FrozenInstanceError):
        region.code = "610100"  # type: ignore[misc]
    assert Region("110105") < Region("610100")


# --- masked names ---------------------------------------------------------


@pytest.mark.parametrize(
    ("full", "masked"),
    [("张三丰", "张*丰"), ("李四", "李*"), ("王", "王*"), ("欧阳娜娜", "欧*娜"),
     ("  张三丰 ", "张*丰"), ("Ahmad Karimi", "A* K*"), ("John  Smith", "J* S*"), ("Ahmad", "A*"),
     ("María O'Neil-Díaz", "M* O*"), ("Jean-Luc Picard", "J* P*"), ("买买提·艾力", "买*力")],
)
def test_mask_name(full: str, masked: str) -> None:
    assert mask_name(full) == masked


@pytest.mark.parametrize("blank", ["", "   ", "\t", None, 3, b"\xe5\xbc\xa0", ["张三"]])
def test_mask_name_refuses_blank_and_non_text(blank: object) -> None:
    """Regression: a non-str name raised AttributeError."""
    with pytest.raises(InvalidArgument):
        mask_name(blank)  # type: ignore[arg-type]


def _credential(**changes: object) -> Credential:
    fields: dict[str, object] = {
        "credential_id": "E4Q7ZK2M9PXA",
        "region": Region("110105"),
        "insurance_type": InsuranceType.EMPLOYEE_BASIC,
        "masked_name": "张*丰",
        "channel": Channel.WECHAT,
        "issued_at": NOW - 1000,
    }
    fields.update(changes)
    return Credential(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("masked", ["张*丰", "李*", "*", "**", "张**", "A*i", "张 *", "*丰"])
def test_credential_accepts_masked_names(masked: str) -> None:
    assert _credential(masked_name=masked).masked_name == masked


@pytest.mark.parametrize(
    "masked",
    ["张三丰", "张三", "", "张*三丰", "A*bc", "*" * 17, "张*\n", "张*\x00", "1234*", "*5678",
     "张\u200b*", 3, None, b"\xe5*"],
)
def test_credential_refuses_unmasked_or_bad_names(masked: object) -> None:
    with pytest.raises(InvalidArgument):
        _credential(masked_name=masked)


# --- credential -----------------------------------------------------------


def test_credential_defaults_and_usability() -> None:
    cred = _credential()
    assert cred.subject_kind is SubjectKind.INSURED_PERSON
    assert cred.status is CredentialStatus.ACTIVE
    assert cred.usable
    assert not _credential(status=CredentialStatus.UNBOUND).usable
    assert not _credential(status=CredentialStatus.SUSPENDED).usable
    with pytest.raises(dataclasses.FrozenInstanceError):
        cred.status = CredentialStatus.UNBOUND  # type: ignore[misc]


@pytest.mark.parametrize("cid", ["ABC123", "a" * 32, "E4Q7-ZK2_M9PXA", "000000"])
def test_credential_id_accepted(cid: str) -> None:
    assert _credential(credential_id=cid).credential_id == cid


@pytest.mark.parametrize("cid", ["ABC12", "a" * 33, "E4Q7 ZK2", "E4Q7ZK2M9PX!", "张三丰张三丰",
                                 "", None, 123456, b"ABC123", "ABC123\n"])
def test_credential_id_refused(cid: object) -> None:
    with pytest.raises(InvalidArgument):
        _credential(credential_id=cid)


@pytest.mark.parametrize(
    "changes",
    [
        {"region": "110105"},
        {"insurance_type": "310"},
        {"channel": 2},
        {"subject_kind": "1"},
        {"status": "active"},
        {"issued_at": -1},
        {"issued_at": 2**40},
        {"issued_at": 1.5},
        {"issued_at": True},
        {"issued_at": float("inf")},
        {"activated_at": NOW - 2000},  # before issued_at
        {"activated_at": "now"},
    ],
)
def test_credential_validates_fields(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        _credential(**changes)


def test_credential_activation_after_issue() -> None:
    assert _credential(activated_at=NOW - 1000).activated_at == NOW - 1000
    assert _credential(activated_at=NOW).activated_at == NOW


# --- family account -------------------------------------------------------


def _member(i: int, **changes: object) -> Credential:
    return _credential(credential_id=f"MEMBER{i:04d}", masked_name="张*", **changes)


def test_family_account_binds_up_to_five_members() -> None:
    account = FamilyAccount(_credential())
    for i in range(MAX_FAMILY_MEMBERS):
        account = account.bind(_member(i))
    assert len(account.members) == 5
    with pytest.raises(InvalidArgument):
        account.bind(_member(5))
    with pytest.raises(InvalidArgument):
        FamilyAccount(_credential(), tuple(_member(i) for i in range(6)))


def test_family_bind_returns_new_account() -> None:
    account = FamilyAccount(_credential())
    bound = account.bind(_member(1))
    assert account.members == ()
    assert bound.member("MEMBER0001") == _member(1)


def test_family_members_distinct_from_each_other_and_holder() -> None:
    account = FamilyAccount(_credential(), (_member(1),))
    with pytest.raises(InvalidArgument):
        account.bind(_member(1))
    with pytest.raises(InvalidArgument):
        account.bind(_credential())
    with pytest.raises(InvalidArgument):
        FamilyAccount(_credential(), (_member(1), _member(1)))


def test_family_unbind() -> None:
    account = FamilyAccount(_credential(), (_member(1), _member(2)))
    after = account.unbind("MEMBER0001")
    assert [m.credential_id for m in after.members] == ["MEMBER0002"]
    with pytest.raises(InvalidArgument):
        after.unbind("MEMBER0001")
    with pytest.raises(InvalidArgument):
        after.member("MEMBER0001")
    # Unbinding frees a place for a sixth distinct member.
    full = FamilyAccount(_credential(), tuple(_member(i) for i in range(5)))
    assert len(full.unbind("MEMBER0000").bind(_member(9)).members) == 5


@pytest.mark.parametrize("bad", [None, 5, [], {}, b"MEMBER0001"])
def test_family_unbind_and_member_refuse_odd_ids(bad: object) -> None:
    """Regression: unbind([]) raised TypeError (unhashable)."""
    account = FamilyAccount(_credential(), (_member(1),))
    with pytest.raises(InvalidArgument):
        account.unbind(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        account.member(bad)  # type: ignore[arg-type]


def test_family_members_and_holder_must_be_insured_persons() -> None:
    unit = _credential(subject_kind=SubjectKind.INSURED_UNIT)
    with pytest.raises(InvalidArgument):
        FamilyAccount(unit)
    with pytest.raises(InvalidArgument):
        FamilyAccount(_credential(), (_member(1, subject_kind=SubjectKind.MEDICAL_STAFF),))


@pytest.mark.parametrize("members", [[], (None,), ("MEMBER0001",)])
def test_family_members_type_checked(members: object) -> None:
    with pytest.raises(InvalidArgument):
        FamilyAccount(_credential(), members)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        FamilyAccount("holder", ())  # type: ignore[arg-type]


# --- token claims ---------------------------------------------------------


def _claims(**changes: object) -> TokenClaims:
    fields: dict[str, object] = {
        "token_id": bytes(8),
        "issued_at": NOW,
        "expires_at": NOW + 60,
        "credential_id": "E4Q7ZK2M9PXA",
        "subject_kind": SubjectKind.INSURED_PERSON,
        "region": Region("110105"),
        "insurance_type": InsuranceType.EMPLOYEE_BASIC,
        "masked_name": "张*丰",
        "business_type": BusinessType.HOSPITAL_REGISTRATION,
        "channel": Channel.WECHAT,
    }
    fields.update(changes)
    return TokenClaims(**fields)  # type: ignore[arg-type]


def test_claims_valid() -> None:
    claims = _claims(token_id=bytes(16), actor_id="HOLDER0001")
    assert claims.lifetime == 60
    assert claims.actor_id == "HOLDER0001"


@pytest.mark.parametrize(
    "changes",
    [
        {"token_id": bytes(7)},
        {"token_id": bytes(17)},
        {"token_id": bytearray(8)},
        {"token_id": "00000000"},
        {"issued_at": NOW + 60},
        {"expires_at": NOW - 1},
        {"issued_at": True},
        {"issued_at": float(NOW)},
        {"expires_at": float("nan")},
        {"expires_at": 2**40},
        {"issued_at": -1},
        {"credential_id": "bad id"},
        {"masked_name": "张三丰"},
        {"region": "110105"},
        {"subject_kind": "1"},
        {"insurance_type": 310},
        {"business_type": "01101"},
        {"channel": "2"},
        {"actor_id": "E4Q7ZK2M9PXA"},  # actor equals subject
        {"actor_id": "bad actor"},
        {"actor_id": b"HOLDER0001"},
    ],
)
def test_claims_validation(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument) as info:
        _claims(**changes)
    assert isinstance(info.value, ValueError)
