"""File input and output of the command line (focalentropy._io)."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest

from focalentropy import _io
from focalentropy._io import InputError, OutputError
from focalentropy._minimizer import minimizer, recover


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestNumbers:
    @pytest.mark.parametrize("text", ["1", "-0.5", "+.5", "5.", "1e-3", "2E+4", "nan", "-inf"])
    def test_numbers(self, text):
        assert _io.is_number(text)

    @pytest.mark.parametrize("text", ["", ".", "e5", "cat", "1_000", "0x10", "1,5", "--1"])
    def test_not_numbers(self, text):
        assert not _io.is_number(text)

    def test_parse_numbers(self):
        np.testing.assert_array_equal(_io.parse_numbers("0.7, 0.2;0.1"), [0.7, 0.2, 0.1])
        with pytest.raises(InputError, match="item 1 is 'x'"):
            _io.parse_numbers("1,x")
        with pytest.raises(InputError, match="finite numbers; item 0 is 'inf'"):
            _io.parse_numbers("inf,1")
        with pytest.raises(InputError, match="must be positive; item 1 is '0'"):
            _io.parse_numbers("1,0", positive=True)
        with pytest.raises(InputError, match="empty"):
            _io.parse_numbers(" , ")


class TestReadCounts:
    def test_first_row_is_data_when_its_count_is_a_number(self, tmp_path):
        path = write(tmp_path, "c.csv", "cat,500\ndog,300\nbird,150\nfish,40\nnewt,10\n")
        counts, names = _io.read_counts(path)
        assert names == ["cat", "dog", "bird", "fish", "newt"]
        np.testing.assert_array_equal(counts, [500, 300, 150, 40, 10])

    def test_header_detected_or_declared(self, tmp_path):
        path = write(tmp_path, "c.csv", "class,count\ncat,5\ndog,3\n")
        assert _io.read_counts(path)[1] == ["cat", "dog"]
        assert _io.read_counts(path, header=True)[1] == ["cat", "dog"]
        with pytest.raises(InputError, match=r"c\.csv, line 1: count of 'class' is not a number"):
            _io.read_counts(path, header=False)
        numeric = write(tmp_path, "n.csv", "0,5\n1,3\n2,2\n")
        assert _io.read_counts(numeric, header=True)[1] == ["1", "2"]  # declared: row 1 dropped

    @pytest.mark.parametrize(
        ("text", "counts", "names"),
        [
            ("5\n3\n2\n", [5, 3, 2], None),
            ("count\n5\n3\n", [5, 3], None),
            ("5,3,2\n", [5, 3, 2], None),
            ("5,3\n", [5, 3], None),  # one row of two counts, not one class
            ("a,b,c\n5,3,2\n", [5, 3, 2], ["a", "b", "c"]),
            ("\ufeffcat,5\r\n\r\ndog,3\r\n", [5, 3], ["cat", "dog"]),  # BOM, CRLF, blank line
        ],
    )
    def test_layouts(self, tmp_path, text, counts, names):
        got, got_names = _io.read_counts(write(tmp_path, "c.csv", text))
        np.testing.assert_array_equal(got, counts)
        assert got_names == names

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "no counts found"),
            ("class,count\n", "only a header row"),
            ("cat,5\ndog,x\n", "line 2: count of 'dog' is not a number: 'x'"),
            ("cat,5\ndog,-1\n", "line 2: count of 'dog' must be finite and >= 0, got '-1'"),
            ("5\nnan\n", "line 2: count 1 must be finite"),
            ("cat,5\ndog,3,1\n", "line 2: expected 'class,count' rows"),
            ("a,b,c\n5,3\n", "line 2: the header has 3 fields but the row of counts has 2"),
            ("5,x,3\n", "line 1: count 1 is not a number: 'x'"),
            ("cat,0\ndog,0\n", "the counts sum to 0"),
        ],
    )
    def test_errors_name_the_line(self, tmp_path, text, message):
        with pytest.raises(InputError, match=message):
            _io.read_counts(write(tmp_path, "c.csv", text))

    def test_not_text(self, tmp_path):
        binary = tmp_path / "b.csv"
        binary.write_bytes(b"\x89PNG\x00\x00")
        with pytest.raises(InputError, match="NUL bytes"):
            _io.read_counts(binary)
        latin = tmp_path / "l.csv"
        latin.write_bytes("caf\xe9,5\nthe,3\n".encode("latin-1"))
        with pytest.raises(InputError, match=r"line 1: not UTF-8 text \(byte 0xe9"):
            _io.read_counts(latin)


class TestReadArray:
    def test_header_only_when_no_field_is_a_number(self, tmp_path):
        data = _io.read_array(write(tmp_path, "a.csv", "x,y\n0.5,0.5\n"))
        assert data.header == ["x", "y"]
        assert data.lines == [2]
        with pytest.raises(InputError, match=r"line 1: field 0 is not a number: 'x' \(declare"):
            _io.read_array(write(tmp_path, "b.csv", "x,0.5\n0.5,0.5\n"))
        declared = _io.read_array(write(tmp_path, "c.csv", "x,0.5\n0.5,0.5\n"), header=True)
        assert declared.header == ["x", "0.5"]
        np.testing.assert_array_equal(declared.values, [[0.5, 0.5]])
        with pytest.raises(InputError, match=r"line 1: field 0 is not a number: 'x'$"):
            _io.read_array(write(tmp_path, "d.csv", "x,y\n0.5,0.5\n"), header=False)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("0.5,0.5\n0.5\n", "line 2: expected 2 fields like the first row, got 1"),
            ("0.5,0.5\n0.5,zz\n", "line 2: field 1 is not a number: 'zz'"),
            ("a,b,c\n0.5,0.5\n", "the header has 3 fields but the rows have 2"),
            ("a,b\n", "only a header row"),
            ("", "empty file"),
            ('0.5,"0.5\n', "line 1: malformed CSV"),
        ],
    )
    def test_csv_errors(self, tmp_path, text, message):
        with pytest.raises(InputError, match=message):
            _io.read_array(write(tmp_path, "a.csv", text))

    def test_npy(self, tmp_path):
        np.save(tmp_path / "f32.npy", np.full((2, 4), 0.25, dtype=np.float32))
        assert _io.read_array(tmp_path / "f32.npy").values.dtype == np.float32
        np.save(tmp_path / "int.npy", np.eye(3, dtype=np.int64))
        assert _io.read_array(tmp_path / "int.npy").values.dtype == np.float64

    @pytest.mark.parametrize(
        ("array", "message"),
        [
            (np.array([["0.5", "0.5"]]), "holds <U3 values, not real numbers"),
            (np.array([[0.5, None]], dtype=object), r"holds Python objects \(object dtype\)"),
            (np.array([1 + 1j]), "holds complex128 values"),
        ],
    )
    def test_npy_refused(self, tmp_path, array, message):
        np.save(tmp_path / "x.npy", array, allow_pickle=True)
        with pytest.raises(InputError, match=message):
            _io.read_array(tmp_path / "x.npy")

    def test_bad_files(self, tmp_path):
        (tmp_path / "t.npy").write_bytes(b"\x93NUMPY garbage")
        with pytest.raises(InputError, match=r"t\.npy: not a readable \.npy file"):
            _io.read_array(tmp_path / "t.npy")
        with pytest.raises(InputError, match=r"expected a \.npy or \.csv file, got '\.json'"):
            _io.read_array(write(tmp_path, "a.json", "[]"))


class TestPrecision:
    @pytest.fixture
    def q(self):
        rng = np.random.default_rng(1)
        return minimizer(rng.dirichlet(np.full(10, 0.3), 400), 2.0)

    def test_float32_npy_keeps_its_dtype_and_is_accepted(self, tmp_path, q):
        np.save(tmp_path / "q.npy", q.astype(np.float32))
        values, rescaled = _io.as_probabilities(_io.read_array(tmp_path / "q.npy"))
        assert values.dtype == np.float32
        assert rescaled == 0
        with pytest.raises(ValueError, match="must sum to 1"):  # what the old CLI did
            recover(values.astype(np.float64), 2.0)
        np.testing.assert_allclose(recover(values, 2.0).sum(-1), 1.0, rtol=1e-12)

    @pytest.mark.parametrize("fmt", ["%.6f", "%.6g", "%.4e", "%.9f"])
    def test_csv_rows_within_their_printed_precision(self, tmp_path, q, fmt):
        np.savetxt(tmp_path / "q.csv", q, fmt=fmt, delimiter=",")
        data = _io.read_array(tmp_path / "q.csv")
        values, rescaled = _io.as_probabilities(data)
        assert rescaled > 0
        p = recover(values, 2.0)  # does not raise
        assert np.abs(p - recover(q, 2.0)).max() < 1e-3

    def test_float32_values_written_in_full(self, tmp_path, q):
        q32 = q.astype(np.float32)
        np.savetxt(tmp_path / "q.csv", q32.astype(np.float64), fmt="%.17g", delimiter=",")
        data = _io.read_array(tmp_path / "q.csv")
        assert data.exact_float32
        values, _ = _io.as_probabilities(data)
        assert values.dtype == np.float32
        recover(values, 2.0)

    def test_rows_off_by_more_are_left_alone(self, tmp_path):
        data = _io.read_array(write(tmp_path, "a.csv", "0.500000,0.400000\n0.5,0.5\n"))
        values, rescaled = _io.as_probabilities(data)
        assert rescaled == 0
        np.testing.assert_array_equal(values, [[0.5, 0.4], [0.5, 0.5]])
        with pytest.raises(ValueError, match=r"must sum to 1 along the class axis \(row 0\)"):
            recover(values, 2.0)

    def test_renormalize_and_logits(self, tmp_path):
        data = _io.read_array(write(tmp_path, "a.csv", "2,1,1\n0,0,3\n"))
        values, _ = _io.as_probabilities(data, renormalize=True)
        np.testing.assert_allclose(values, [[0.5, 0.25, 0.25], [0, 0, 1]])
        values, _ = _io.as_probabilities(data, from_logits=True)
        z = np.array([[2.0, 1, 1], [0, 0, 3]])
        np.testing.assert_allclose(values, np.exp(z) / np.exp(z).sum(1, keepdims=True))
        values, _ = _io.as_probabilities(data, from_logits=True, kind="sigmoid")
        np.testing.assert_allclose(values, 1 / (1 + np.exp(-z)))
        zero = _io.read_array(write(tmp_path, "z.csv", "1,1\n0,0\n"))
        with pytest.raises(InputError, match=r"z\.csv, line 2: row 1 sums to 0"):
            _io.as_probabilities(zero, renormalize=True)
        neg = _io.read_array(write(tmp_path, "n.csv", "h1,h2\n1,1\n1,-1\n"))
        with pytest.raises(InputError, match=r"line 3: row 1, column 1 is -1.0"):
            _io.as_probabilities(neg, renormalize=True)

    def test_shape(self, tmp_path):
        np.save(tmp_path / "a.npy", np.zeros((2, 2, 2)))
        with pytest.raises(InputError, match=r"expected an \(n, K\) array.*\(2, 2, 2\)"):
            _io.as_probabilities(_io.read_array(tmp_path / "a.npy"))


class TestOutput:
    def test_check_output_file(self, tmp_path):
        afile = tmp_path / "afile"
        afile.write_text("x")
        assert _io.check_output_file(tmp_path / "new" / "deeper" / "p.npy") is not None
        assert not (tmp_path / "new").exists()  # nothing created
        with pytest.raises(OutputError, match="afile is a file, not a folder"):
            _io.check_output_file(afile / "sub" / "p.npy")
        with pytest.raises(OutputError, match="is a folder"):
            _io.check_output_file(tmp_path)
        with pytest.raises(OutputError, match=r"must end in \.npy or \.csv, got 'p\.txt'"):
            _io.check_output_file(tmp_path / "p.txt", suffixes=(".npy", ".csv"))
        _io.check_output_file(tmp_path / "P.NPY", suffixes=(".npy", ".csv"))
        assert sorted(os.listdir(tmp_path)) == ["afile"]  # the probe left nothing

    def test_check_output_dir(self, tmp_path):
        afile = tmp_path / "afile"
        afile.write_text("x")
        _io.check_output_dir(tmp_path / "a" / "b")
        with pytest.raises(OutputError, match="afile is a file, not a folder"):
            _io.check_output_dir(afile / "sub")
        with pytest.raises(OutputError, match="exists and is not a folder"):
            _io.check_output_dir(afile)

    def test_unwritable_folder(self, tmp_path, monkeypatch):
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)
        with pytest.raises(OutputError, match=r"cannot write in .* \(Permission denied\)"):
            _io.check_output_file(tmp_path / "p.npy")

    @pytest.mark.parametrize("name", ["p.npy", "p.csv"])
    def test_interrupted_write_leaves_the_old_file(self, tmp_path, monkeypatch, name):
        path = tmp_path / name
        path.write_bytes(b"old content")
        os.chmod(path, 0o640)

        def fail_half_way(fh, *args, **kwargs):
            fh.write(b"\x93NUMPY half" if "b" in fh.mode else "0.5,")
            raise OSError(28, "No space left on device")

        class HalfWriter:
            def __init__(self, fh, **kwargs):
                self.fh = fh

            def writerow(self, row):
                fail_half_way(self.fh)

        monkeypatch.setattr(np, "save", fail_half_way)
        monkeypatch.setattr(_io.csv, "writer", HalfWriter)
        with pytest.raises(OSError, match="No space left"):
            _io.write_array(path, np.eye(2))
        assert path.read_bytes() == b"old content"
        assert os.listdir(tmp_path) == [name]  # no temporary file left
        monkeypatch.undo()
        _io.write_array(path, np.eye(2))
        assert path.stat().st_mode & 0o777 == 0o640  # the replaced file's mode is kept

    def test_interrupted_new_file_leaves_nothing(self, tmp_path):
        def interrupted():
            with _io.atomic_write(tmp_path / "new.txt") as fh:
                fh.write("half")
                raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError):
            interrupted()
        assert os.listdir(tmp_path) == []

    def test_write_array_exact_name(self, tmp_path):
        _io.write_array(tmp_path / "X.NPY", np.eye(2))
        assert os.listdir(tmp_path) == ["X.NPY"]
        np.testing.assert_array_equal(np.load(tmp_path / "X.NPY"), np.eye(2))
        _io.write_array(tmp_path / "x.csv", np.array([[0.1, 0.9]]), header=["a", "b"])
        assert (tmp_path / "x.csv").read_text() == "a,b\n0.1,0.9\n"


class TestJson:
    def test_non_finite_is_null(self, tmp_path):
        obj = {"a": np.float64("nan"), "b": np.array([1.0, np.inf]), "c": np.int64(3)}
        text = _io.dumps_json(obj)
        assert json.loads(text) == {"a": None, "b": [1.0, None], "c": 3}
        _io.write_json(tmp_path / "r.json", obj)
        assert _io.read_json(tmp_path / "r.json")["b"] == [1.0, None]

    def test_read_json_errors(self, tmp_path):
        with pytest.raises(InputError, match=r"line 2: not valid JSON"):
            _io.read_json(write(tmp_path, "r.json", '{"a":\n'))
        (tmp_path / "b.json").write_bytes(b"\xff\xfe")
        with pytest.raises(InputError, match="not UTF-8"):
            _io.read_json(tmp_path / "b.json")


class TestTcpAddress:
    def test_refused_and_reachable(self):
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            port = server.getsockname()[1]
            _io.check_tcp_address(f"tcp://127.0.0.1:{port}", default_port=1)
            _io.check_tcp_address(f"127.0.0.1:{port}", default_port=1)
        with pytest.raises(InputError, match=rf"cannot reach 127\.0\.0\.1:{port}"):
            _io.check_tcp_address(f"tcp://127.0.0.1:{port}", default_port=1, timeout=2)
        with pytest.raises(InputError, match="bad port 'x'"):
            _io.check_tcp_address("tcp://host:x", default_port=1)
        _io.check_tcp_address("inproc://whatever", default_port=1)  # not checked
