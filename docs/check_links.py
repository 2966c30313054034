"""Check every internal link of the built HTML documentation, offline.

Usage::

    python docs/check_links.py docs/_build/html

For every ``href`` and ``src`` of every page (theme templates under
``_static/`` aside) that is not an external URL, the target file must exist in
the build, and a ``#fragment`` must be an ``id`` (or ``name``) on the target
page. External links (``http:``, ``https:``, ``mailto:``, ...) are counted but
not fetched; a page that *loads* something from the network (an external
``src``, or a ``<link>`` such as a stylesheet) is an error, because the site
must render offline. Exits with status 1 and one line per problem.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.loads: list[str] = []  # resources the browser fetches by itself
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and tag != "base":
                self.links.append(value)
                if name == "src" or tag == "link":
                    self.loads.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def check(root: Path) -> tuple[list[str], int, int]:
    """Return (broken links, internal links checked, external links skipped)."""
    static = (root / "_static").resolve()
    pages = {p.resolve(): _parse(p) for p in root.rglob("*.html")}
    broken, internal, external = [], 0, 0
    for path, page in sorted(pages.items()):
        if path.is_relative_to(static):
            continue
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("//"):
                external += 1
                if link in page.loads and parts.scheme not in ("data", "javascript"):
                    broken.append(
                        f"{path.relative_to(root.resolve())}: loads {link} from the network"
                    )
                continue
            if link.startswith(("javascript:", "data:")):
                continue
            internal += 1
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(root.resolve())}: {link}"
            if not target.exists():
                broken.append(f"{where}  (no file {target})")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if fragment not in ids:
                    broken.append(f"{where}  (no id {fragment!r})")
    return broken, internal, external


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    if not (root / "index.html").exists():
        print(f"{root}/index.html does not exist: build the documentation first")
        return 1
    broken, internal, external = check(root)
    for line in broken:
        print(line)
    n_pages = sum(1 for _ in root.rglob("*.html"))
    print(
        f"{n_pages} pages, {internal} internal links checked, {len(broken)} broken; "
        f"{external} external links not fetched"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
