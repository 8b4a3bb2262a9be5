"""Tools around ecert-token that verification never needs: benchmarks and test vectors.

``ecert_token_tools.bench`` is ``ecert bench`` (the comparison of
docs/performance.md) and ``ecert_token_tools.vectors`` is ``ecert vectors`` (the
published test vectors of docs/vectors/).  They ship in the same distribution as
``ecert_token`` but outside its package: they import the library, and the
library never imports them (the CLI loads them only when one of those two
commands runs), so ``import ecert_token`` and the verify path never load
benchmark or vector code (tests/test_packaging.py checks both).
"""
