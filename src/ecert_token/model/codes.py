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
    """Use-code business type (用码业务类型, ``businessType``): scene + step."""

    HOSPITAL_REGISTRATION = "01101"
    HOSPITAL_INPATIENT_FILE = "01102"
    HOSPITAL_ADMISSION = "01103"
    HOSPITAL_DEPOSIT_PAYMENT = "01104"
    HOSPITAL_CONSULTATION = "01201"
    HOSPITAL_EXAM_BOOKING = "01202"
    HOSPITAL_EXAMINATION = "01203"
    HOSPITAL_TREATMENT = "01204"
    HOSPITAL_SETTLEMENT = "01301"
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
        BusinessType.HOSPITAL_SETTLEMENT,
        BusinessType.PHARMACY_PURCHASE,
    }
)


class CertType(StrEnum):
    """Credential type used when opening a visit (就诊凭证类型, ``mdtrt_cert_type``)."""

    ECERT_TOKEN = "01"  # noqa: S105 - a code-table value, not a secret
    RESIDENT_ID = "02"
    SOCIAL_SECURITY_CARD_OTHER_REGION = "03"
    MACAU_ID = "04"
    HONG_KONG_ID = "05"
    SOCIAL_SECURITY_CARD_LOCAL = "06"
    HK_MACAU_TAIWAN_DOCUMENT = "17"

    @classmethod
    def from_code(cls, code: str | int) -> CertType:
        return _lookup(cls, code, 2)


class Channel(StrEnum):
    """Channel through which the code is shown (``ecQrChannel``).

    1 to 3 are the codes seen in integrations; the national service platform
    app and bank apps are channels too and get codes of their own here.
    """

    ALIPAY = "1"
    WECHAT = "2"
    CITY_GOVERNMENT_APP = "3"
    NATIONAL_SERVICE_APP = "4"
    BANK_APP = "5"

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> Channel:
        return _lookup(cls, code, 1)


class InsuranceType(StrEnum):
    """Insurance type (险种类型, ``insutype``)."""

    EMPLOYEE_BASIC = "310"
    CIVIL_SERVANT_SUPPLEMENT = "320"
    LARGE_AMOUNT_SUBSIDY = "330"
    RETIRED_CADRE = "340"
    RESIDENT_BASIC = "390"
    RESIDENT_SERIOUS_ILLNESS = "392"
    MATERNITY = "510"

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> InsuranceType:
        return _lookup(cls, code, 3)


class SubjectKind(StrEnum):
    """Who holds the credential ("one person one code, one unit one code")."""

    INSURED_PERSON = "1"
    INSURED_UNIT = "2"
    ADMINISTRATOR = "3"
    HANDLING_STAFF = "4"
    MEDICAL_STAFF = "5"
    MEDICAL_INSTITUTION = "6"
    PHARMACY = "7"
    PHARMACEUTICAL_COMPANY = "8"

    @property
    def wire(self) -> int:
        return int(self.value)

    @classmethod
    def from_code(cls, code: str | int) -> SubjectKind:
        return _lookup(cls, code, 1)


class CredentialStatus(StrEnum):
    """Lifecycle state of a credential; only ACTIVE ones can be used."""

    ACTIVE = "active"
    UNBOUND = "unbound"
    SUSPENDED = "suspended"


def _lookup(cls: type[_E], code: str | int, width: int) -> _E:
    """Find a member by its code string or by the integer form of the code."""
    if isinstance(code, bool):
        raise InvalidArgument(f"{cls.__name__} code must be a string or integer")
    if isinstance(code, int):
        if code < 0:
            raise InvalidArgument(f"unknown {cls.__name__} code")
        code = str(code).zfill(width)
    if not isinstance(code, str):
        raise InvalidArgument(f"{cls.__name__} code must be a string or integer")
    try:
        return cls(code)
    except ValueError:
        raise InvalidArgument(f"unknown {cls.__name__} code") from None
