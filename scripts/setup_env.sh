#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install
# focalentropy with the extras named in $1 (default: dev).
# torch is installed first and pinned: on this CPU-only machine a bare `torch`
# requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
