"""Build script for the optional C extensions; all metadata is in pyproject.toml.

``ecert_token.codec._base45`` (Base45), ``ecert_token.codec._canonical`` (the
verifier's reader of the canonical COSE_Sign1 and claims layout) and
``ecert_token.crypto._ed25519_batch`` (many libsodium signature checks in one
release of the GIL, for ``verify_many``) are optional (``optional=True``): where no C compiler is
available the build goes on without them and the package is pure Python,
with the same results (see docs/performance.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecert_token.codec._base45",
            ["src/ecert_token/codec/_base45.c"],
            optional=True,
        ),
        Extension(
            "ecert_token.codec._canonical",
            ["src/ecert_token/codec/_canonical.c"],
            optional=True,
        ),
    ]
)
