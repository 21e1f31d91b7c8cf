"""A Sphinx directive that shows a CSV file of measurements as a folded table.

In a MyST page::

    ```{data-table} data/omp_rule.csv
    :columns: matrix, n, d, k, gain_over_cords
    ```

renders a ``<details>`` block, folded by default, holding the CSV's table and a link to download
the file. Without ``:columns:`` every column is shown but ``date``, ``device``, ``clock`` and
``command`` (the page states them next to the table, and the CSV keeps them per row). A column
``X_mean`` is shown as ``X``, joined with ``X_std`` as ``mean ± std`` when the CSV has both.
"""

import csv

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

HIDDEN = ("date", "device", "clock", "command")


class details(nodes.General, nodes.Element):
    """``<details>``: its first child is the summary, the rest shows when unfolded."""


class summary(nodes.TextElement):
    pass


def _visit_details(self, node):
    self.body.append(self.starttag(node, "details", CLASS="data-table"))


def _depart_details(self, node):
    self.body.append("</details>\n")


def _visit_summary(self, node):
    self.body.append(self.starttag(node, "summary", suffix=""))


def _depart_summary(self, node):
    self.body.append("</summary>\n")


def _skip(self, node):
    pass


def _header(name):
    name = name[:-5] if name.endswith("_mean") else name
    return name.replace("_pct", " (%)").replace("_", " ")


class DataTable(SphinxDirective):
    required_arguments = 1
    option_spec = {"columns": directives.unchanged}

    def run(self):
        relative, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(relative)
        try:
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except OSError as exc:
            raise self.error(f"data-table: cannot read {self.arguments[0]}: {exc}") from exc
        if not rows:
            raise self.error(f"data-table: {self.arguments[0]} has no rows")
        names = list(rows[0])
        if "columns" in self.options:
            columns = [c.strip() for c in self.options["columns"].split(",") if c.strip()]
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise self.error(f"data-table: {self.arguments[0]} has no column "
                                 f"{', '.join(unknown)}; it has {', '.join(names)}")
        else:
            columns = [c for c in names if c not in HIDDEN
                       and not (c.endswith("_std") and c[:-4] + "_mean" in names)]

        def cell(row, column):
            if column.endswith("_mean") and column[:-5] + "_std" in row and row[column]:
                std = row[column[:-5] + "_std"]
                return f"{row[column]} ± {std}" if std else row[column]
            return row[column]

        table = nodes.table(classes=["data-table"])
        group = nodes.tgroup(cols=len(columns))
        table += group
        group.extend(nodes.colspec(colwidth=1) for _ in columns)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        head += self._row([_header(c) for c in columns])
        for row in rows:
            body += self._row([cell(row, c) for c in columns])

        name = self.arguments[0].rsplit("/", 1)[-1]
        fold = details()
        fold += summary("", f"The table: {len(rows)} rows ({name})")
        fold += table
        link = addnodes.download_reference("", "", nodes.literal("", name),
                                           reftarget=self.arguments[0], refdoc=self.env.docname,
                                           refexplicit=True, refwarn=False)
        fold += nodes.paragraph("", "", nodes.Text("Every column, with each row's device, date "
                                                   "and command: "), link)
        return [fold]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph("", text)
            row += entry
        return row


def setup(app):
    skip = (_skip, _skip)
    app.add_node(details, html=(_visit_details, _depart_details), latex=skip, text=skip,
                 man=skip, texinfo=skip)
    app.add_node(summary, html=(_visit_summary, _depart_summary), latex=skip, text=skip,
                 man=skip, texinfo=skip)
    app.add_directive("data-table", DataTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
