"""Check the internal links of a built HTML site: every relative ``href`` and ``src`` of every
page must name a file that exists, and its ``#anchor`` an ``id`` (or ``name``) in that file.

Run after the build, from the repository root::

    python -m sphinx -W -n -b html docs docs/_build/html
    python docs/check_links.py docs/_build/html

Prints each broken link as ``page: target (why)`` and exits with status 1 if there is any, 0
otherwise. Links with a scheme (``https:``, ``mailto:``, ...) are not followed: the site is
checked offline.
"""

import argparse
import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = {"href", "src"}


class _Page(HTMLParser):
    """The link targets (``href``, ``src``) and the anchors (``id``, ``<a name>``) of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.anchors = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.anchors.add(value)
            elif name in LINK_ATTRIBUTES and tag != "base":
                self.links.append(value)

    handle_startendtag = handle_starttag


def _parse(path):
    page = _Page()
    with open(path, encoding="utf-8", errors="replace") as f:
        page.feed(f.read())
    page.close()
    return page


def broken_links(root):
    """``[(page, target, why)]`` for every internal link of the site under ``root`` that points
    to a missing file or anchor; pages are given relative to ``root``."""
    root = os.path.abspath(root)
    pages = {}
    for folder, _, files in os.walk(root):
        if os.path.relpath(folder, root).split(os.sep)[0] == "_static":
            continue  # the theme's assets, templates among them, are no pages
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(folder, name)
                pages[path] = _parse(path)
    anchors = {path: page.anchors for path, page in pages.items()}
    broken = []
    for path, page in sorted(pages.items()):
        for value in page.links:
            parts = urlsplit(value.strip())
            if parts.scheme or parts.netloc or value.startswith("//"):
                continue  # another site, or mailto:, javascript:, data:
            target = path
            if parts.path:
                target = os.path.normpath(os.path.join(os.path.dirname(path), unquote(parts.path)))
                if os.path.isdir(target):
                    target = os.path.join(target, "index.html")
            why = None
            if not target.startswith(root + os.sep) and target != root:
                why = "outside the site"
            elif not os.path.isfile(target):
                why = "no such file"
            elif parts.fragment and target.endswith(".html"):
                ids = anchors.get(target)
                if ids is None:
                    ids = anchors[target] = _parse(target).anchors
                if unquote(parts.fragment) not in ids:
                    why = "no such anchor"
            if why:
                broken.append((os.path.relpath(path, root), value, why))
    return broken


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default=os.path.join("docs", "_build", "html"),
                        help="the built site's folder (default: docs/_build/html)")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.site, "index.html")):
        parser.error(f"{args.site} holds no index.html: build the site first")
    broken = broken_links(args.site)
    for page, target, why in broken:
        print(f"{page}: {target} ({why})")
    print(f"{len(broken)} broken internal link(s)" if broken else "every internal link resolves",
          file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
