"""Sphinx configuration of the sksubset documentation.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W -n -b html docs docs/_build/html

``-W`` turns every warning into an error and ``-n`` (nitpicky) requires every
cross-reference to resolve.  The API reference is generated from the
docstrings (autodoc + numpydoc), the user guide and benchmarks are MyST
Markdown, and the examples in ``examples/`` are run and rendered by
sphinx-gallery (the scripts in ``examples/benchmarks/`` are not run); add
``-D plot_gallery=0`` for a quick build that does not run them.

The site needs nothing from the network: MathJax 3 (``tex-chtml.js`` with its fonts and TeX
extensions, from the npm package ``mathjax@3.2.2``, Apache-2.0) is shipped in
``_static/mathjax/``. The benchmarks page's tables come from ``data/*.csv`` through the
``data-table`` directive of ``_ext/data_table.py``, and its figures from the same files through
``examples/benchmarks/plot_findings.py``. ``check_links.py`` checks the built site's links.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

import sksubset  # noqa: E402

project = "sksubset"
author = "The sksubset developers"
copyright = "2026, the sksubset developers"
version = release = sksubset.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "data_table",
    "viewcode_anchors",
    "long_cells",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "data"]
templates_path = ["_templates"]
# The theme of the scientific-Python projects (NumPy, SciPy, pandas, scikit-learn's look)
html_theme = "pydata_sphinx_theme"
html_title = "sksubset"
html_static_path = ["_static"]
html_css_files = ["sksubset.css"]
# every page shows the whole site's contents on the left and its own sections on the right
html_sidebars = {"**": ["sidebar-site-nav"]}
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "navigation_with_keys": False,
    "github_url": "https://github.com/sksubset/sksubset",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}

# -- API reference: autodoc + numpydoc -----------------------------------------------
autodoc_default_options = {
    "member-order": "bysource",
    # scikit-learn's metadata-routing methods, documented by scikit-learn
    "exclude-members": "get_metadata_routing, set_fit_request, set_transform_request, "
                       "set_score_request, set_predict_request, set_predict_proba_request",
}
toc_object_entries_show_parents = "hide"  # the page's contents list "fit()", not "Class.fit()"
autodoc_typehints = "none"  # numpydoc's Parameters sections document the types
numpydoc_show_class_members = False  # autodoc's :members: lists the methods once
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# Cross-references to other projects cannot be checked offline (no intersphinx
# inventory is fetched); every reference into sksubset must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(skorch|sklearn|torch|numpy|np|scipy|tqdm|matplotlib)(\..*)?"),
    # a public docstring may point a reader of the source to a private module (a name with a
    # leading underscore); the API pages document public names only, so those stay plain text
    (r"py:.*", r"~?sksubset(\.\w+)*\._[a-z]\w*(\..*)?"),
]

# -- User guide and benchmarks: MyST Markdown ----------------------------------------
myst_heading_anchors = 3
# $...$ and $$...$$ math and LaTeX environments, rendered by MathJax (sphinx.ext.mathjax)
myst_enable_extensions = ["dollarmath", "amsmath"]
# the MathJax shipped with the site (relative to _static), so that formulas render offline
mathjax_path = "mathjax/tex-chtml.js"
myst_dmath_double_inline = True

# -- Examples: sphinx-gallery ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example ...
    "ignore_pattern": r"[\\/]benchmarks[\\/]",  # ... but not the benchmark scripts
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "write_computation_times": False,
}
