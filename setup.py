"""Build script for the optional C accelerator; all metadata is in pyproject.toml.

``ecert_token._accel`` (``src/ecert_token/_accel.c``) reads the canonical token
layout and checks its Ed25519 signature with the system libsodium (Debian:
``libsodium-dev``); its second source file, ``_accel_mint.c``, seals minted tokens.
It is optional (``optional=True``): without a C compiler
or without libsodium's headers the build goes on without it and the package
is pure Python, with the same results (see docs/architecture.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecert_token._accel",
            ["src/ecert_token/_accel.c", "src/ecert_token/_accel_mint.c"],
            libraries=["sodium"],
            optional=True,
        ),
    ]
)
