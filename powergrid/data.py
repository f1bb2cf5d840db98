"""Exogenous time series for the simulations: load, solar, wind and price.

A :class:`Dataset` holds one ``train`` and one ``test`` split, each a mapping
``kind -> name -> 1-D float64 array``, all series of a split of equal length and sampled
every :attr:`Dataset.step_h` hours. Units:

* ``load``  -- per-unit of the load's rating (peak): multiply by the element's ``p_mw``.
* ``solar``, ``wind`` -- per-unit of the plant's installed capacity (rating).
* ``price`` -- electricity price in $/MWh.

:func:`load_dataset` reads the shipped default data (``data/powergrid_default.csv.gz``,
SimBench profiles plus a synthetic price, 15-minute steps) or a user file in one of two
layouts:

* **CSV** (plain or ``.gz``): a ``time_utc`` column (ISO 8601, e.g.
  ``2023-01-01T08:00:00Z``; time stamps without an offset are taken as UTC), then
  ``load:<name>``, ``solar:<name>``, ``wind:<name>``, ``price:<name>`` columns, and an
  optional ``split`` column (``train``/``test``). Rows must be evenly spaced; the step must
  divide a day. Without a ``split`` column the split is made by :func:`auto_split`.
* **Classic pickle** (``.pkl``/``.pickle``): ``{"train"|"test": {"load"|"solar"|"wind"|"price":
  {name: array}}}``, hourly. The file is never unpickled: :mod:`powergrid._pickle_reader`
  parses the opcode stream itself and builds only dicts, lists of numbers, strings,
  numbers and numpy arrays rebuilt from raw bytes with a plain numeric dtype of its own
  choosing; any other global (such as ``os.system``), opcode or crafted numpy state is
  refused, naming the byte offset, before anything is built.

Both layouts are read with bounds, checked while reading so that a small file cannot
make a large data set: at most :data:`MAX_VALUES` numbers, :data:`MAX_CSV_ROWS` CSV rows,
:data:`MAX_CSV_TEXT_BYTES` of CSV text, pickles of at most
:data:`~powergrid._pickle_reader.MAX_FILE_BYTES`; time stamps in :data:`TIME_RANGE`;
values inside :data:`VALUE_BOUNDS` per kind; a NUL byte anywhere in a CSV file is refused
(pandas would silently end a number there).

Every input mistake raises :class:`DatasetError` (a ``ValueError``) with a one-line message
naming the file and the offending column, series, row or value.

:func:`resample` converts a series between step lengths; it is the one place where feeds
resample. pandas is imported only while a CSV file is read; a :class:`Dataset` holds plain
numpy arrays (read-only), so nothing in a simulation step touches pandas.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import hashlib
import io
import math
import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from powergrid._pickle_reader import (
    MAX_FILE_BYTES as MAX_PICKLE_BYTES,
)
from powergrid._pickle_reader import (
    MAX_NUMBERS,
    NumberList,
    PickleRefusedError,
    read_classic_pickle,
)

__all__ = [
    "DEFAULT_DATASET_PATH",
    "KINDS",
    "SPLITS",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "auto_split",
    "load_dataset",
    "resample",
]

KINDS: tuple[str, ...] = ("load", "solar", "wind", "price")
SPLITS: tuple[str, ...] = ("train", "test")
#: The shipped default data set (built by data/build_dataset.py).
DEFAULT_DATASET_PATH = Path(__file__).resolve().parents[1] / "data" / "powergrid_default.csv.gz"
#: Hours per row of the classic pickle layout.
PICKLE_STEP_H = 1.0
#: Share of whole days used as test data by the fallback split rule.
TEST_FRACTION = 0.2
TIME_COLUMN = "time_utc"
SPLIT_COLUMN = "split"

#: Most numbers (rows x series, both splits) in a data set of either layout: 400 MB as
#: float64, e.g. ten years of 1-minute data for nine series.
MAX_VALUES = MAX_NUMBERS
#: Most data rows of a CSV file: ten years of 1-minute rows (10 x 366 x 1440).
MAX_CSV_ROWS = 10 * 366 * 1440
#: Most columns of a CSV file.
MAX_CSV_COLUMNS = 10_000
#: Most bytes of CSV text (after gzip); also the largest CSV file read.
MAX_CSV_TEXT_BYTES = 2**30
#: Longest CSV line in bytes.
MAX_CSV_LINE_BYTES = 2**20
#: Supported time stamps, UTC, ``[first, end)``: well inside numpy's and pandas'
#: nanosecond range (1677-2262), and every plausible power-system data set.
TIME_RANGE: tuple[str, str] = ("1900-01-01T00:00:00Z", "2200-01-01T00:00:00Z")
#: ``[low, high]`` of every value, per kind. Profiles are per-unit of a rating: 100 times
#: the rating is beyond any physical overload (the fault tests use 60 p.u. to force a
#: diverging power flow) and a larger number is a unit mistake (kW or W written as
#: per-unit). Prices in $/MWh: 10^5 is 20 times the highest market price caps (ERCOT,
#: EU day-ahead, NEM); a 1e308 price would turn costs into inf. Within these bounds every
#: cost and power of a run stays finite.
VALUE_BOUNDS: dict[str, tuple[float, float]] = {
    "load": (-100.0, 100.0),
    "solar": (-100.0, 100.0),
    "wind": (-100.0, 100.0),
    "price": (-1e5, 1e5),
}
_VALUE_UNITS = {"load": "p.u.", "solar": "p.u.", "wind": "p.u.", "price": "$/MWh"}

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PICKLE_SUFFIXES = (".pkl", ".pickle")
_SECONDS_PER_DAY = 86_400
_CSV_CHUNK_ROWS = 100_000
_READ_BLOCK = 256 * 1024
#: A file changed this recently may change again within one tick of the file system's
#: clock (a few ms on Linux, 1-2 s on ext3, HFS+ or FAT) without a visible stat change: its
#: cache key adds a content hash. Hashing stops once the window has passed, so the cost
#: is bounded by the window even for callers that ask every step.
_RACY_WINDOW_NS = 3 * 10**9


class DatasetError(ValueError):
    """A data-set file or mapping that cannot be used; the message names the culprit."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The data-set file does not exist (both a ``ValueError`` and a ``FileNotFoundError``)."""


Series = dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train and test series of load, solar, wind and price.

    Attributes:
        step_h: hours per row (0.25 for 15-minute data, 1.0 for hourly data).
        train, test: ``{kind: {name: array}}`` for every kind in :data:`KINDS` (a kind may
            map to an empty dict). Arrays are 1-D, float64, read-only and of equal length
            within a split. load per-unit of rating, solar/wind per-unit of installed
            capacity, price in $/MWh.
        train_time_utc, test_time_utc: ``datetime64[s]`` time stamps (UTC, naive) of each
            row, or ``None`` when the source has none (pickle layout).
        source: where the data came from (a path, or a short description).
        split_rule: how the rows were divided into train and test.
    """

    step_h: float
    train: Series
    test: Series
    train_time_utc: np.ndarray | None = None
    test_time_utc: np.ndarray | None = None
    source: str = ""
    split_rule: str = ""
    _names: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", {k: tuple(self.train.get(k, {})) for k in KINDS})

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], step_h: float = PICKLE_STEP_H, source: str = "<dict>"
    ) -> Dataset:
        """Validate ``{"train"|"test": {kind: {name: array}}}`` and build a Dataset (values
        finite and inside :data:`VALUE_BOUNDS`)."""
        return _dataset_from_mapping(data, step_h, source)

    @property
    def steps_per_day(self) -> int:
        """Rows per day (96 for 15-minute data, 24 for hourly data)."""
        return round(24.0 / self.step_h)

    def names(self, kind: str) -> tuple[str, ...]:
        """Series names of ``kind`` (``load``, ``solar``, ``wind`` or ``price``), file order."""
        _check_kind(kind)
        return self._names[kind]

    def data(self, split: str = "train") -> Series:
        """The ``{kind: {name: array}}`` mapping of ``split`` (``train`` or ``test``)."""
        if split == "train":
            return self.train
        if split == "test":
            return self.test
        raise DatasetError(f"unknown split {split!r} (expected 'train' or 'test')")

    def series(self, kind: str, name: str, split: str = "train") -> np.ndarray:
        """One series (read-only float64 array, units as in the class docstring)."""
        _check_kind(kind)
        by_name = self.data(split)[kind]
        if name not in by_name:
            raise DatasetError(
                f"no {kind} series {name!r} in {self.source or 'the data set'} "
                f"(available: {', '.join(self._names[kind]) or 'none'})"
            )
        return by_name[name]

    def n_steps(self, split: str = "train") -> int:
        """Number of rows of ``split``."""
        return len(next(iter(self.data(split)["load"].values())))

    def time_utc(self, split: str = "train") -> np.ndarray | None:
        """``datetime64[s]`` UTC time stamps of ``split``, or ``None`` if unknown."""
        self.data(split)
        return self.train_time_utc if split == "train" else self.test_time_utc

    def contiguous_ranges(self, split: str = "train") -> list[tuple[int, int]]:
        """``[start, stop)`` row ranges of ``split`` without a gap in time.

        A split made from a ``split`` column may consist of several blocks (the shipped
        default uses 7-day blocks); an episode that must not jump in time should start and
        end inside one range. Without time stamps the whole split is one range.
        """
        n = self.n_steps(split)
        times = self.time_utc(split)
        if times is None or n < 2:
            return [(0, n)]
        step_s = round(self.step_h * 3600)
        gaps = np.flatnonzero(np.diff(times.astype(np.int64)) != step_s) + 1
        bounds = [0, *gaps.tolist(), n]
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={list(self._names[k])}" for k in KINDS)
        return (
            f"Dataset(source={self.source!r}, step_h={self.step_h}, "
            f"train={self.n_steps('train')} steps, test={self.n_steps('test')} steps, {kinds})"
        )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise DatasetError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")


# --------------------------------------------------------------------------------------
# load_dataset


def load_dataset(path: str | os.PathLike[str] | None = None) -> Dataset:
    """Read a data set; ``None`` reads the shipped default (15-minute SimBench profiles).

    Accepts the CSV layout (``.csv``, ``.csv.gz``) and the classic pickle layout (``.pkl``,
    ``.pickle``), see the module docstring. Results are cached per file version (see
    :func:`_dataset_key`); the arrays are read-only and shared, the dicts are fresh copies.

    Raises:
        DatasetNotFoundError: the file does not exist.
        DatasetError: anything else wrong with the file (a ``ValueError``).
    """
    cached = _load_cached(_dataset_key(path))
    return Dataset(
        step_h=cached.step_h,
        train={k: dict(v) for k, v in cached.train.items()},
        test={k: dict(v) for k, v in cached.test.items()},
        train_time_utc=cached.train_time_utc,
        test_time_utc=cached.test_time_utc,
        source=cached.source,
        split_rule=cached.split_rule,
    )


def _resolve(path: str | os.PathLike[str] | None) -> Path:
    if path is None:
        resolved = DEFAULT_DATASET_PATH
        if not resolved.is_file():
            raise DatasetNotFoundError(
                f"the default data set {resolved} is missing; rebuild it with "
                "'python data/build_dataset.py' (needs pip install -e '.[build-data]') "
                "or pass a dataset path"
            )
        return resolved
    resolved = Path(os.fspath(path)).expanduser()
    if not resolved.exists():
        raise DatasetNotFoundError(f"data set file {resolved} does not exist")
    if not resolved.is_file():
        raise DatasetError(f"data set path {resolved} is not a file")
    return resolved.resolve()


_DatasetKey = tuple[str, int, int, int, int, int, str]


def _dataset_key(path: str | os.PathLike[str] | None) -> _DatasetKey:
    """Identity of one version of a data file: the cache key of everything read from it.

    ``(path, device, inode, size, mtime_ns, ctime_ns, digest)``. Rewriting a file changes
    its inode (write-and-rename) or its mtime and ctime (in place). A file changed within
    :data:`_RACY_WINDOW_NS` of now could be changed again inside one tick of the file
    system's clock without a visible stat change, so its key also holds a BLAKE2 hash of
    the content. Files above the size limits are refused here, before anything is read.
    """
    resolved = _resolve(path)
    text = str(resolved)
    stat = resolved.stat()
    limit = MAX_PICKLE_BYTES if text.lower().endswith(_PICKLE_SUFFIXES) else MAX_CSV_TEXT_BYTES
    if stat.st_size > limit:
        raise DatasetError(
            f"{resolved}: {stat.st_size:,} bytes, more than the {limit // 2**20:,} MiB "
            "limit for a data set file"
        )
    digest = ""
    now = time.time_ns()
    if min(abs(now - stat.st_mtime_ns), abs(now - stat.st_ctime_ns)) < _RACY_WINDOW_NS:
        digest = _file_digest(resolved)
    return (text, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns,
            stat.st_ctime_ns, digest)


def _file_digest(path: Path) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                hasher.update(block)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({_one_line(exc)})") from None
    return hasher.hexdigest()


@functools.lru_cache(maxsize=8)
def _load_cached(key: _DatasetKey) -> Dataset:
    path = key[0]
    lowered = path.lower()
    if lowered.endswith(_CSV_SUFFIXES):
        return _read_csv(Path(path))
    if lowered.endswith(_PICKLE_SUFFIXES):
        return _read_pickle(Path(path))
    raise DatasetError(
        f"{path}: unknown data set extension (expected one of "
        f"{', '.join(_CSV_SUFFIXES + _PICKLE_SUFFIXES)})"
    )


# --------------------------------------------------------------------------------------
# CSV layout


class _CsvLimitError(Exception):
    """Raised by :class:`_BoundedStream`: a NUL byte, or a size bound passed."""

    def __init__(self, what: str, line: int, column: int | None = None) -> None:
        super().__init__(what)
        self.what, self.line, self.column = what, line, column


class _BoundedStream(io.RawIOBase):
    """The bytes of a CSV file (gzip undone), refused at the first NUL byte, at a line
    longer than :data:`MAX_CSV_LINE_BYTES` and after :data:`MAX_CSV_TEXT_BYTES`.

    pandas' parser ends a number at a NUL byte (``0.<NUL>75`` reads as 0.0), so NUL must
    never reach it; the error names the line and the column index of the NUL.
    """

    _PREFIX_CAP = 64 * 1024

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw
        self._total = 0
        self._line = 1  # the line the next byte belongs to
        self._line_bytes = 0
        self._prefix = b""  # the start of the current line (capped), to find a column

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(min(len(buffer), _READ_BLOCK))
        if not data:
            return 0
        self._check(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()

    def _check(self, data: bytes) -> None:
        self._total += len(data)
        if self._total > MAX_CSV_TEXT_BYTES:
            raise _CsvLimitError(
                f"more than {MAX_CSV_TEXT_BYTES // 2**20:,} MiB of text", self._line
            )
        nul = data.find(b"\0")
        if nul >= 0:
            head = data[:nul]
            cut = head.rfind(b"\n")
            prefix = head[cut + 1 :] if cut >= 0 else self._prefix + head
            fields = next(csv.reader([prefix.decode("utf-8", "replace")]), [])
            raise _CsvLimitError("NUL byte", self._line + head.count(b"\n"),
                                 max(len(fields) - 1, 0))
        cut = data.rfind(b"\n")
        if cut >= 0:
            self._line += data.count(b"\n")
            self._prefix = data[cut + 1 : cut + 1 + self._PREFIX_CAP]
            self._line_bytes = len(data) - cut - 1
        else:
            if len(self._prefix) < self._PREFIX_CAP:
                self._prefix += data[: self._PREFIX_CAP - len(self._prefix)]
            self._line_bytes += len(data)
        if self._line_bytes > MAX_CSV_LINE_BYTES:
            raise _CsvLimitError(
                f"a line longer than {MAX_CSV_LINE_BYTES // 2**20:,} MiB", self._line
            )


def _open_text(path: Path) -> io.TextIOBase:
    gz = path.name.lower().endswith(".gz")
    raw: Any = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
    stream = _BoundedStream(raw)
    return io.TextIOWrapper(
        io.BufferedReader(stream, _READ_BLOCK), encoding="utf-8-sig", newline=""
    )


def _limit_message(path: Path, exc: _CsvLimitError, header: list[str]) -> str:
    if exc.column is None:
        return f"{path}: refused at line {exc.line}: {exc.what}"
    column = header[exc.column] if exc.column < len(header) else f"field {exc.column + 1}"
    return (
        f"{path}: column {column!r}: NUL byte inside a value at line {exc.line} (a NUL "
        "would silently cut the number short)"
    )


def _read_header(path: Path) -> list[str]:
    gz = path.name.lower().endswith(".gz")
    head = b""
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as raw:
            while b"\n" not in head and len(head) <= MAX_CSV_LINE_BYTES:
                block = raw.read(_READ_BLOCK)
                if not block:
                    break
                head += block
        line = head.split(b"\n", 1)[0]
        if len(line) > MAX_CSV_LINE_BYTES:
            raise DatasetError(
                f"{path}: header line longer than {MAX_CSV_LINE_BYTES // 2**20:,} MiB"
            )
        if b"\0" in line:
            raise DatasetError(f"{path}: NUL byte in the header line")
        first = next(csv.reader([line.decode("utf-8-sig")]), None)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read as CSV text ({_one_line(exc)})") from None
    if not first:
        raise DatasetError(f"{path}: empty file (expected a header line starting with time_utc)")
    return [cell.strip() for cell in first]


def _check_header(header: list[str], path: Path) -> None:
    if TIME_COLUMN not in header:
        shown = ", ".join(repr(c) for c in header[:6]) + (", ..." if len(header) > 6 else "")
        raise DatasetError(f"{path}: no {TIME_COLUMN!r} column (header has {shown})")
    if len(header) > MAX_CSV_COLUMNS:
        raise DatasetError(f"{path}: {len(header):,} columns, more than {MAX_CSV_COLUMNS:,}")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DatasetError(f"{path}: duplicate column {column!r}")
        seen.add(column)
        if column in (TIME_COLUMN, SPLIT_COLUMN):
            continue
        kind, sep, name = column.partition(":")
        if not sep or kind not in KINDS:
            raise DatasetError(
                f"{path}: column {column!r} has no recognised kind prefix (expected "
                f"{', '.join(k + ':<name>' for k in KINDS)}, {TIME_COLUMN} or {SPLIT_COLUMN})"
            )
        if not name.strip():
            raise DatasetError(f"{path}: column {column!r} has an empty name after {kind}:")
    if not any(c.startswith("load:") for c in header):
        raise DatasetError(f"{path}: no load column (need at least one 'load:<name>' column)")


def _csv_chunks(path: Path, header: list[str], pd: Any) -> Any:
    """pandas frames of at most :data:`_CSV_CHUNK_ROWS` rows; every read error one line."""
    parse_errors = (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        OSError,
        EOFError,
        zlib.error,
        UnicodeDecodeError,
        ValueError,
    )
    try:
        handle = _open_text(path)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read as CSV text ({_one_line(exc)})") from None
    with handle:
        try:
            reader = pd.read_csv(
                handle,
                header=0,
                names=header,
                dtype={TIME_COLUMN: str, SPLIT_COLUMN: str},
                skip_blank_lines=False,
                chunksize=_CSV_CHUNK_ROWS,
            )
            with reader:
                while True:
                    try:
                        chunk = next(reader)
                    except StopIteration:
                        return
                    yield chunk
        except _CsvLimitError as exc:
            raise DatasetError(_limit_message(path, exc, header)) from None
        except parse_errors as exc:
            if isinstance(exc, DatasetError):
                raise
            raise DatasetError(f"{path}: cannot parse CSV ({_one_line(exc)})") from None


def _read_csv(path: Path) -> Dataset:
    import pandas as pd  # only while loading

    header = _read_header(path)
    _check_header(header, path)
    value_columns = [c for c in header if c not in (TIME_COLUMN, SPLIT_COLUMN)]
    max_rows = min(MAX_CSV_ROWS, MAX_VALUES // len(value_columns))
    times_parts: list[np.ndarray] = []
    test_parts: list[np.ndarray] = []
    value_parts: dict[str, list[np.ndarray]] = {c: [] for c in value_columns}
    n_rows = 0
    for frame in _csv_chunks(path, header, pd):
        first_row = n_rows
        n_rows += len(frame)
        if n_rows > max_rows:
            raise DatasetError(
                f"{path}: more than {max_rows:,} data rows (refused at line {max_rows + 2}; "
                f"the limits are {MAX_CSV_ROWS:,} rows, ten years of 1-minute data, and "
                f"{MAX_VALUES:,} values in all)"
            )
        time_text = frame[TIME_COLUMN]

        def where(row: int, time_text: Any = time_text, first_row: int = first_row) -> str:
            return f"line {first_row + row + 2} ({TIME_COLUMN} {time_text.iloc[row]})"

        times_parts.append(_parse_times(time_text, path, pd, first_row))
        for column in value_columns:
            value_parts[column].append(
                _numeric_column(frame[column], column, path, where, pd)
            )
        if SPLIT_COLUMN in frame.columns:
            test_parts.append(_split_labels(frame[SPLIT_COLUMN], path, where))

    if n_rows == 0:
        raise DatasetError(f"{path}: no data rows after the header")
    times_s = np.concatenate(times_parts)
    step_s = _check_time_axis(times_s, path)
    rows_per_day = _SECONDS_PER_DAY // step_s
    if n_rows < rows_per_day:
        raise DatasetError(
            f"{path}: too short: {n_rows} rows of {step_s / 3600:g} h cover less than one day "
            f"(need at least {rows_per_day})"
        )

    columns: dict[str, dict[str, np.ndarray]] = {k: {} for k in KINDS}
    parts: list[np.ndarray] | dict[str, Series]    # a column's chunks, later the splits
    for column in value_columns:
        kind, _, name = column.partition(":")
        parts = value_parts.pop(column)
        columns[kind][name] = parts[0] if len(parts) == 1 else np.concatenate(parts)

    if test_parts:
        is_test = np.concatenate(test_parts)
        for split, mask in (("train", ~is_test), ("test", is_test)):
            if not mask.any():
                raise DatasetError(f"{path}: the {SPLIT_COLUMN} column marks no {split!r} rows")
        rule = "split column"
    else:
        try:
            test_start, rule = auto_split(times_s, step_s / 3600.0)
        except DatasetError as exc:
            raise DatasetError(f"{path}: {exc}") from None
        is_test = np.zeros(n_rows, dtype=bool)
        is_test[test_start:] = True
    times = times_s.astype("datetime64[s]")
    parts = {}
    for split, mask in (("train", ~is_test), ("test", is_test)):
        parts[split] = {
            k: {n: _frozen(v[mask]) for n, v in by.items()} for k, by in columns.items()
        }
    return Dataset(
        step_h=step_s / 3600.0,
        train=parts["train"],
        test=parts["test"],
        train_time_utc=_frozen(times[~is_test]),
        test_time_utc=_frozen(times[is_test]),
        source=str(path),
        split_rule=rule,
    )


def _time_range_s() -> tuple[int, int]:
    first, end = (np.datetime64(t.rstrip("Z"), "s").astype(np.int64) for t in TIME_RANGE)
    return int(first), int(end)


def _is_iso8601(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _parse_times(text: Any, path: Path, pd: Any, first_row: int = 0) -> np.ndarray:
    """UTC seconds since the epoch (int64) of the time_utc column."""
    missing = text.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        raise DatasetError(f"{path}: {TIME_COLUMN} is empty at line {first_row + row + 2}")
    out_of_range = (
        f"is out of the supported range {TIME_RANGE[0]} to {TIME_RANGE[1]} (exclusive)"
    )
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        value = text.iloc[row]
        reason = (
            out_of_range
            if _is_iso8601(value)
            else "is not an ISO 8601 time (e.g. 2023-01-01T08:00:00Z)"
        )
        raise DatasetError(
            f"{path}: {TIME_COLUMN} value {value!r} at line {first_row + row + 2} {reason}"
        )
    naive = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    seconds = naive.astype(np.int64)
    first, end = _time_range_s()
    outside = (seconds < first) | (seconds >= end)
    if outside.any():
        row = int(np.argmax(outside))
        raise DatasetError(
            f"{path}: {TIME_COLUMN} value {text.iloc[row]!r} at line {first_row + row + 2} "
            f"{out_of_range}"
        )
    return seconds


def _check_time_axis(times_s: np.ndarray, path: Path) -> int:
    """Check strictly increasing, evenly spaced times; return the step in seconds."""
    if len(times_s) < 2:
        raise DatasetError(f"{path}: too short: 1 row (need at least one day of rows)")
    steps = np.diff(times_s)
    if (steps <= 0).any():
        row = int(np.argmax(steps <= 0)) + 1
        raise DatasetError(f"{path}: {TIME_COLUMN} does not increase at line {row + 2}")
    step_s = int(steps[0])
    uneven = steps != step_s
    if uneven.any():
        row = int(np.argmax(uneven)) + 1
        raise DatasetError(
            f"{path}: {TIME_COLUMN} is not evenly spaced: step of {steps[row - 1] / 60:g} min "
            f"before line {row + 2}, but {step_s / 60:g} min at the start"
        )
    if _SECONDS_PER_DAY % step_s:
        raise DatasetError(f"{path}: time step of {step_s / 60:g} min does not divide a day")
    return step_s


def _numeric_column(values: Any, column: str, path: Path, where: Any, pd: Any) -> np.ndarray:
    if values.dtype.kind not in "iuf":
        text = values.astype("string")
        parsed = pd.to_numeric(text, errors="coerce")
        bad = (parsed.isna() & text.notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise DatasetError(
                f"{path}: column {column!r}: non-numeric value {text.iloc[row]!r} at {where(row)}"
            )
        values = parsed
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.isnan(array)
    if nan.any():
        row = int(np.argmax(nan))
        raise DatasetError(f"{path}: column {column!r}: missing value (NaN) at {where(row)}")
    infinite = ~np.isfinite(array)
    if infinite.any():
        row = int(np.argmax(infinite))
        raise DatasetError(
            f"{path}: column {column!r}: non-finite value {array[row]} at {where(row)}"
        )
    kind = column.partition(":")[0]
    outside = _outside_bounds(array, kind)
    if outside is not None:
        raise DatasetError(
            f"{path}: column {column!r}: value {array[outside]:g} at {where(outside)} "
            f"{_bounds_text(kind)}"
        )
    return array


def _outside_bounds(array: np.ndarray, kind: str) -> int | None:
    """Index of the first value of ``array`` outside ``VALUE_BOUNDS[kind]``, or None."""
    low, high = VALUE_BOUNDS[kind]
    outside = (array < low) | (array > high)
    return int(np.argmax(outside)) if outside.any() else None


def _bounds_text(kind: str) -> str:
    low, high = VALUE_BOUNDS[kind]
    return (
        f"is outside the {kind} bounds [{low:g}, {high:g}] {_VALUE_UNITS[kind]} "
        "(see powergrid.data.VALUE_BOUNDS)"
    )


def _split_labels(values: Any, path: Path, where: Any) -> np.ndarray:
    labels = values.fillna("").astype(str).str.strip().str.lower().to_numpy()
    bad = (labels != "train") & (labels != "test")
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{path}: {SPLIT_COLUMN} value {values.iloc[row]!r} at {where(row)} is not "
            "'train' or 'test'"
        )
    return labels == "test"


def auto_split(times_s: np.ndarray, step_h: float) -> tuple[int, str]:
    """Index of the first test row, and a description, for data without a split column.

    Day and year boundaries are taken in the data's local time, assuming the first row is
    at local midnight: the offset from UTC is minus the first time stamp's UTC time of day,
    wrapped into [-12 h, +12 h] (the CAISO example starts 08:00Z = 00:00 PST, offset -8 h).

    * If the rows span more than one local calendar year and both the final year and the
      rows before it cover at least one day, test = the final calendar year (CAISO
      2023-2024: train 2023, test 2024).
    * Otherwise test = the final ``round(TEST_FRACTION * whole days)`` whole days (at least
      one) counted from the first row, plus any partial day at the end; train = the rest.
      At least two whole days are needed.

    Args:
        times_s: UTC time stamps of the rows, integer seconds since the epoch, increasing.
        step_h: hours per row.
    """
    n_rows = len(times_s)
    rows_per_day = round(24.0 / step_h)
    time_of_day_s = int(times_s[0]) % _SECONDS_PER_DAY
    offset_s = (
        -time_of_day_s
        if time_of_day_s <= _SECONDS_PER_DAY // 2
        else (_SECONDS_PER_DAY - time_of_day_s)
    )
    local_years = (
        (np.asarray(times_s, dtype=np.int64) + offset_s)
        .astype("datetime64[s]")
        .astype("datetime64[Y]")
    )
    if local_years[-1] != local_years[0]:
        test_start = int(np.argmax(local_years == local_years[-1]))
        if test_start >= rows_per_day and n_rows - test_start >= rows_per_day:
            return test_start, (
                f"final calendar year {local_years[-1]} (local time UTC{offset_s / 3600:+g} h)"
            )
    n_days = n_rows // rows_per_day
    if n_days < 2:
        raise DatasetError(
            f"too short to split: {n_rows} rows cover fewer than 2 whole days; add a "
            f"{SPLIT_COLUMN!r} column"
        )
    test_days = max(1, math.floor(TEST_FRACTION * n_days + 0.5))
    return (n_days - test_days) * rows_per_day, f"final {test_days} of {n_days} whole days"


# --------------------------------------------------------------------------------------
# classic pickle layout


def _read_pickle(path: Path) -> Dataset:
    """The classic layout, parsed by :func:`~powergrid._pickle_reader.read_classic_pickle`
    (never unpickled: nothing in the file is imported, called or given a state)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PICKLE_BYTES + 1)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({_one_line(exc)})") from None
    try:
        content = read_classic_pickle(data)
    except PickleRefusedError as exc:
        raise DatasetError(
            f"{path}: not a classic data set pickle: {exc.what}, at byte {exc.pos} "
            "(nothing from the file was run)"
        ) from None
    except Exception as exc:  # a reader bug must still be one line, never a traceback
        raise DatasetError(
            f"{path}: not a classic data set pickle: {_one_line(exc)}"
        ) from None
    del data
    return _dataset_from_mapping(content, PICKLE_STEP_H, str(path))


def _type_name(value: Any) -> str:
    return "list" if isinstance(value, NumberList) else type(value).__name__


def _dataset_from_mapping(data: Any, step_h: float, source: str) -> Dataset:
    """Validate the classic ``{split: {kind: {name: array}}}`` layout."""
    if not isinstance(data, Mapping):
        raise DatasetError(
            f"{source}: top level is a {_type_name(data)}, expected a dict with "
            "'train' and 'test'"
        )
    for key in data:
        if key not in SPLITS:
            raise DatasetError(f"{source}: unexpected top-level key {key!r} (expected train, test)")
    parts: dict[str, Series] = {}
    for split in SPLITS:
        if split not in data:
            raise DatasetError(f"{source}: missing top-level key {split!r}")
        parts[split] = _split_from_mapping(data[split], step_h, source, split)
    for kind in KINDS:
        train_names, test_names = list(parts["train"][kind]), list(parts["test"][kind])
        if set(train_names) != set(test_names):
            only = sorted(set(train_names) ^ set(test_names))
            raise DatasetError(
                f"{source}: {kind} series {', '.join(map(repr, only))} not in both train and test"
            )
        parts["test"][kind] = {name: parts["test"][kind][name] for name in train_names}
    return Dataset(
        step_h=step_h,
        train=parts["train"],
        test=parts["test"],
        source=source,
        split_rule="given by the file",
    )


def _split_from_mapping(part: Any, step_h: float, source: str, split: str) -> Series:
    where = f"{source}: {split}"
    if not isinstance(part, Mapping):
        raise DatasetError(f"{where}: is a {_type_name(part)}, expected a dict of kinds")
    series: Series = {k: {} for k in KINDS}
    first: tuple[str, int] | None = None
    for kind, by_name in part.items():
        if kind not in KINDS:
            raise DatasetError(f"{where}: unknown kind {kind!r} (expected {', '.join(KINDS)})")
        if not isinstance(by_name, Mapping):
            raise DatasetError(f"{where}/{kind}: is a {_type_name(by_name)}, expected a dict")
        for name, values in by_name.items():
            label = f"{split}/{kind}/{name}"
            if not isinstance(name, str) or not name:
                raise DatasetError(f"{where}/{kind}: series name {name!r} is not a non-empty str")
            array = _numeric_array(values, f"{source}: {label}", kind)
            if first is None:
                first = (label, len(array))
            elif len(array) != first[1]:
                raise DatasetError(
                    f"{source}: {label} has {len(array)} values but {first[0]} has {first[1]}"
                )
            series[kind][name] = _frozen(array)
    if not series["load"]:
        raise DatasetError(f"{where}: no load series")
    rows_per_day = round(24.0 / step_h)
    if first is not None and first[1] < rows_per_day:
        raise DatasetError(
            f"{where}: too short: {first[1]} rows of {step_h:g} h cover less than one day "
            f"(need at least {rows_per_day})"
        )
    return series


def _numeric_array(values: Any, label: str, kind: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as exc:
        raise DatasetError(f"{label}: not an array ({_one_line(exc)})") from None
    if array.ndim != 1:
        raise DatasetError(f"{label}: expected a 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise DatasetError(f"{label}: non-numeric values (dtype {array.dtype})")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        index = int(np.argmax(bad))
        value = "NaN" if np.isnan(array[index]) else str(array[index])
        raise DatasetError(f"{label}: {value} at index {index}")
    outside = _outside_bounds(array, kind)
    if outside is not None:
        raise DatasetError(
            f"{label}: value {array[outside]:g} at index {outside} {_bounds_text(kind)}"
        )
    return array


# --------------------------------------------------------------------------------------
# helpers


def _frozen(array: np.ndarray) -> np.ndarray:
    """A contiguous, read-only copy of ``array`` (shared safely between environments)."""
    out = np.array(array, copy=True, order="C")
    out.flags.writeable = False
    return out


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def resample(values: np.ndarray, from_step_h: float, to_step_h: float) -> np.ndarray:
    """Resample a series (along axis 0) from one step length to another.

    * Coarsening (``to_step_h > from_step_h``, e.g. 0.25 h -> 1 h): the mean of each block
      of ``to/from`` rows (energy-preserving; mean of 4 for 15 min -> 1 h). A partial block
      at the end is averaged over the rows it has.
    * Refining (``to_step_h < from_step_h``, e.g. 1 h -> 0.25 h): step-hold, each value
      repeated ``from/to`` times. Chosen over linear interpolation because it keeps block
      means (coarsening a refined series returns the original exactly), keeps values inside
      their original range and never uses a future value.
    * Equal steps: a copy.

    The ratio of the two steps must be an integer; units are unchanged.

    Args:
        values: the series (or a 2-D array of series in columns).
        from_step_h: hours per row of ``values``.
        to_step_h: hours per row of the result.

    Returns:
        float64 array, ``ceil(n * from / to)`` rows when coarsening, ``n * from / to`` when
        refining.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        raise ValueError("resample: values must be at least 1-D")
    for label, step in (("from_step_h", from_step_h), ("to_step_h", to_step_h)):
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"resample: {label} must be a positive number of hours, got {step}")
    ratio = max(from_step_h, to_step_h) / min(from_step_h, to_step_h)
    factor = round(ratio)
    if abs(ratio - factor) > 1e-9 * ratio:
        raise ValueError(
            f"resample: cannot go from {from_step_h:g} h to {to_step_h:g} h steps: the ratio "
            f"{ratio:g} is not an integer"
        )
    if factor == 1:
        return array.copy()
    if to_step_h < from_step_h:
        return np.repeat(array, factor, axis=0)
    n_full = len(array) // factor
    head = array[: n_full * factor].reshape(n_full, factor, *array.shape[1:]).mean(axis=1)
    if len(array) % factor == 0:
        return head
    tail = array[n_full * factor :].mean(axis=0, keepdims=True)
    return np.concatenate([head, tail], axis=0)


def series_at_step(column: str, split: str, step_h: float,
                   path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """The series ``column`` (``"<kind>:<name>"``) of ``split`` at ``step_h`` hours per row.

    Read from the data set at ``path`` (None: the shipped default), resampled with
    :func:`resample`, read-only and cached per process and file version (as
    :func:`load_dataset`): every feed and environment that asks for the same series at the
    same step shares one array, and a rewritten file is read afresh.
    """
    kind, sep, name = column.partition(":")
    if not sep:
        raise DatasetError(f"series {column!r} is not named '<kind>:<name>'")
    return _series_at_step(column, split, step_h, _dataset_key(path))


@functools.lru_cache(maxsize=256)
def _series_at_step(column: str, split: str, step_h: float, key: _DatasetKey) -> np.ndarray:
    kind, _, name = column.partition(":")
    dataset = _load_cached(key)
    return _frozen(resample(dataset.series(kind, name, split), dataset.step_h, step_h))


def step_calendar(split: str, step_h: float,
                  path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day (UTC, 0-24) and day of year (0-366) at the start of every step of
    ``split`` resampled to ``step_h`` hours (as :func:`series_at_step` rows).

    Without time stamps (the pickle layout) the split is taken to start on
    1 January at 00:00. Cached per file version, as :func:`series_at_step`.
    """
    return _step_calendar(split, step_h, _dataset_key(path))


@functools.lru_cache(maxsize=32)
def _step_calendar(split: str, step_h: float,
                   key: _DatasetKey) -> tuple[np.ndarray, np.ndarray]:
    dataset = _load_cached(key)
    times = dataset.time_utc(split)
    n_rows = len(_series_at_step(f"load:{dataset.names('load')[0]}", split, step_h, key))
    if times is None:
        hours = np.arange(n_rows) * step_h
        return _frozen(hours % 24.0), _frozen((hours // 24.0) % 365.0)
    stride = max(1, round(step_h / dataset.step_h))
    starts = times[::stride][:n_rows]
    seconds = starts.astype("datetime64[s]").astype(np.int64)
    hour = (seconds % 86_400) / 3600.0
    year_start = starts.astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    day = (seconds - year_start) / 86_400.0
    return _frozen(hour), _frozen(day)
