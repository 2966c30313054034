#!/usr/bin/env bash
# Install focalentropy with the experiment extras into .venv and run the main
# job: the validation suite, writing reproduce-out/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "experiments"
.venv/bin/focalentropy reproduce --quick --out reproduce-out "$@"
