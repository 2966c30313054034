#!/usr/bin/env bash
# Install everything the tests need into .venv, lint, run the test suite, build the
# documentation (warnings are errors; internal links and the guides' doctests checked, all
# offline), and build and smoke-test the sdist and wheel in a clean environment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
.venv/bin/ruff check src tests benchmarks examples docs/conf.py docs/check_links.py
.venv/bin/ruff format --check src tests benchmarks examples docs/conf.py docs/check_links.py
.venv/bin/mypy --config-file pyproject.toml  # the package (files and strictness: [tool.mypy])
.venv/bin/python -m pytest -n 2 --durations=15 "$@"
# documentation: build (executes the gallery), internal links, doctests of the pages
.venv/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
.venv/bin/python docs/check_links.py docs/_build/html
.venv/bin/python -m pytest -q -p no:cacheprovider --doctest-glob="*.rst" docs/*.rst docs/guides/*.rst
# packaging: sdist + wheel, installed into a clean venv without torch, smoke test
bash scripts/check_package.sh
