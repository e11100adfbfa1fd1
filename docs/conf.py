"""Sphinx configuration of the skal documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(see ``.ci/build_docs.sh``).
"""

from __future__ import annotations

import os
import sys

# Build against the working tree when the package is not installed.
sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import skal  # noqa: E402

project = "skal"
author = "the skal developers"
copyright = "the skal developers"
release = skal.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md"]
templates_path = ["_templates"]

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MyST (the measured benchmark pages are Markdown) ------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
# Heading levels that skip a step (# then ###) are a matter of style in the
# Markdown pages the benchmark scripts write, not an error of the site.
suppress_warnings = ["myst.header"]

# -- cross-references to the libraries skal builds on -------------------------
intersphinx_mapping = {}
if os.environ.get("SKAL_DOCS_INTERSPHINX"):
    # Off by default: the build must work without network access.
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }

# Without intersphinx, references into other projects cannot resolve; they
# render as plain text instead of failing the -W build.
nitpicky = False

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skal {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated ``set_*_request`` metadata-routing methods.

    scikit-learn attaches them to every estimator; their docstrings point into
    scikit-learn's own glossary, which this site does not have.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


# -- the benchmark index --------------------------------------------------------
# The measured pages are written by the benchmark scripts' owners and land one
# by one. The index lists a page only once the page *and* the script that
# reproduces it are in the tree, so it never links to something missing (and
# the -W build never fails on a dangling toctree entry).
DOCS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(DOCS_DIR)

BENCHMARK_PAGES = [
    {
        "doc": "strategies",
        "title": "Query strategies: speed and memory",
        "what": "Wall time per stage (graph or kernel, delta, greedy) and peak memory of "
                "ProbCover, MaxHerding, Coreset and TypiClust on unit-norm Gaussian mixtures "
                "of tens to hundreds of thousands of points, against a dense naive "
                "implementation and scikit-activeml where they fit.",
        "script": "benchmarks/bench_strategies.py",
        "command": "python benchmarks/bench_strategies.py --workloads "
                   "pc-10k,pc-30k,pc-50k,mh-10k,mh-50k,cs-50k,tc-50k,pca-200k "
                   "--out benchmarks/results/strategies.csv",
    },
    {
        "doc": "filters",
        "title": "Noise filters: detection quality",
        "what": "Precision, recall and F1 of the wrong-label detection of every filter on the "
                "digits, for several noise rates, noise types and labeled-set sizes, with the "
                "wall time per call.",
        "script": "benchmarks/bench_filters.py",
        "command": "python benchmarks/bench_filters.py",
    },
    {
        "doc": "nas_protocol",
        "title": "NAS learning curves (the paper's protocol)",
        "what": "Clean test accuracy against the number of labels for ProbCover and "
                "MaxHerding: plain, with a filter for training only, with NAS in every "
                "training mode, and with a filter that knows the true noise (the ceiling), "
                "at 0-50% annotator noise and 1 to 5 samples per class, on digits and MNIST-5k.",
        "script": "benchmarks/paper_protocol.py",
        "command": "python benchmarks/paper_protocol.py",
    },
    {
        "doc": "nas_protocol_notebook",
        "title": "NAS protocol: investigations, session by session",
        "what": "The lab notebook behind the NAS learning curves: the earlier revisions of the "
                "recommended default and how each was chosen, the earlier verdicts, and the "
                "experiments on where NAS selection pays and where the gap to the perfect "
                "filter sits, with the filter's earlier costs.",
        "script": "benchmarks/paper_protocol.py",
        "command": "python benchmarks/paper_protocol.py",
    },
    {
        "doc": "../coteaching",
        "title": "Co-Teaching: quality and speed",
        "what": "Clean test accuracy of Co-Teaching against plain training of the same MLP on "
                "noisy digits, and the time per epoch against a hand-written PyTorch loop.",
        "script": "benchmarks/quality_coteaching.py",
        "command": "python benchmarks/quality_coteaching.py --seeds 5 --epochs 100 "
                   "--out quality_coteaching.csv",
    },
]


def _page_exists(doc: str) -> bool:
    base = os.path.normpath(os.path.join(DOCS_DIR, "benchmarks", doc))
    return any(os.path.exists(base + ext) for ext in (".md", ".rst"))


def _command_from_page(doc: str) -> str | None:
    """The first ``python benchmarks/...`` or ``skal bench`` command written in a page.

    The page's own command wins over the table's, so that the index and the
    page never disagree. Backslash continuations are joined.
    """
    base = os.path.normpath(os.path.join(DOCS_DIR, "benchmarks", doc))
    for ext in (".md", ".rst"):
        if os.path.exists(base + ext):
            with open(base + ext, encoding="utf-8") as fh:
                lines = [line.strip().strip("`").strip() for line in fh]
            break
    else:
        return None
    for i, line in enumerate(lines):
        if line.startswith(("python benchmarks/", "skal bench ", "python -m skal bench ")):
            parts = [line]
            while parts[-1].endswith("\\") and i + 1 < len(lines):
                parts[-1] = parts[-1][:-1].rstrip()
                i += 1
                parts.append(lines[i])
            return " ".join(parts)
    return None


def available_benchmark_pages() -> list[dict]:
    """The entries of :data:`BENCHMARK_PAGES` whose page exists, then any other page.

    A page found in ``docs/benchmarks/`` that the table does not know is listed
    too (under its own title), so that no measured page is left out of the
    site. ``command`` is dropped when its script is not in the tree.
    """
    pages = []
    for page in BENCHMARK_PAGES:
        if _page_exists(page["doc"]):
            page = dict(page)
            page["command"] = _command_from_page(page["doc"]) or page["command"]
            if not os.path.exists(os.path.join(REPO_DIR, page["script"])):
                page["command"] = None
            pages.append(page)
    known = {p["doc"] for p in BENCHMARK_PAGES} | {"index"}
    bench_dir = os.path.join(DOCS_DIR, "benchmarks")
    for name in sorted(os.listdir(bench_dir)):
        doc, ext = os.path.splitext(name)
        if ext in (".md", ".rst") and doc not in known and not name.startswith("_"):
            pages.append({"doc": doc, "title": None, "what": None,
                          "command": _command_from_page(doc)})
    return pages


def _benchmark_index_body() -> str:
    pages = available_benchmark_pages()
    if not pages:
        return ("No measured benchmark page is in this version of the documentation yet. "
                "The :doc:`benchmarking guide </guide/benchmarking>` shows how to run your "
                "own grid.\n")
    lines = [".. toctree::", "   :hidden:", ""]
    lines += [f"   {p['doc']}" for p in pages]
    lines.append("")
    for p in pages:
        lines.append(f":doc:`{p['title']} <{p['doc']}>`" if p["title"] else f":doc:`{p['doc']}`")
        if p["what"]:
            lines += ["   " + p["what"]]
        if p["command"]:
            lines += ["", "   Reproduce (from the repository root)::", "",
                      f"      {p['command']}"]
        lines.append("")
    return "\n".join(lines) + "\n"


def _fill_benchmark_index(app, docname, source):
    if docname == "benchmarks/index":
        source[0] = source[0].replace(".. benchmark-pages::", _benchmark_index_body())


# -- references to re-exported names --------------------------------------------
# Docstrings may write :class:`~skal.CoTeachingClassifier` for a name that the
# reference documents under the module defining it (skal.coteaching). Such a
# reference is redirected to the documented object.
_DOCUMENTED_MODULES = ("skal.strategies", "skal.filters", "skal.noise", "skal.coteaching",
                       "skal.nets", "skal.datasets", "skal.learner", "skal.benchmark")


def _resolve_reexported(app, env, node, contnode):
    import importlib

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("skal.") or target.count(".") != 1:
        return None
    name = target.split(".", 1)[1]
    for modname in _DOCUMENTED_MODULES:
        module = importlib.import_module(modname)
        if name in getattr(module, "__all__", ()):
            domain = env.get_domain("py")
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                       f"{modname}.{name}", node, contnode)
    return None


# -- every public name must be in the API reference ---------------------------------
_API_MODULES = ("skal.strategies", "skal.filters", "skal.noise", "skal.datasets",
                "skal.coteaching", "skal.nets", "skal.learner", "skal.benchmark",
                "skal.benchmark.cli", "skal.demo", "skal.neighbors")


def _check_api_coverage(app, env):
    """Warn (an error under -W) about a public class or function missing from api/index."""
    import importlib
    import inspect

    from sphinx.util import logging

    logger = logging.getLogger("skal.docs")
    documented = set(env.get_domain("py").objects)
    aliases = {"skal.learner.NoiseAwareActiveLearner": "skal.NoiseAwareActiveLearner"}
    for modname in _API_MODULES:
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants and submodules are described in prose
            full = f"{modname}.{name}"
            if full not in documented and aliases.get(full) not in documented:
                logger.warning(f"public name {full} is missing from docs/api/index.rst")


def _always_reread_benchmark_index(app, env, added, changed, removed):
    # Its content depends on which pages exist, which Sphinx cannot track.
    return ["benchmarks/index"] if "benchmarks/index" in env.found_docs else []


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
    app.connect("source-read", _fill_benchmark_index)
    app.connect("env-get-outdated", _always_reread_benchmark_index)
    app.connect("missing-reference", _resolve_reexported)
    app.connect("env-check-consistency", _check_api_coverage)
