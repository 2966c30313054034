"""Sphinx configuration of the focalentropy documentation.

Build (offline; the gallery scripts in ``examples/`` are executed)::

    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

``-D plot_gallery=0`` skips running the examples (faster, no figures).
Nothing is fetched from the network: no intersphinx, and MathJax is served
from ``_static/mathjax`` (MathJax 3, Apache-2.0, see its LICENSE there).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import focalentropy  # noqa: E402

project = "focalentropy"
author = "focalentropy developers"
copyright = "2026, focalentropy developers"
version = release = focalentropy.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.extlinks",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "sg_execution_times.rst",
    "**/sg_execution_times.rst",
]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# a `:doi:` role (used in docstrings): a plain link, nothing is fetched
extlinks = {"doi": ("https://doi.org/%s", "doi:%s")}

# offline MathJax (no CDN)
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "pydata_sphinx_theme"
html_title = f"focalentropy {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "theory": [], "performance": []}

# autodoc / autosummary / numpydoc
autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
# docstrings list their References without citing each one in the text
suppress_warnings = ["ref.citation"]

# matplotlib plot directive (figures of the theory page)
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.figsize": (7.0, 3.6), "font.size": 10}

# sphinx-gallery: every examples/plot_*.py is executed and its figures embedded
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "reference_url": {"focalentropy": None},
    "show_memory": False,
    "run_stale_examples": False,
    "write_computation_times": False,
}

# quiet, deterministic example runs
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")
