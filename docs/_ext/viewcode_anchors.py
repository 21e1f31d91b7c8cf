"""Make every ``[docs]`` link of the highlighted source pages (``sphinx.ext.viewcode``) land.

viewcode links each object of a module's source page back to its documentation as
``<page>#<refname>.<name>``, with one ``refname`` per module: the module name under which the
first documented object of that module was found. When the objects of one module are documented
under different public modules (``sksubset.SubsetTrainingClassifier.fit`` and
``sksubset.classifier.default_selector`` both live in ``sksubset._estimator``), the links of all
but the first point to an anchor that does not exist. This adds that anchor to the documented
signature, next to its own.
"""

from sphinx import addnodes
from sphinx.ext.viewcode import _get_full_modname


def _add_viewcode_ids(app, doctree, docname):
    modules = getattr(app.env, "_viewcode_modules", {})
    for signode in doctree.findall(addnodes.desc_signature):
        modname, fullname = signode.get("module"), signode.get("fullname")
        if not modname or not fullname:
            continue
        source = _get_full_modname(modname, fullname) or modname
        entry = modules.get(source)
        if not entry:
            continue
        _, _, used, refname = entry
        anchor = f"{refname}.{fullname}"
        if used.get(fullname) == docname and anchor not in signode["ids"]:
            signode["ids"].append(anchor)


def setup(app):
    app.setup_extension("sphinx.ext.viewcode")
    app.connect("doctree-resolved", _add_viewcode_ids)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
