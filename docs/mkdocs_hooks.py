"""MkDocs hook: render the Sphinx roles of the library's docstrings as plain code.

The docstrings say ``:class:`Verifier``` (readable in ``help()`` and editors);
mkdocstrings leaves the role text in front of the code span.  This drops it,
and shows ``~package.module.Name`` as ``Name`` as Sphinx would.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):(?=<code>)")
_SHORTEN = re.compile(r"<code>~(?:[\w]+\.)+(\w+)</code>")  # `~a.b.C` shows as `C`


def on_page_content(html: str, **_: object) -> str:
    return _SHORTEN.sub(r"<code>\1</code>", _ROLE.sub("", html))
