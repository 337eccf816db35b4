"""The web app's first-load size: the HTML, the stylesheet and every script module the page pulls
in, each compressed as a server would send it (gzip, level 6), exactly as localrun.webapp serves them.

    python -m bench.webapp

The module graph is followed statically from index.html (``<script src>``, ``<link href>``,
``import ... from '...'``); dynamic ``import('node:...')`` in the SDK is Node-only and never loads
in a browser. Goal (issue 19): under 100 KB gzipped.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import sys
from dataclasses import dataclass

from localrun.webapp import resolve

GOAL_BYTES = 100 * 1024
_HTML_REFS = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""")
_JS_IMPORTS = re.compile(r"""(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class Asset:
    path: str
    raw_bytes: int
    gzip_bytes: int


def first_load(entry: str = "/") -> list[Asset]:
    """Every file the page loads before it is usable, in discovery order."""
    seen: list[str] = []
    queue = [entry]
    assets: list[Asset] = []
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        file = resolve(path)
        if file is None:
            raise SystemExit(f"{path} is referenced by the page but not served")
        body = file.read_bytes()
        assets.append(Asset(path, len(body), len(gzip.compress(body, compresslevel=6, mtime=0))))
        text = body.decode("utf-8")
        if file.suffix == ".html":
            refs = [r for r in _HTML_REFS.findall(text) if r.startswith("/")]
        elif file.suffix == ".js":
            refs = [
                r if r.startswith("/") else posixpath.normpath(posixpath.join(posixpath.dirname(path), r))
                for r in _JS_IMPORTS.findall(text)
                if r.startswith((".", "/"))
            ]
        else:
            refs = []
        queue.extend(refs)
    return assets


def main() -> int:
    assets = first_load()
    print(f"{'file':<32} {'bytes':>8} {'gzip':>8}")
    for asset in assets:
        print(f"{asset.path:<32} {asset.raw_bytes:>8} {asset.gzip_bytes:>8}")
    raw = sum(a.raw_bytes for a in assets)
    packed = sum(a.gzip_bytes for a in assets)
    verdict = "under" if packed < GOAL_BYTES else "OVER"
    print(f"{'first load (' + str(len(assets)) + ' files)':<32} {raw:>8} {packed:>8}")
    print(f"gzipped first load {packed / 1024:.1f} KB: {verdict} the {GOAL_BYTES // 1024} KB goal")
    return 0 if packed < GOAL_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
