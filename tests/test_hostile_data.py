"""Hostile data files (issue 13, items 1, 2 and 7): refused in one line, never built.

Every hostile payload is generated here and loaded in a subprocess (``load_dataset``, the
``powergrid run`` command line and ``gym.make``), so a regression that crashes or exhausts
memory cannot take the test process with it; the subprocess also runs under an
address-space limit. Valid pickles of every protocol 2-5 must still load to exactly the
values a (trusted) unpickler gives.
"""

from __future__ import annotations

import gzip
import os
import pickle
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct, scalar
from numpy._core.numeric import _frombuffer

from powergrid import _pickle_reader
from powergrid.data import (
    KINDS,
    MAX_CSV_ROWS,
    TIME_RANGE,
    VALUE_BOUNDS,
    Dataset,
    DatasetError,
    load_dataset,
    series_at_step,
    step_calendar,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PKL = REPO.parent / "shared" / "data" / "seed_data2023-2024.pkl"
ADDRESS_SPACE_LIMIT = 3 * 2**30

LOAD_SCRIPT = """
import resource, sys
from powergrid.data import load_dataset
try:
    ds = load_dataset(sys.argv[1])
except ValueError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
print("loaded", ds.n_steps("train"), ds.n_steps("test"),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

GYM_SCRIPT = """
import sys
import gymnasium as gym
import powergrid
try:
    gym.make("powergrid/IEEE13-v0", dataset_path=sys.argv[1])
except ValueError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
print("made")
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_python(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=_limit_memory, cwd=REPO)


def assert_refused(done: subprocess.CompletedProcess[str], path: Path,
                   *fragments: str) -> str:
    """Exit 2 (not a signal, not a crash), stderr one line naming the file and fragments."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert str(path) in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --------------------------------------------------------------------------------------
# building payloads: pickle.dumps of objects whose __reduce__ names the callable, the
# arguments, the state (BUILD) and the items (SETITEMS) chosen here. Nothing is called.


class Crafted:
    def __init__(self, func: Any, args: tuple[Any, ...], state: Any = None,
                 items: list[tuple[Any, Any]] | None = None) -> None:
        self.func, self.args, self.state, self.items = func, args, state, items

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args, self.state, None,
                iter(self.items) if self.items else None)


def day(value: float = 0.5, n: int = 24) -> np.ndarray:
    return np.full(n, value)


def layout(leaf: Any) -> dict[str, Any]:
    return {"train": {"load": {"a": leaf}}, "test": {"load": {"a": day()}}}


def crafted_dtype(code: str, state: tuple[Any, ...]) -> Crafted:
    return Crafted(np.dtype, (code, False, True), state)


def dumps(payload: Any) -> bytes:
    return pickle.dumps(payload, protocol=5)


def field_far_past_the_buffer() -> bytes:
    # SETITEMS on the array writes 8 bytes 64 MiB past an 8-byte buffer (SIGSEGV before)
    far = crafted_dtype("V8", (3, "|", None, ("a",), {"a": (np.dtype("<i8"), 1 << 26)},
                               8, 1, 16))
    return dumps(layout(Crafted(_frombuffer, (bytearray(8), far, (1,), "C"), None,
                                [("a", 12345)])))


def object_field_without_refcount_flag() -> bytes:
    # an object field whose dtype says it holds no objects: pointers read from the file
    hollow = crafted_dtype("V8", (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 8, 0))
    return dumps(layout(Crafted(_frombuffer, (b"\x41" * 192, hollow, (24,), "C"))))


def negative_offset() -> bytes:
    # a float64 that reads 64 bytes before its buffer (heap contents in the load column)
    before = crafted_dtype("f8", (3, "<", None, ("a",), {"a": (np.dtype("<f8"), -64)},
                                  8, 8, 0))
    return dumps(layout(Crafted(_frombuffer, (b"\0" * 192, before, (24,), "C"))))


def field_write_before_the_buffer() -> bytes:
    # SETITEMS writes through a field 8 bytes before a 1 kB (malloc'd) buffer: over the
    # allocator's chunk header ("free(): invalid size", SIGABRT before)
    before = crafted_dtype("V8", (3, "|", None, ("a",), {"a": (np.dtype("<i8"), -8)},
                                  8, 1, 16))
    return dumps(layout(Crafted(_frombuffer, (bytearray(1024), before, (128,), "C"), None,
                                [("a", 12345)])))


def negative_offset_in_a_full_data_set(n: int = 72) -> bytes:
    # every series the IEEE 13 scenario and env read, the load one with the field that
    # reads before its buffer: loaded, and `powergrid run` ran on it with exit 0, before
    before = crafted_dtype("f8", (3, "<", None, ("a",), {"a": (np.dtype("<f8"), -64)},
                                  8, 8, 0))

    def split() -> dict[str, Any]:
        return {"load": {"mv_urban": Crafted(_frombuffer, (b"\0" * (8 * n), before, (n,),
                                                            "C"))},
                "solar": {"PV1": day(0.2, n), "PV4": day(0.2, n)}, "wind": {"WP1": day(0.3, n)},
                "price": {"synthetic": day(40.0, n)}}

    return dumps({"train": split(), "test": split()})


def flags_on_a_plain_dtype() -> bytes:
    flagged = crafted_dtype("f8", (3, "<", None, None, None, 8, 8, 0x3F))
    return dumps(layout(Crafted(_frombuffer, (b"\0" * 192, flagged, (24,), "C"))))


def subarray_dtype() -> bytes:
    # a 2 GB item size claimed by the state, 192 bytes in the file
    wide = crafted_dtype("f8", (3, "<", (np.dtype("<f8"), (250_000_000,)), None, None,
                                2_000_000_000, 8, 0))
    return dumps(layout(Crafted(_frombuffer, (b"\0" * 192, wide, (1,), "C"))))


def huge_repeat_count() -> bytes:
    # _reconstruct allocates the shape it is given: 250 M steps from a few hundred bytes
    return dumps(layout(Crafted(_reconstruct, (np.ndarray, (250_000_000,), b"b"))))


def shape_larger_than_buffer() -> bytes:
    return dumps(layout(Crafted(_frombuffer, (b"\0" * 8, np.dtype("<f8"), (250_000_000,),
                                              "C"))))


def object_dtype_array() -> bytes:
    return dumps(layout(np.array([b"x"] * 24, dtype=object)))


def scalar_with_crafted_dtype() -> bytes:
    hollow = crafted_dtype("V8", (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 8, 0))
    return dumps(layout([Crafted(scalar, (hollow, b"\x41" * 8))] * 24))


def nested_tuple_key(depth: int = 1_000_000) -> bytes:
    # {((((None,),),) ...): None}, a million levels: hashing it overflowed the C stack
    return (b"\x80\x04}" + b"N" + b"\x85" * depth + b"Ns" + b".")


def nested_dicts(depth: int = 50) -> bytes:
    body = b"}\x8c\x01k" * depth + b"N" + b"s" * depth
    return b"\x80\x04" + b"}" + body + b"."


def memo_flood(count: int = 200_000) -> bytes:
    return b"\x80\x04N" + b"\x94" * count + b"."


def stack_flood(count: int = 200_000) -> bytes:
    return b"\x80\x04" + b"N" * count + b"."


def truncated_length() -> bytes:
    # a bytes object that claims 4 GB
    return b"\x80\x04B" + struct.pack("<I", 0xFFFF_FFFF) + b"\0" * 16


def shared_array_blowup() -> bytes:
    # one 5 M-number array used 11 times: 55 M numbers for a 5 MB file
    shared = np.zeros(5_000_000, dtype=np.int8)
    loads = {f"a{i}": shared for i in range(11)}
    return dumps({"train": {"load": loads}, "test": {"load": loads}})


def shared_dict_blowup() -> bytes:
    # 1,000 keys each holding the same 1,000-key dict: a million entries from 10 kB
    inner = {str(i): None for i in range(1000)}
    return dumps({"train": {str(i): inner for i in range(1000)}, "test": {}})


def self_containing_list() -> bytes:
    # EMPTY_LIST MEMOIZE BINGET 0 APPEND
    return b"\x80\x04]\x94h\x00a."


def list_changed_after_sharing() -> bytes:
    # a list put into a dict, fetched again from the memo and appended to afterwards
    return b"\x80\x04}\x94\x8c\x01a]\x94sh\x01G?\xe0\x00\x00\x00\x00\x00\x00a0."


def os_system() -> bytes:
    return dumps(layout(Crafted(os.system, ("true",))))


def unknown_opcode() -> bytes:
    return b"\x80\x04\xff."


def protocol_0() -> bytes:
    return pickle.dumps(layout(day()), protocol=0)


HOSTILE: dict[str, tuple[Any, list[str]]] = {
    "field far past the buffer": (field_far_past_the_buffer, ["dtype 'V8'"]),
    "object field without refcount flag": (object_field_without_refcount_flag,
                                           ["dtype 'V8'"]),
    "field write before the buffer": (field_write_before_the_buffer, ["dtype 'V8'"]),
    "negative field offset": (negative_offset, ["a tuple as a dict value"]),
    "flags on a plain dtype": (flags_on_a_plain_dtype, ["dtype state", "flags"]),
    "subarray dtype state": (subarray_dtype, ["dtype state", "sizes"]),
    "huge repeat count": (huge_repeat_count, ["_reconstruct", "(ndarray, (0,), b'b')"]),
    "shape larger than buffer": (shape_larger_than_buffer, ["more than 50,000,000 numbers"]),
    "object dtype array": (object_dtype_array, ["dtype 'O8'"]),
    "scalar with crafted dtype": (scalar_with_crafted_dtype, ["dtype 'V8'"]),
    "nested tuple key": (nested_tuple_key, ["nesting deeper than 8 levels"]),
    "nested dicts": (nested_dicts, ["nesting deeper than 8 levels"]),
    "memo flood": (memo_flood, ["more than 100,000 memo entries"]),
    "stack flood": (stack_flood, ["more than 100,000 values on the pickle stack"]),
    "truncated length": (truncated_length, ["truncated"]),
    "shared array blow-up": (shared_array_blowup, ["more than 50,000,000 numbers"]),
    "shared dict blow-up": (shared_dict_blowup, ["more than 100,000 dict entries"]),
    "self-containing list": (self_containing_list, ["APPEND to a list already used"]),
    "list changed after sharing": (list_changed_after_sharing,
                                   ["APPEND to a list already used"]),
    "os.system": (os_system, ["refused to unpickle global", "(os.system)"]),
    "unknown opcode": (unknown_opcode, ["unknown opcode byte 0xff"]),
    "protocol 0": (protocol_0, ["unsupported pickle opcode", "protocols 0 and 1"]),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_pickle_is_refused_before_anything_is_built(tmp_path: Path, case: str):
    build, fragments = HOSTILE[case]
    data = build()
    path = tmp_path / "hostile.pkl"
    path.write_bytes(data)
    done = run_python("-c", LOAD_SCRIPT, str(path))
    line = assert_refused(done, path, "not a classic data set pickle", "at byte",
                          "nothing from the file was run", *fragments)
    offset = int(line.split("at byte ")[1].split(" ")[0])
    assert 0 <= offset < len(data)


def test_the_issue_payload_sizes_are_small():
    # the attacks are cheap for the attacker: all of these are a few hundred bytes
    for build in (field_far_past_the_buffer, negative_offset, huge_repeat_count,
                  flags_on_a_plain_dtype, subarray_dtype):
        assert len(build()) < 1000, build.__name__
    assert len(nested_tuple_key()) < 1_100_000


@pytest.mark.parametrize("build", [field_far_past_the_buffer,
                                   negative_offset_in_a_full_data_set, huge_repeat_count,
                                   nested_tuple_key],
                         ids=lambda b: b.__name__)
def test_the_command_line_refuses_in_one_line_and_writes_nothing(tmp_path: Path, build: Any):
    path = tmp_path / "hostile.pkl"
    path.write_bytes(build())
    out = tmp_path / "run"
    done = run_python("-m", "powergrid.cli", "run", "ieee13", "--dataset", str(path),
                      "--steps", "24", "--out", str(out), "--quiet", timeout=300)
    line = assert_refused(done, path, "not a classic data set pickle", "at byte")
    assert line.startswith("powergrid: error: ")
    assert done.stdout == ""
    written = sorted(p.name for p in out.rglob("*") if p.is_file()) if out.exists() else []
    assert not written, written


@pytest.mark.parametrize("build, fragment", [
    (field_far_past_the_buffer, "dtype 'V8'"),
    # before: made the env with memory outside the buffer as the load series
    (negative_offset_in_a_full_data_set, "a tuple as a dict value"),
], ids=["field_far_past_the_buffer", "negative_offset_in_a_full_data_set"])
def test_gym_make_refuses_in_one_line(tmp_path: Path, build: Any, fragment: str):
    path = tmp_path / "hostile.pkl"
    path.write_bytes(build())
    done = run_python("-c", GYM_SCRIPT, str(path), timeout=300)
    assert_refused(done, path, "not a classic data set pickle", fragment)
    assert "made" not in done.stdout


def test_reader_limits_are_as_documented():
    assert _pickle_reader.MAX_FILE_BYTES == 512 * 2**20
    assert _pickle_reader.MAX_DEPTH == 8 and _pickle_reader.MAX_NUMBERS == 50_000_000


def test_oversized_pickle_file_is_refused_before_reading(tmp_path: Path):
    path = tmp_path / "big.pkl"
    with open(path, "wb") as handle:  # sparse: no disk used
        handle.truncate(_pickle_reader.MAX_FILE_BYTES + 1)
    with pytest.raises(DatasetError, match="more than the 512 MiB limit"):
        load_dataset(path)


# --------------------------------------------------------------------------------------
# valid pickles: every protocol, the dtypes pickle writes, the same values as unpickling


class _TrustedUnpickler(pickle.Unpickler):
    """Only for files made in this test (or the read-only example): the reference."""

    def find_class(self, module: str, name: str) -> Any:
        assert module.startswith(("numpy", "_codecs", "collections")), (module, name)
        return super().find_class(module, name)


def reference(data: bytes) -> Any:
    import io
    import warnings

    with warnings.catch_warnings():  # numpy.core in files written by numpy 1.x
        warnings.simplefilter("ignore", DeprecationWarning)
        return _TrustedUnpickler(io.BytesIO(data)).load()


def valid_layout() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    from collections import OrderedDict

    def split(n: int) -> dict[str, Any]:
        return {
            "load": OrderedDict(
                f64=rng.random(n),
                f32=rng.random(n).astype(np.float32),
                big=rng.random(n).astype(">f8"),
                scalars=list(rng.random(n)),
                floats=[float(x) for x in rng.random(n)],
                ints=list(range(n)),
            ),
            "solar": {"i8": np.arange(n, dtype=np.int64), "i4": np.arange(n, dtype=">i4"),
                      "strided": rng.random(2 * n)[::2]},
            "wind": {"u1": np.arange(n, dtype=np.uint8), "i2": np.arange(n, dtype=np.int16)},
            "price": {"p": rng.normal(50, 20, n)},
        }

    return {"train": split(48), "test": split(24)}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_valid_pickles_load_to_the_unpickled_values(tmp_path: Path, protocol: int):
    payload = valid_layout()
    data = pickle.dumps(payload, protocol=protocol)
    path = tmp_path / f"ok{protocol}.pkl"
    path.write_bytes(data)
    ds = load_dataset(path)
    expected = reference(data)
    for split in ("train", "test"):
        for kind in KINDS:
            assert ds.names(kind) == tuple(expected[split][kind])
            for name, values in expected[split][kind].items():
                got = ds.series(kind, name, split)
                assert got.dtype == np.float64 and not got.flags.writeable
                np.testing.assert_array_equal(got, np.asarray(values, dtype=np.float64))


def test_a_shared_split_dict_loads(tmp_path: Path):
    series = {"load": {"a": day(), "b": [0.25] * 24}}
    path = tmp_path / "shared.pkl"
    path.write_bytes(pickle.dumps({"train": series, "test": series}))
    ds = load_dataset(path)
    np.testing.assert_array_equal(ds.series("load", "b", "test"), np.full(24, 0.25))


@pytest.mark.skipif(not EXAMPLE_PKL.is_file(), reason=f"{EXAMPLE_PKL} not present")
def test_example_pickle_loads_to_the_same_values_as_unpickling():
    data = EXAMPLE_PKL.read_bytes()
    expected = reference(data)
    ds = load_dataset(EXAMPLE_PKL)
    assert set(expected) == {"train", "test"}
    count = 0
    for split in ("train", "test"):
        for kind in KINDS:
            assert ds.names(kind) == tuple(expected[split].get(kind, {}))
            for name, values in expected[split].get(kind, {}).items():
                np.testing.assert_array_equal(ds.series(kind, name, split),
                                              np.asarray(values).astype(np.float64))
                count += 1
    assert count == 84


# --------------------------------------------------------------------------------------
# CSV (item 7)


def hourly_csv(path: Path, n: int = 48, header: str = "time_utc,load:A,solar:S,price:P",
               start: str = "2023-03-01T00:00:00", edits: dict[int, str] | None = None,
               scale: float = 1.0) -> Path:
    times = np.datetime64(start, "s") + np.arange(n) * np.timedelta64(3600, "s")
    rows = [f"{t}Z,{scale * (0.5 + 0.01 * (i % 10)):.2f},{i % 7 * 0.1:.1f},{40 + i % 5}"
            for i, t in enumerate(times)]
    for index, row in (edits or {}).items():
        rows[index] = row
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("cell, column", [("0.\x0075", "'load:A'"), ("12\x00345", "'price:P'")])
def test_nul_inside_a_number_is_refused(tmp_path: Path, cell: str, column: str):
    row = f"2023-03-01T05:00:00Z,{cell},0.1,40" if "load" in column else \
        f"2023-03-01T05:00:00Z,0.5,0.1,{cell}"
    path = hourly_csv(tmp_path / "nul.csv", edits={5: row})
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "\n" not in message and column in message and "NUL" in message
    assert "line 7" in message
    gz = tmp_path / "nul.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(DatasetError, match=f"{column}: NUL byte inside a value at line 7"):
        load_dataset(gz)


def test_nul_far_into_the_file_names_the_right_line(tmp_path: Path):
    n = 250_000  # beyond the first chunk of rows
    path = hourly_csv(tmp_path / "nul.csv", n=n,
                      edits={n - 10: "2052-08-20T14:00:00Z,0.5,0.\x001,40"})
    with pytest.raises(DatasetError, match=rf"'solar:S': NUL byte inside a value at line "
                                           rf"{n - 8}\b"):
        load_dataset(path)


def test_nul_in_the_header_is_refused(tmp_path: Path):
    path = hourly_csv(tmp_path / "nul.csv", header="time_utc,load:A\x00,solar:S,price:P")
    with pytest.raises(DatasetError, match="NUL byte in the header line"):
        load_dataset(path)


@pytest.mark.parametrize("start", ["1500-01-01T00:00:00", "9999-01-01T00:00:00",
                                   "1899-12-31T00:00:00", "2200-01-01T00:00:00"])
def test_times_out_of_range_say_so(tmp_path: Path, start: str):
    path = hourly_csv(tmp_path / "old.csv", start=start)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "out of the supported range" in message and "not an ISO 8601" not in message
    assert TIME_RANGE[0] in message and TIME_RANGE[1] in message and "line 2" in message


def test_times_not_iso_still_say_so(tmp_path: Path):
    path = hourly_csv(tmp_path / "t.csv", edits={3: "03/01/2023 03:00,0.5,0.1,40"})
    with pytest.raises(DatasetError, match="'03/01/2023 03:00' at line 5 is not an ISO 8601"):
        load_dataset(path)


@pytest.mark.parametrize("column, value", [
    ("price:P", "1e308"), ("price:P", "-100001"), ("load:A", "1000"), ("solar:S", "-101"),
])
def test_values_out_of_bounds_are_refused(tmp_path: Path, column: str, value: str):
    cells = {"load:A": "0.5", "solar:S": "0.1", "price:P": "40"} | {column: value}
    row = "2023-03-01T09:00:00Z," + ",".join(cells[c] for c in ("load:A", "solar:S", "price:P"))
    path = hourly_csv(tmp_path / "big.csv", edits={9: row})
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert f"'{column}'" in message and "line 11" in message and "bounds" in message
    assert f"{float(value):g}" in message


def test_values_at_the_bounds_load(tmp_path: Path):
    low, high = VALUE_BOUNDS["price"]
    path = hourly_csv(tmp_path / "edge.csv", edits={
        1: f"2023-03-01T01:00:00Z,60,0.1,{high:g}", 2: f"2023-03-01T02:00:00Z,-1.6,0,{low:g}",
    })
    ds = load_dataset(path)
    assert ds.series("price", "P").max() == high and ds.series("load", "A").max() == 60


def test_pickle_and_dict_values_are_bounded_too(tmp_path: Path):
    data = {"train": {"load": {"a": day()}, "price": {"p": day(1e308)}},
            "test": {"load": {"a": day()}, "price": {"p": day()}}}
    with pytest.raises(DatasetError, match=r"train/price/p: value 1e\+308 at index 0 .*bounds"):
        Dataset.from_dict(data)
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError, match="price bounds"):
        load_dataset(path)


def test_too_many_rows_are_refused_early_with_bounded_memory(tmp_path: Path):
    # 20 M identical rows, 1.4 MB of gzip: refused after MAX_CSV_ROWS rows, in chunks
    path = tmp_path / "rows.csv.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"2023-01-01T00:00:00Z,0.5,0.1\n" * 100_000
    with open(path, "wb") as handle:
        handle.write(compressor.compress(b"time_utc,load:A,solar:S\n"))
        for _ in range(200):
            handle.write(compressor.compress(block))
        handle.write(compressor.flush())
    assert path.stat().st_size < 3_000_000
    started = time.monotonic()
    done = run_python("-c", LOAD_SCRIPT, str(path), timeout=300)
    assert_refused(done, path, f"more than {MAX_CSV_ROWS:,} data rows",
                   f"refused at line {MAX_CSV_ROWS + 2}")
    assert time.monotonic() - started < 120


MEMORY_SCRIPT = """
import sys
import numpy, pandas, powergrid.data

def peak_kib():  # VmHWM: this program's own peak (ru_maxrss keeps the forking parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

base = peak_kib()
ds = powergrid.data.load_dataset(sys.argv[1])
print("loaded", ds.n_steps("train"), ds.n_steps("test"), peak_kib() - base)
"""


def test_csv_memory_stays_bounded(tmp_path: Path):
    # a valid 1 M-row file (30 MB of text): the reader keeps float64 columns, not the
    # text frame. Measured growth of the peak RSS: 93 MB in chunks, 211 MB (7x the
    # text) when the file was read whole
    path = tmp_path / "big.csv.gz"
    n = 1_000_000
    times = (np.datetime64("2020-01-01T00:00:00", "s") + np.arange(n) * 60).astype(str)
    text = "time_utc,load:A,solar:S\n" + "".join(f"{t}Z,0.5,0.25\n" for t in times)
    path.write_bytes(gzip.compress(text.encode(), 1))
    done = run_python("-c", MEMORY_SCRIPT, str(path), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    words = done.stdout.split()
    assert words[0] == "loaded" and int(words[1]) + int(words[2]) == n
    grown = int(words[3]) * 1024
    assert grown < 5 * len(text), f"{grown / 1e6:.0f} MB for {len(text) / 1e6:.0f} MB of text"


def test_a_rewritten_file_is_read_afresh(tmp_path: Path):
    path = hourly_csv(tmp_path / "d.csv", n=72)
    first = series_at_step("load:A", "train", 1.0, str(path)).copy()
    hours = step_calendar("train", 1.0, str(path))[0].copy()
    assert load_dataset(path).series("load", "A")[0] == first[0]
    # same size, immediately: a new start hour and doubled loads
    hourly_csv(path, n=72, start="2023-03-01T05:00:00", scale=1.5)
    second = series_at_step("load:A", "train", 1.0, str(path))
    assert (first[0], second[0]) == (0.5, 0.75) and len(first) == len(second) == 48
    assert step_calendar("train", 1.0, str(path))[0][0] == (hours[0] + 5) % 24
    np.testing.assert_array_equal(load_dataset(path).series("load", "A"), second)


def test_a_rewrite_with_the_same_size_and_mtime_is_seen(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("powergrid.data._RACY_WINDOW_NS", 0)  # the stat key alone decides
    path = hourly_csv(tmp_path / "d.csv", n=72)
    old = time.time_ns() - 3600 * 10**9
    os.utime(path, ns=(old, old))
    first = series_at_step("load:A", "train", 1.0, str(path)).copy()
    hourly_csv(path, n=72, scale=1.5)
    os.utime(path, ns=(old, old))  # size and mtime as before; ctime has moved
    second = series_at_step("load:A", "train", 1.0, str(path))
    assert not np.array_equal(first, second)
