"""Check a built docs site works from mainland China: no Google Fonts, Chinese search.

Usage: python .ci/check_site.py SITE_DIR   (after `mkdocs build -d SITE_DIR`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

site = Path(sys.argv[1])
pages = list(site.rglob("*.html"))
assert pages, f"no HTML pages in {site}"
blocked = [str(p) for p in pages
           if "fonts.googleapis.com" in (text := p.read_text("utf-8")) or "fonts.gstatic.com" in text]
assert not blocked, f"pages load Google Fonts (blocked in mainland China): {blocked[:3]}"
index = json.loads((site / "search" / "search_index.json").read_text("utf-8"))
assert {"en", "zh"} <= set(index["config"]["lang"]), index["config"]["lang"]
text = " ".join(doc["text"] for doc in index["docs"])
# jieba segments Chinese at build time with U+200B; without it 医保电子凭证 is one "word".
assert "\u200b电子\u200b" in text or "\u200b凭证\u200b" in text, "Chinese text is not segmented"
print(f"site ok: {len(pages)} pages, no Google Fonts, search in {index['config']['lang']}")
