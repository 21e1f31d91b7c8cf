"""Write docs/api/*.md from the docstrings, so the API pages never drift from the code.

Run ``python docs/build_api.py`` after changing a public docstring; the test
suite fails when a page is out of date (tests/test_docs.py).
"""

import importlib
import inspect
import pathlib

API_DIR = pathlib.Path(__file__).parent / "api"

#: page name -> (module, public names documented on the page)
PAGES = {
    "SubsetTrainingClassifier": ("sksubset.classifier", ["SubsetTrainingClassifier"]),
    "GradMatchSelector": ("sksubset.selectors.gradmatch", ["GradMatchSelector", "gradmatch"]),
    "RandomSelector": ("sksubset.selectors.random", ["RandomSelector"]),
    "CraigSelector": ("sksubset.selectors.craig", ["CraigSelector"]),
    "GlisterSelector": ("sksubset.selectors.glister", ["GlisterSelector"]),
    "CrestSelector": ("sksubset.selectors.crest", ["CrestSelector"]),
    "omp": ("sksubset.omp", ["orthogonal_matching_pursuit", "omp_batched", "nnls_gram",
                             "DenseAtoms", "OuterProductAtoms", "OMPResult"]),
    "gradients": ("sksubset.gradients", None),
    "data": ("sksubset.data", ["SelectionView", "read_training_data", "dataset_labels", "Rows",
                               "Examples"]),
    "schedule": ("sksubset.schedule", None),
    "selectors": ("sksubset.selectors._base", ["SelectionContext", "Selection", "BaseSelector"]),
    "experiments": ("sksubset.experiments", None),
    "distributed": ("sksubset.distributed", ["AcceleratedNetClassifier", "processes_of",
                                             "AcceleratedProcesses"]),
    "cluster": ("sksubset.experiments.cluster", None),
}


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _block(name, obj, level):
    doc = inspect.getdoc(obj) or "(no docstring)"
    kind = "class" if inspect.isclass(obj) else "function"
    lines = [f"{'#' * level} `{name}{_signature(obj)}`", "", f"*{kind}*", "", "```text", doc, "```", ""]
    if inspect.isclass(obj):
        for meth_name, meth in inspect.getmembers(obj, inspect.isfunction):
            if meth_name.startswith("_") or meth.__qualname__.split(".")[0] != obj.__name__:
                continue
            lines += [f"{'#' * (level + 1)} `{name}.{meth_name}{_signature(meth)}`", "",
                      "```text", inspect.getdoc(meth) or "(no docstring)", "```", ""]
    return lines


def render(page):
    """The markdown text of one API page."""
    module_name, names = PAGES[page]
    module = importlib.import_module(module_name)
    names = names or list(getattr(module, "__all__", []))
    lines = [f"# {page}", "", f"Module `{module_name}`. Generated from the docstrings by "
             "`python docs/build_api.py`; do not edit by hand.", ""]
    if module.__doc__:
        lines += ["```text", inspect.cleandoc(module.__doc__), "```", ""]
    for name in names:
        lines += _block(name, getattr(module, name), 2)
    return "\n".join(lines).rstrip() + "\n"


def main():
    API_DIR.mkdir(exist_ok=True)
    for page in PAGES:
        (API_DIR / f"{page}.md").write_text(render(page), encoding="utf-8")
        print("wrote", API_DIR / f"{page}.md")


if __name__ == "__main__":
    main()
