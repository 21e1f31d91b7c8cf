"""Mark the table cells that hold prose, so that the stylesheet lets them wrap and keeps every
other cell on one line.

A cell of more than ``LONG`` characters gets the class ``long-cell``; ``_static/sksubset.css``
keeps the others unwrapped (``84.20 ± 1.68`` on one line) and a wide table scrolls in its own box.
"""

from docutils import nodes

LONG = 40


def _mark_long_cells(app, doctree):
    for entry in doctree.findall(nodes.entry):
        if len(entry.astext()) > LONG:
            entry["classes"].append("long-cell")


def setup(app):
    app.connect("doctree-read", _mark_long_cells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
