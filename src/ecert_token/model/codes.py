"""Code tables of the national medical-insurance platform, as enums.

Each member's ``value`` is the wire code the hospital and pharmacy systems use
(for example ``"01101"``); the Python name is the readable alias.  Tokens carry
the codes as compact integers (see :mod:`ecert_token.codec.cwt`), and
``from_code`` accepts either form.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TypeVar

from ..errors import InvalidArgument

_E = TypeVar("_E", bound=StrEnum)


class BusinessClass(Enum):
    """Whether a business step only identifies the holder or moves money."""

    IDENTITY = "identity"
    PAYMENT = "payment"


class BusinessType(StrEnum):
    """Use-code business type (用码业务类型, ``businessType``): scene + step.

    01301 is outpatient settlement (门诊结算).  Inpatient (discharge) settlement
    and online settlement have no confirmed national code, so none is defined
    here: inventing one would put a value on the wire that no platform knows.
    """

    HOSPITAL_REGISTRATION = "01101"
    HOSPITAL_INPATIENT_FILE = "01102"
    HOSPITAL_ADMISSION = "01103"
    HOSPITAL_DEPOSIT_PAYMENT = "01104"
    HOSPITAL_CONSULTATION = "01201"
    HOSPITAL_EXAM_BOOKING = "01202"
    HOSPITAL_EXAMINATION = "01203"
    HOSPITAL_TREATMENT = "01204"
    HOSPITAL_OUTPATIENT_SETTLEMENT = "01301"
    HOSPITAL_SETTLEMENT = "01301"  # alias kept for older callers: 01301 is outpatient
    HOSPITAL_MEDICINE_PICKUP = "01302"
    HOSPITAL_REPORT_PICKUP = "01303"
    HOSPITAL_PRINT_RECEIPTS = "01304"
    HOSPITAL_RECORD_COPY = "01305"
    PHARMACY_PURCHASE = "02121"
    PHARMACY_EXTERNAL_PRESCRIPTION = "02122"
    ONLINE_AUTHENTICATION = "03131"

    @property
    def business_class(self) -> BusinessClass:
        """Payment-class steps move money; the rest only establish identity."""
        return BusinessClass.PAYMENT if self in _PAYMENT_TYPES else BusinessClass.IDENTITY

    @property
    def is_payment(self) -> bool:
        return self in _PAYMENT_TYPES

    @property
    def scene(self) -> str:
        """The two-digit scene: 01 hospital, 02 pharmacy, 03 medical app."""
        return self.value[:2]

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> BusinessType:
        return _lookup(cls, code, 5)


_PAYMENT_TYPES = frozenset(
    {
        BusinessType.HOSPITAL_DEPOSIT_PAYMENT,
        BusinessType.HOSPITAL_OUTPATIENT_SETTLEMENT,
        BusinessType.PHARMACY_PURCHASE,
    }
)


class CertType(StrEnum):
    """Credential type used when opening a visit (就诊凭证类型, ``mdtrt_cert_type``).

    Exactly the national dictionary: 01 e-certificate (``mdtrt_cert_no`` is the
    platform's e-certificate token), 02 resident ID card, 03 social-security card.
    """

    ECERT_TOKEN = "01"  # noqa: S105 - a code-table value, not a secret
    RESIDENT_ID = "02"
    SOCIAL_SECURITY_CARD = "03"

    @classmethod
    def from_code(cls, code: str | int) -> CertType:
        return _lookup(cls, code, 2)


class PsnCertType(StrEnum):
    """Person document type (人员证件类型, ``psn_cert_type``), used by settlement.

    07 and 08 are the documents of foreigners.  09 to 15 are further national
    document types whose names this project has not confirmed; they are kept
    as codes so that a person holding one can still be registered.
    """

    RESIDENT_ID_CARD = "01"
    MILITARY_OFFICER_CARD = "02"
    ARMED_POLICE_OFFICER_CARD = "03"
    HONG_KONG_DOCUMENT = "04"
    MACAU_DOCUMENT = "05"
    TAIWAN_TRAVEL_PERMIT = "06"
    FOREIGNER_PERMANENT_RESIDENCE = "07"
    FOREIGN_PASSPORT = "08"
    NATIONAL_DOCUMENT_09 = "09"
    NATIONAL_DOCUMENT_10 = "10"
    NATIONAL_DOCUMENT_11 = "11"
    NATIONAL_DOCUMENT_12 = "12"
    NATIONAL_DOCUMENT_13 = "13"
    NATIONAL_DOCUMENT_14 = "14"
    NATIONAL_DOCUMENT_15 = "15"
    SOCIAL_SECURITY_CARD = "90"
    OTHER = "99"

    @property
    def is_foreigner_document(self) -> bool:
        """07 permanent residence permit and 08 passport are foreigners' documents."""
        return self in (PsnCertType.FOREIGNER_PERMANENT_RESIDENCE, PsnCertType.FOREIGN_PASSPORT)

    @classmethod
    def from_code(cls, code: str | int) -> PsnCertType:
        return _lookup(cls, code, 2)


class Channel(StrEnum):
    """Channel through which the code is shown (``ecQrChannel``).

    1 to 3 are the national codes seen in integrations.  The national service
    platform app and bank apps are channels too, but no national code for them
    was found: they get LOCAL EXTENSION codes 21 and 22, far from the national
    1, 2, 3 (so a future national 4 or 5 cannot collide) yet below 24, so the
    token still carries them in one byte.  ``is_national`` tells them apart and
    ``national_code`` is None for them: never send them as national values.
    """

    ALIPAY = "1"
    WECHAT = "2"
    CITY_GOVERNMENT_APP = "3"
    NATIONAL_SERVICE_APP = "21"
    BANK_APP = "22"

    @property
    def is_national(self) -> bool:
        """Is this a value of the national ``ecQrChannel`` table (not a local extension)?"""
        return self in _NATIONAL_CHANNELS

    @property
    def national_code(self) -> str | None:
        """The value to send as ``ecQrChannel``, or None for a local extension."""
        return self.value if self in _NATIONAL_CHANNELS else None

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> Channel:
        return _lookup(cls, code, 1)


_NATIONAL_CHANNELS = frozenset({Channel.ALIPAY, Channel.WECHAT, Channel.CITY_GOVERNMENT_APP})
LOCAL_CHANNEL_CODES = range(20, 24)
"""Channel codes this project reserves for local extensions (one CBOR byte each)."""


class InsuranceType(StrEnum):
    """Insurance type (险种类型, ``insutype``): every national value seen in integrations.

    Every insured person must be able to get a code, so the table is complete
    as DOMAIN.md lists it, and an unknown value is a data error that names the
    valid codes (see :meth:`from_code`), never a silent lock-out.
    """

    EMPLOYEE_BASIC = "310"
    CIVIL_SERVANT_SUPPLEMENT = "320"
    LARGE_AMOUNT_SUBSIDY = "330"
    RETIRED_CADRE = "340"
    DISABLED_SOLDIER_SUBSIDY = "350"
    RED_ARMY_VETERAN = "360"
    ENTERPRISE_SUPPLEMENT = "370"
    NEW_RURAL_COOPERATIVE = "380"
    RESIDENT_BASIC = "390"
    URBAN_RESIDENT_BASIC = "391"
    RESIDENT_SERIOUS_ILLNESS = "392"
    OTHER_SPECIAL_GROUPS = "399"
    LONG_TERM_CARE = "410"
    MATERNITY = "510"

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> InsuranceType:
        return _lookup(cls, code, 3, list_valid=True)


class SubjectKind(StrEnum):
    """Who holds the credential ("one person one code, one unit one code").

    Only an insured person pays at a patient's payment step; units, staff,
    institutions, pharmacies and companies identify themselves for their own
    business and never pay (``may_pay``): minting a payment-class code for them
    is refused, and so is verifying one.
    """

    INSURED_PERSON = "1"
    INSURED_UNIT = "2"
    ADMINISTRATOR = "3"
    HANDLING_STAFF = "4"
    MEDICAL_STAFF = "5"
    MEDICAL_INSTITUTION = "6"
    PHARMACY = "7"
    PHARMACEUTICAL_COMPANY = "8"

    @property
    def may_pay(self) -> bool:
        """May this holder kind use a payment-class business type (01104, 01301, 02121)?"""
        return self is SubjectKind.INSURED_PERSON

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> SubjectKind:
        return _lookup(cls, code, 1)


PAYER_REFUSED = "this holder kind never pays at a patient's payment step"
"""The fixed detail of the refusal (WRONG_BUSINESS_TYPE) of a payment code for a
holder kind that may not pay, at minting and at verification."""


def may_use(subject_kind: SubjectKind, business_type: BusinessType) -> bool:
    """The subject-kind business rule: payment-class steps are for insured persons only."""
    return subject_kind is SubjectKind.INSURED_PERSON or not business_type.is_payment


class CredentialStatus(StrEnum):
    """Lifecycle state of a credential; only ACTIVE ones can be used."""

    ACTIVE = "active"
    UNBOUND = "unbound"
    SUSPENDED = "suspended"


def _lookup(cls: type[_E], code: str | int, width: int, *, list_valid: bool = False) -> _E:
    """Find a member by its code string or by the integer form of the code.

    ``list_valid``: the error names the table's valid codes (public values,
    never the caller's input), so a data error in a table that locks people
    out when wrong is easy to fix.
    """
    if isinstance(code, bool):
        raise InvalidArgument(f"{cls.__name__} code must be a string or integer")
    if isinstance(code, int):
        if code < 0:
            raise InvalidArgument(_unknown(cls, list_valid))
        code = str(code).zfill(width)
    if not isinstance(code, str):
        raise InvalidArgument(f"{cls.__name__} code must be a string or integer")
    try:
        return cls(code)
    except ValueError:
        raise InvalidArgument(_unknown(cls, list_valid)) from None


def _unknown(cls: type[_E], list_valid: bool) -> str:
    if not list_valid:
        return f"unknown {cls.__name__} code"
    return f"unknown {cls.__name__} code; valid codes: {', '.join(m.value for m in cls)}"
