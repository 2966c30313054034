#!/usr/bin/env bash
# Build the sdist and the wheel (the wheel is built from the sdist), install the wheel into a
# clean virtual environment (no system site packages, no torch, the dependency floors) and
# smoke-test it: import, one minimizer call, the console script, python -m focalentropy.
# Usage: bash scripts/check_package.sh   (uses .venv's python for the build)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m build --no-isolation --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; exit 1; }
sdist=("$tmp"/dist/*.tar.gz)
wheel=("$tmp"/dist/*.whl)
.venv/bin/python - "${sdist[0]}" "${wheel[0]}" <<'PY'
import sys, tarfile, zipfile
sdist, wheel = sys.argv[1:]
names = tarfile.open(sdist).getnames()
for f in ("LICENSE", "CHANGELOG.md", "CITATION.cff", "README.md"):
    assert any(n.endswith("/" + f) for n in names), f"{f} missing from the sdist"
names = zipfile.ZipFile(wheel).namelist()
assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "LICENSE missing from the wheel"
assert "focalentropy/__main__.py" in names and "focalentropy/py.typed" in names
print("sdist and wheel contents: ok")
PY
python3 -m venv "$tmp/venv"
# the dependency floors of pyproject.toml, so that the lower bounds are the tested ones
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "numpy==2.0.2" "scipy==1.13.1" "numba==0.60.0" "click==8.1.0" "rich==13.0.0"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${wheel[0]}"
cd "$tmp"  # away from the checkout: the installed wheel is what gets imported
"$tmp/venv/bin/python" - <<'PY'
import sys
import numpy as np
import focalentropy as fe
assert "torch" not in sys.modules and "matplotlib" not in sys.modules
assert fe.__file__.startswith(sys.prefix), fe.__file__
from importlib.metadata import version
assert version("focal-entropy") == fe.__version__, (version("focal-entropy"), fe.__version__)
q, lam = fe.minimizer(np.array([0.7, 0.2, 0.08, 0.02]), 2.0, return_multiplier=True)
assert abs(lam - 0.6920719626494982) < 1e-12 and np.allclose(fe.recover(q, 2.0), [0.7, 0.2, 0.08, 0.02])
print(f"focal-entropy {fe.__version__} from the wheel: import and minimizer ok")
PY
"$tmp/venv/bin/focalentropy" --help >/dev/null
"$tmp/venv/bin/python" -m focalentropy --version
echo "package check: ok"
