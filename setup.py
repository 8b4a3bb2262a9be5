"""Build script for the one optional C extension; all metadata is in pyproject.toml.

``ecert_token.codec._base45`` is optional (``optional=True``): where no C
compiler is available the build goes on without it and the package uses its
pure-Python Base45, with the same results (see docs/performance.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecert_token.codec._base45",
            ["src/ecert_token/codec/_base45.c"],
            optional=True,
        )
    ]
)
