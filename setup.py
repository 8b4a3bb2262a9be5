"""Build script for the optional C accelerator; all metadata is in pyproject.toml.

``ecert_token._accel`` (``src/ecert_token/_accel.c``) reads the canonical token
layout, opens AES-CCM and SM4-CCM with the system OpenSSL's libcrypto (Debian:
``libssl-dev``) and checks Ed25519 signatures with the system libsodium
(``libsodium-dev``).  It is optional (``optional=True``): without a C compiler
or without either library's headers the build goes on without it and the
package is pure Python, with the same results (see docs/architecture.md).  Its
second source file, ``_accel_mint.c``, seals minted tokens.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecert_token._accel",
            ["src/ecert_token/_accel.c", "src/ecert_token/_accel_mint.c"],
            libraries=["sodium", "crypto"],
            optional=True,
        ),
    ]
)
