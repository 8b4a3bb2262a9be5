#!/bin/sh
# Peer libraries for `ecert bench` / benchmarks/compare.py. Benchmarks only:
# none of this is a dependency of ecert-token.
#
# Installs into the interpreter the benchmark runs with: $PYTHON if set, else
# the active virtual environment, else the repository's ./.venv (what the
# README's setup line makes), else python3 -- and says which.
#
# python-cwt 3.x requires cbor2<6 while ecert-token requires cbor2>=6.1.4, so
# python-cwt is installed without its dependencies and a cbor2 5.x goes into a
# separate directory; the benchmark loads python-cwt against it in the same
# process (see src/ecert_token/bench/peers.py and docs/performance.md).
set -e
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -n "${VIRTUAL_ENV:-}" ]; then
  PY=$VIRTUAL_ENV/bin/python
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
else
  PY=python3
fi
echo "installing the benchmark peers into $("$PY" -c 'import sys; print(sys.prefix)')" >&2
"$PY" -m pip install -q 'pyseto>=1.7' 'pyjwt[crypto]>=2.8' 'pyhpke>=0.5.3,<1'
"$PY" -m pip install -q --no-deps 'cwt>=3.3,<4'
"$PY" -m pip install -q --no-deps --upgrade --target benchmarks/.peers/cbor2-5 'cbor2>=5.6,<6'
