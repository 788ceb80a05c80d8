"""Sphinx configuration for the ridgeline documentation.

Build (warnings are errors): ``sphinx-build -W --keep-going -b html docs docs/_build/html``,
or ``bash ci/docs.sh``, which also installs the ``docs`` extra's packages.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Document the installed package when there is one; fall back to the source tree (whose
# python/ridgeline needs the compiled _core next to it, as in a development checkout).
try:
    import ridgeline
except ImportError:
    sys.path.insert(0, str(ROOT / "python"))
    import ridgeline

project = "ridgeline"
author = "the ridgeline developers"
copyright = "2026, the ridgeline developers"  # noqa: A001 - Sphinx's name
release = ridgeline.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"ridgeline {release}"

# autodoc: members in each module's __all__, in source order; signatures as written, with the
# type hints in the signature (numpydoc's Parameters sections carry the descriptions).
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"

# numpydoc: the class pages list their members through autodoc, not numpydoc's autosummary
# tables (which would need generated stub pages for every attribute).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Docstring validation (numpydoc's GL/PR/RT/... checks) is not enforced in this build: several
# engine docstrings still lack sections (turn the checks on once they are complete).
numpydoc_validation_checks: set[str] = set()

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
}
# No network in CI: intersphinx inventories are only fetched when asked for.
if not os.environ.get("RIDGELINE_DOCS_INTERSPHINX"):
    intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "reset_modules": ("matplotlib",),
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

# The gallery scripts run headless.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)

# ridgeline.nested.problems' table writes |error| (an absolute value) in plain text, which reST
# reads as a substitution reference: define it to render as written.
rst_epilog = r"""
.. |error| replace:: \|error\|
"""
