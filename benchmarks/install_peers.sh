#!/bin/sh
# Peer libraries for `ecert bench` / benchmarks/compare.py. Benchmarks only:
# none of this is a dependency of ecert-token.
#
# python-cwt 3.x requires cbor2<6 while ecert-token requires cbor2>=6.1.4, so
# python-cwt is installed without its dependencies and a cbor2 5.x goes into a
# separate directory; the benchmark loads python-cwt against it in the same
# process (see src/ecert_token/bench/peers.py and docs/performance.md).
set -e
PY=${PYTHON:-python3}
"$PY" -m pip install 'pyseto>=1.7' 'pyjwt[crypto]>=2.8' 'pyhpke>=0.5.3,<1'
"$PY" -m pip install --no-deps 'cwt>=3.3,<4'
"$PY" -m pip install --no-deps --upgrade --target benchmarks/.peers/cbor2-5 'cbor2>=5.6,<6'
