"""Encodings: Base45 text, strict CBOR, COSE structures, CWT claims."""
