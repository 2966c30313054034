"""Write the 50-digit mpmath references of the core's tests to ``tests/data/mp_references.json``.

The minimizer ``Q*`` of each fixed case in ``tests/_mp_reference.py``
(``SOFTMAX_CASES``) is solved from scratch with mpmath (``mp_minimizer``: a
one-dimensional root of ``sum_x phi^{-1}(lam / w_x) = 1`` with every
``phi^{-1}`` a bracketed root in the logit); the library is not imported. The
values are stored as 50-digit decimal strings, with a digest of the case list:
the tests fail with a message naming this script when the file is missing or
no longer matches the cases.

Regenerate (after changing ``SOFTMAX_CASES``; takes about a minute)::

    .venv/bin/python scripts/make_reference_data.py

``--check`` recomputes everything and compares it with the stored file instead
of writing it (exit status 1 on any difference beyond 1e-45 relative).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import mpmath as mp  # noqa: E402

import _mp_reference as ref  # noqa: E402


def _differs(a: str, b: str) -> bool:
    x, y = mp.mpf(a), mp.mpf(b)
    return abs(x - y) > mp.mpf("1e-45") * max(abs(x), abs(y))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    data = ref.compute_references()
    if args.check:
        stored = json.loads(ref.DATA_FILE.read_text())
        bad = [
            name
            for name, new in data["references"].items()
            if name not in stored["references"]
            or any(
                _differs(a, b)
                for key in ("q", "one_minus_q")
                for a, b in zip(new[key], stored["references"][name][key], strict=True)
            )
            or _differs(new["lam"], stored["references"][name]["lam"])
        ]
        if stored.get("digest") != data["digest"] or bad:
            print(f"{ref.DATA_FILE}: stale or different for {bad or 'the case list'}")
            return 1
        print(f"{ref.DATA_FILE}: {len(data['references'])} references agree")
        return 0
    ref.DATA_FILE.parent.mkdir(parents=True, exist_ok=True)
    ref.DATA_FILE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(data['references'])} references to {ref.DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
