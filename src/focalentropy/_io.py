"""File input and output of the ``focalentropy`` command line.

Reading
    :func:`read_counts` (class counts from a CSV file), :func:`read_array`
    (an ``(n, K)`` array from ``.npy`` or ``.csv``), :func:`parse_numbers`
    (``"0.7,0.2,0.1"``) and :func:`as_probabilities` (the rows handed to
    ``recover``). Nothing is guessed that could drop data: a first CSV row is
    a header only when it cannot be data, or when the caller says so, and any
    other malformed row is an :class:`InputError` naming its line.
Writing
    :func:`check_output_file` / :func:`check_output_dir` (called before any
    work starts), :func:`atomic_write` (a temporary file in the same folder,
    then :func:`os.replace`: an interrupted write leaves the old file, or
    nothing, behind), :func:`write_array`, :func:`write_json` and
    :func:`dumps_json` (valid JSON: non-finite numbers become ``null``).

Every problem raises :class:`InputError` (bad input) or :class:`OutputError`
(an output path that cannot be written); both are ``ValueError`` subclasses
carrying the file in ``.path`` (and the 1-based ``.line`` where one applies),
so a caller maps them to its options by type, not by message text.
Importing this module imports only the standard library (NumPy is imported
where an array is built).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy is imported where used (the CLI starts without it)
    from typing import TypeAlias

    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    #: a file-system path as the functions take it
    StrPath: TypeAlias = str | os.PathLike[str]

__all__ = [
    "ArrayFile",
    "InputError",
    "OutputError",
    "as_probabilities",
    "atomic_write",
    "check_output_dir",
    "check_output_file",
    "check_tcp_address",
    "dumps_json",
    "is_number",
    "json_ready",
    "parse_numbers",
    "read_array",
    "read_counts",
    "read_json",
    "write_array",
    "write_bytes",
    "write_json",
    "write_text",
]


class InputError(ValueError):
    """Input that cannot be used as given.

    Attributes
    ----------
    path : pathlib.Path or None
        The file, when the input came from one.
    line : int or None
        1-based line number of the offending CSV row, when one applies.
    reason : str
        The message without the file and line prefix.
    """

    def __init__(
        self, reason: str, *, path: StrPath | None = None, line: int | None = None
    ) -> None:
        self.path = None if path is None else Path(path)
        self.line = line
        self.reason = reason
        where = ""
        if self.path is not None:
            where = f"{self.path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + reason)


class OutputError(ValueError):
    """An output path that cannot be written (``.path``: the path asked for)."""

    def __init__(self, reason: str, *, path: StrPath) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# ---------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------

_NUMBER = re.compile(
    r"^[+-]?(?:(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?"
    r"|(?P<special>nan|inf|infinity))$",
    re.IGNORECASE,
)


def _match_number(text: str) -> re.Match[str] | None:
    m = _NUMBER.match(text)
    if m is None:
        return None
    if m.group("special") is None and not (m.group("int") or m.group("frac")):
        return None  # "", ".", "e5"
    return m


def is_number(text: str) -> bool:
    """True if ``text`` is a decimal number (``1``, ``-0.5``, ``1e-3``, ``nan``, ``inf``).

    Unlike :class:`float`, digit-group underscores (``1_000``) are not accepted.

    Examples
    --------
    >>> is_number("1e-3"), is_number(" 0.5 "), is_number("cat"), is_number("1_000")
    (True, True, False, False)
    """
    return _match_number(text.strip()) is not None


def parse_numbers(text: str, *, positive: bool = False) -> NDArray[np.float64]:
    """``"0.7,0.2, 0.1"`` (commas, spaces or semicolons) -> float64 array.

    Raises
    ------
    InputError
        If the text is empty, an item is not a number, not finite, or (with
        ``positive``) not > 0; the message names the item by its 0-based index.
    """
    import numpy as np

    items = [s for s in re.split(r"[,\s;]+", text.strip()) if s]
    if not items:
        raise InputError("empty; give comma-separated numbers")
    values = []
    for i, s in enumerate(items):
        if not is_number(s):
            raise InputError(f"must be comma-separated numbers; item {i} is {s!r}")
        v = float(s)
        if not math.isfinite(v):
            raise InputError(f"must contain finite numbers; item {i} is {s!r}")
        if positive and not v > 0:
            raise InputError(f"must be positive; item {i} is {s!r}")
        values.append(v)
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------------------
# CSV text
# ---------------------------------------------------------------------------


def _read_csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a UTF-8 CSV file as ``(line_number, stripped fields)``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", path=path) from None
    if b"\x00" in data:
        raise InputError("not a text file (it contains NUL bytes)", path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            path=path,
            line=line,
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for fields in reader:
            cells = [c.strip() for c in fields]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=path, line=reader.line_num) from None
    return rows


def _first_non_number(cells: list[str]) -> int | None:
    for i, c in enumerate(cells):
        if not is_number(c):
            return i
    return None


def _take_header(
    rows: list[tuple[int, list[str]]],
    header: bool | None,
    is_header: Callable[[list[str]], bool],
) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """Split off the header row: declared (``header``), or detected by ``is_header``."""
    if not rows:
        return None, rows
    if header is None:
        header = is_header(rows[0][1])
    if header:
        return rows[0][1], rows[1:]
    return None, rows


def read_counts(
    path: StrPath, *, header: bool | None = None
) -> tuple[NDArray[np.float64], list[str] | None]:
    """Read class counts from a CSV file.

    Layouts:

    * ``class,count`` rows (two fields per row, one class per row);
    * one column of counts;
    * one row of counts (after an optional header row that names the classes).

    The first row is a header only if ``header=True``, or, with
    ``header=None`` (the default), if its count field (the last field) is not a
    number: ``cat,500`` is data, ``class,count`` is a header. Any other
    non-numeric, negative or non-finite count is an error naming its line.

    Parameters
    ----------
    path : path-like
    header : bool or None
        True/False: the first row is/is not a header; None: detect as above.

    Returns
    -------
    counts : ndarray, shape (K,)
    names : list of str or None
        Class names when the file gives them.

    Raises
    ------
    InputError
    """
    import numpy as np

    path = Path(path)
    rows = _read_csv_rows(path)
    if not rows:
        raise InputError("no counts found (empty file)", path=path)
    head, rows = _take_header(rows, header, lambda cells: not is_number(cells[-1]))
    if not rows:
        raise InputError("only a header row, no counts", path=path)
    widths = {len(cells) for _, cells in rows}
    if len(rows) == 1 and (len(rows[0][1]) > 2 or _first_non_number(rows[0][1]) is None):
        # one row of counts (a lone "a,b" row of numbers is two counts, not one class)
        line, cells = rows[0]
        if head is not None and len(head) != len(cells):
            raise InputError(
                f"the header has {len(head)} fields but the row of counts has {len(cells)}",
                path=path,
                line=line,
            )
        names = head
        entries = [(line, cells[i], i) for i in range(len(cells))]
        labels = [f"count {i}" for i in range(len(cells))]
    elif widths <= {1} or widths <= {2}:
        width = widths.pop()
        names = [cells[0] for _, cells in rows] if width == 2 else None
        entries = [(line, cells[-1], k) for k, (line, cells) in enumerate(rows)]
        labels = (
            [f"count of {n!r}" for n in names]
            if names
            else [f"count {k}" for k in range(len(rows))]
        )
    else:
        line, cells = next((ln, c) for ln, c in rows if len(c) != len(rows[0][1]) or len(c) > 2)
        raise InputError(
            f"expected 'class,count' rows, one column of counts or one row of counts; "
            f"this row has {len(cells)} fields",
            path=path,
            line=line,
        )
    counts = np.empty(len(entries))
    for (line, text, k), label in zip(entries, labels, strict=True):
        if not is_number(text):
            raise InputError(f"{label} is not a number: {text!r}", path=path, line=line)
        v = float(text)
        if not (math.isfinite(v) and v >= 0):
            raise InputError(f"{label} must be finite and >= 0, got {text!r}", path=path, line=line)
        counts[k] = v
    if not counts.sum() > 0:
        raise InputError("the counts sum to 0", path=path)
    return counts, names


@dataclass
class ArrayFile:
    """An array read by :func:`read_array`.

    Attributes
    ----------
    values : ndarray
        As stored: the ``.npy`` dtype (float32 stays float32, so that checks
        use its precision), float64 for CSV.
    header : list of str or None
        The CSV header row, if any.
    path : pathlib.Path
    lines : list of int or None
        CSV line number of each row.
    rounding : ndarray or None
        Per CSV row, the largest amount by which the row's sum can differ from
        the sum of the unrounded values, given the digits printed in the file
        (half a unit in the last printed place, summed over the row).
    exact_float32 : bool
        CSV values that are all exactly float32 numbers (an array saved from
        float32): their row sums are checked with float32's precision.
    """

    values: Any
    header: list[str] | None
    path: Path
    lines: list[int] | None = None
    rounding: Any = None
    exact_float32: bool = False


def _printed_precision(match: re.Match[str], state: list[float]) -> None:
    """Update ``state = [finest, digits]`` with one field's printed precision.

    ``finest``: decimal exponent of the finest absolute unit seen (``%.6f``: -6);
    ``digits``: the most significant digits seen (``%.6g``: 6).
    """
    if match.group("special"):
        return
    frac = match.group("frac") or ""
    exp = match.group("exp")
    state[0] = min(state[0], (int(exp) if exp else 0) - len(frac))
    state[1] = max(state[1], len(((match.group("int") or "") + frac).lstrip("0")))


def _rounding_bound(
    values: NDArray[np.float64], finest: float, digits: float
) -> NDArray[np.float64]:
    """Per row, the largest rounding of its sum, from the digits the file prints.

    A file has one printing rule: fixed decimals (``%.6f``: the unit is the
    finest one in the file) or significant digits (``%.6g``, ``repr``: a unit
    relative to each value, at the largest number of significant digits in the
    file). Half the larger of the two units per field covers both, and does not
    read a short ``repr`` such as ``0.1`` as coarse.
    """
    import numpy as np

    absolute = 0.0 if finest == math.inf else 10.0**finest
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        magnitude = np.floor(np.log10(np.abs(values)))
        relative = np.where(np.isfinite(magnitude), 10.0 ** (magnitude + 1 - digits), 0.0)
    return 0.5 * np.maximum(absolute, relative).sum(axis=-1)


def _parse_csv_array(path: Path, header: bool | None) -> ArrayFile:
    import numpy as np

    rows = _read_csv_rows(path)
    if not rows:
        raise InputError("empty file, no rows", path=path)
    head, rows = _take_header(rows, header, lambda cells: all(not is_number(c) for c in cells))
    if not rows:
        raise InputError("only a header row, no data", path=path)
    width = len(rows[0][1])
    if head is not None and len(head) != width:
        raise InputError(
            f"the header has {len(head)} fields but the rows have {width}",
            path=path,
            line=rows[0][0] - 1 if rows[0][0] > 1 else None,
        )
    precision: list[float] = [math.inf, 1]
    for line, cells in rows:
        if len(cells) != width:
            raise InputError(
                f"expected {width} fields like the first row, got {len(cells)}",
                path=path,
                line=line,
            )
        for i, cell in enumerate(cells):
            m = _match_number(cell)
            if m is None:
                first = line == rows[0][0] and header is None
                hint = " (declare a header row with --header)" if first else ""
                raise InputError(f"field {i} is not a number: {cell!r}{hint}", path=path, line=line)
            _printed_precision(m, precision)
    values = np.asarray([c for _, c in rows], dtype=np.float64)
    exact32 = bool(
        np.isfinite(values).all()
        and np.array_equal(values.astype(np.float32).astype(np.float64), values)
    )
    return ArrayFile(
        values=values,
        header=head,
        path=path,
        lines=[ln for ln, _ in rows],
        rounding=_rounding_bound(values, *precision),
        exact_float32=exact32,
    )


def _load_npy(path: Path) -> ArrayFile:
    import numpy as np
    from numpy.lib import format as npy_format

    try:  # the header first: its dtype says what the file holds, without loading it
        with open(path, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":
                raise InputError("not a .npy file (no NumPy header)", path=path)
            fh.seek(0)
            version = npy_format.read_magic(fh)
            if version == (1, 0):
                _, _, dtype = npy_format.read_array_header_1_0(fh)
            else:
                _, _, dtype = npy_format.read_array_header_2_0(fh)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"not a readable .npy file ({exc})", path=path) from None
    if dtype.hasobject:
        raise InputError("holds Python objects (object dtype), not numbers", path=path)
    if dtype.kind not in "biuf":
        raise InputError(f"holds {dtype} values, not real numbers", path=path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"not a readable .npy file ({exc})", path=path) from None
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return ArrayFile(values=arr, header=None, path=path)


def read_array(path: StrPath, *, header: bool | None = None) -> ArrayFile:
    """Read an ``(n, K)`` (or ``(K,)``) array from ``.npy`` or ``.csv``/``.txt``.

    ``.npy`` files are loaded with ``allow_pickle=False`` and must hold real
    numbers (bool, integer or float). In a CSV file the first row is a header
    if ``header=True`` or, with ``header=None``, if every field in it is not a
    number; any other row with a non-number, or a different number of fields,
    is an error naming its line.

    Raises
    ------
    InputError
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if header:
            raise InputError("a .npy file has no header row", path=path)
        return _load_npy(path)
    if suffix in (".csv", ".txt"):
        return _parse_csv_array(path, header)
    raise InputError(f"expected a .npy or .csv file, got {suffix or 'no suffix'!r}", path=path)


def _where(data: ArrayFile, row: int) -> dict[str, Any]:
    line = data.lines[row] if data.lines is not None else None
    return {"path": data.path, "line": line}


def as_probabilities(
    data: ArrayFile,
    *,
    kind: Literal["softmax", "sigmoid"] = "softmax",
    renormalize: bool = False,
    from_logits: bool = False,
) -> tuple[NDArray[np.floating[Any]], int]:
    """The probabilities of ``data`` as ``recover`` should receive them.

    * ``from_logits``: softmax (or, for ``kind="sigmoid"``, the logistic
      function) of the values, in float64;
    * ``renormalize``: every row divided by its sum (entries must be finite
      and >= 0, every row sum > 0);
    * otherwise the values as read. ``.npy`` arrays keep their dtype, so a
      float32 array's rows are checked to float32 precision by
      :func:`focalentropy.recover`. CSV rows whose sum differs from 1 by no
      more than the rounding of their printed digits are rescaled to sum to 1
      (their count is returned), and CSV values that are all exact float32
      numbers are returned as float32.

    Returns
    -------
    values : ndarray
    rescaled : int
        Number of CSV rows rescaled within their printed precision.

    Raises
    ------
    InputError
        If the array is not 1-D or 2-D, is empty, or (with ``renormalize`` or
        ``from_logits``) holds values these cannot use; names row and line.
    """
    import numpy as np

    x = data.values
    if x.ndim not in (1, 2) or x.size == 0:
        raise InputError(
            f"expected an (n, K) array of probabilities, got shape {x.shape}", path=data.path
        )
    rows = np.atleast_2d(x)
    if from_logits or renormalize:
        z = rows.astype(np.float64, copy=False)  # read only: no copy of float64 input
        bad = ~np.isfinite(z) if from_logits else ~(np.isfinite(z) & (z >= 0))
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            need = "finite logits" if from_logits else "finite values >= 0 to renormalize"
            value = float(z[r, c])
            raise InputError(f"row {r}, column {c} is {value!r}; need {need}", **_where(data, r))
        if from_logits and kind == "sigmoid":
            out = np.exp(-np.logaddexp(0.0, -z))
        elif from_logits:
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            out = e / e.sum(axis=-1, keepdims=True)
        else:
            total = z.sum(axis=-1, keepdims=True)
            if not np.all(total > 0):
                r = int(np.argmax(~(total[:, 0] > 0)))
                raise InputError(f"row {r} sums to 0; cannot renormalize it", **_where(data, r))
            out = z / total
        return out.reshape(x.shape), 0
    if data.rounding is None or kind != "softmax":
        return x, 0
    total = rows.sum(axis=-1)
    within = (np.abs(total - 1.0) <= data.rounding) & (total != 1.0) & (total > 0)
    out = rows.copy()
    out[within] /= total[within, None]
    if data.exact_float32:
        out = out.astype(np.float32)
    return out.reshape(x.shape), int(within.sum())


# ---------------------------------------------------------------------------
# output paths and atomic writes
# ---------------------------------------------------------------------------


def _probe_folder(folder: Path, path: Path) -> None:
    """Create and remove a temporary file in ``folder`` (the honest writability test)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".focalentropy-probe-")
    except OSError as exc:
        raise OutputError(f"cannot write in {folder} ({exc.strerror or exc})", path=path) from None
    os.close(fd)
    os.unlink(name)


def _existing_ancestor(path: Path) -> Path:
    """The nearest existing folder above ``path``; an error if a file is in the way."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{parent} is a file, not a folder", path=path)
            return parent
        if parent.is_symlink():  # a dangling link
            raise OutputError(f"{parent} is a broken link", path=path)
    raise OutputError("no existing folder above it", path=path)  # pragma: no cover


def check_output_file(path: StrPath, *, suffixes: tuple[str, ...] | None = None) -> Path:
    """Check, before any work, that a file can be written at ``path``.

    ``path`` is used exactly as given (no suffix is appended); with
    ``suffixes`` its suffix (case-insensitive) must be one of them. Missing
    parent folders are fine when they can be created. Nothing is created.

    Raises
    ------
    OutputError
    """
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise OutputError(f"must end in {' or '.join(suffixes)}, got {path.name!r}", path=path)
    if path.is_dir():
        raise OutputError("is a folder; give a file name", path=path)
    if path.exists() and not path.is_file():
        raise OutputError("exists and is not a regular file", path=path)
    _probe_folder(path.parent if path.parent.is_dir() else _existing_ancestor(path), path)
    return path


def check_output_dir(path: StrPath) -> Path:
    """Check, before any work, that ``path`` is or can become a writable folder.

    Raises
    ------
    OutputError
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError("exists and is not a folder", path=path)
    _probe_folder(path if path.is_dir() else _existing_ancestor(path), path)
    return path


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path: StrPath, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file in the same folder, then rename it.

    Yields the open temporary file. On success it is flushed, synced and moved
    onto ``path`` with :func:`os.replace` (atomic on one file system); if the
    body raises, the temporary file is removed and ``path`` is untouched.
    Missing parent folders are created. The file gets the mode of the file it
    replaces, or the usual mode for a new file (0666 minus the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.is_file() else _new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        ) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes(path: StrPath, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, binary=True) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: StrPath, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as fh:
        fh.write(text)
    return Path(path)


def write_array(path: StrPath, values: ArrayLike, *, header: list[str] | None = None) -> Path:
    """Write ``values`` to exactly ``path``: ``.npy`` (``np.save``) or ``.csv``.

    The CSV form has one row per line, every value written with ``repr`` (it
    reads back exactly) and ``header`` first if given. The write is atomic.
    """
    import numpy as np

    path = Path(path)
    if path.suffix.lower() == ".npy":
        with atomic_write(path, binary=True) as fh:
            np.save(fh, np.asarray(values))
    else:
        with atomic_write(path) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            if header is not None:
                writer.writerow(header)
            for row in np.atleast_2d(values):
                writer.writerow([repr(float(v)) for v in row])
    return path


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


def json_ready(obj: Any) -> Any:
    """``obj`` with NumPy scalars/arrays as builtins and non-finite floats as None.

    Examples
    --------
    >>> json_ready({"a": float("nan"), "b": [1.5, float("inf")], "c": (1, "x")})
    {'a': None, 'b': [1.5, None], 'c': [1, 'x']}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, (str, bool, int)) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    tolist = getattr(obj, "tolist", None)  # NumPy scalars and arrays
    if callable(tolist):
        return json_ready(tolist())
    return obj


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    """Valid JSON text of ``obj``: NaN and infinities are written as ``null``."""
    return json.dumps(json_ready(obj), indent=indent, ensure_ascii=False, allow_nan=False)


def write_json(path: StrPath, obj: Any) -> Path:
    """Write :func:`dumps_json` of ``obj`` (plus a newline) to ``path`` atomically."""
    return write_text(path, dumps_json(obj) + "\n")


def read_json(path: StrPath) -> Any:
    """Parse a UTF-8 JSON file; :class:`InputError` names the file (and line) otherwise."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (offset {exc.start})", path=path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path=path, line=exc.lineno) from None


# ---------------------------------------------------------------------------
# network addresses
# ---------------------------------------------------------------------------


def check_tcp_address(address: str, *, default_port: int, timeout: float = 5.0) -> None:
    """Open (and close) a TCP connection to ``[tcp://|tls://]host:port``.

    Addresses of other protocols (``inproc://``, ``ucx://``, ...) are not
    checked. Raises :class:`InputError` if the address is malformed or nothing
    answers there.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls"):
        return
    rest = rest.rstrip("/")
    if rest.startswith("["):  # [IPv6]:port
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    if not host:
        raise InputError(f"no host in {address!r}")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise InputError(f"bad port {port_text!r} in {address!r}") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"cannot reach {host}:{port} ({reason})") from None
