"""Cryptographic primitives: Ed25519 signatures and the AEAD for COSE_Encrypt0."""
