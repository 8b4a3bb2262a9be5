"""The comparison of docs/performance.md as a script (the same as ``ecert bench``).

    python benchmarks/compare.py [--json FILE] [--quick] [--cbor2-5 DIR]
"""

from __future__ import annotations

import sys

from ecert_token_tools.bench.compare import main

if __name__ == "__main__":
    sys.exit(main())
