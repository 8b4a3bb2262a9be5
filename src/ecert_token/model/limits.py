"""The format's value rules as named constants, defined once.

Every reader imports them from here: the model's validators, the codecs, the
crypto wrappers, the verification pipeline, and the compiled accelerator,
whose own copies are compared with these at import (``ecert_token._speedups``
refuses an extension built with other values).
"""

from __future__ import annotations

TEXT_PREFIX = "EC1:"
"""A token's text starts with this: format ``EC``, version 1, then Base45."""
MAX_TEXT_CHARS = 600
"""Longest token text looked at; longer input is refused before any decoding."""
PRESENTATION_PREFIX = "EP1:"
"""A holder presentation's text (minted on the phone, ``ecert_token.holder``) starts
with this; it shares :data:`MAX_TEXT_CHARS`."""

MAX_KID_BYTES = 16
"""A key id is 1 to 16 bytes."""

MIN_TOKEN_ID_BYTES = 8
MAX_TOKEN_ID_BYTES = 16
"""A token id (``cti``) is 8 to 16 bytes."""

MIN_CREDENTIAL_ID_CHARS = 6
MAX_CREDENTIAL_ID_CHARS = 32
"""A credential id is 6 to 32 characters of ``[0-9A-Za-z_-]``."""

MAX_MASKED_NAME_CHARS = 16
"""A masked display name is 1 to 16 characters."""

MAX_UNIX_TIME = 2**40
"""Times are whole Unix seconds in ``0 <= t < 2**40``."""

ALG_EDDSA = -8
"""COSE algorithm of the issuer signature: EdDSA over Ed25519 (RFC 9053)."""
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32

ALG_AES_CCM_16_64_128 = 10
"""COSE algorithm of the envelope: AES-CCM, 128-bit key, 64-bit tag, 13-byte nonce."""
NONCE_BYTES = 13
TAG_BYTES = 8
AES_KEY_BYTES = 16
