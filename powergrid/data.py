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
  {name: array}}}``, hourly. It is read by a restricted unpickler that only accepts numpy
  arrays/dtypes/scalars and builtin containers and scalars; any other global (such as
  ``os.system``) is refused before anything from the file runs.

Every input mistake raises :class:`DatasetError` (a ``ValueError``) with a one-line message
naming the file and the offending column, series, row or value.

:func:`resample` converts a series between step lengths; it is the one place where feeds
resample. pandas is imported only while a CSV file is read; a :class:`Dataset` holds plain
numpy arrays (read-only), so nothing in a simulation step touches pandas.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib
import io
import math
import os
import pickle
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PICKLE_SUFFIXES = (".pkl", ".pickle")
_SECONDS_PER_DAY = 86_400


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
        """Validate ``{"train"|"test": {kind: {name: array}}}`` and build a Dataset."""
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
    ``.pickle``), see the module docstring. Results are cached per file (path, size and
    modification time); the arrays are read-only and shared, the dicts are fresh copies.

    Raises:
        DatasetNotFoundError: the file does not exist.
        DatasetError: anything else wrong with the file (a ``ValueError``).
    """
    if path is None:
        resolved = DEFAULT_DATASET_PATH
        if not resolved.is_file():
            raise DatasetNotFoundError(
                f"the default data set {resolved} is missing; rebuild it with "
                "'python data/build_dataset.py' (needs pip install -e '.[build-data]') "
                "or pass a dataset path"
            )
    else:
        resolved = Path(os.fspath(path)).expanduser()
        if not resolved.exists():
            raise DatasetNotFoundError(f"data set file {resolved} does not exist")
        if not resolved.is_file():
            raise DatasetError(f"data set path {resolved} is not a file")
        resolved = resolved.resolve()
    stat = resolved.stat()
    cached = _load_cached(str(resolved), stat.st_size, stat.st_mtime_ns)
    return Dataset(
        step_h=cached.step_h,
        train={k: dict(v) for k, v in cached.train.items()},
        test={k: dict(v) for k, v in cached.test.items()},
        train_time_utc=cached.train_time_utc,
        test_time_utc=cached.test_time_utc,
        source=cached.source,
        split_rule=cached.split_rule,
    )


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, size: int, mtime_ns: int) -> Dataset:
    del size, mtime_ns  # part of the cache key only
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


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115


def _read_header(path: Path) -> list[str]:
    try:
        with _open_text(path) as handle:
            first = next(csv.reader(handle), None)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read as CSV text ({_one_line(exc)})") from None
    if not first:
        raise DatasetError(f"{path}: empty file (expected a header line starting with time_utc)")
    return [cell.strip() for cell in first]


def _check_header(header: list[str], path: Path) -> None:
    if TIME_COLUMN not in header:
        shown = ", ".join(repr(c) for c in header[:6]) + (", ..." if len(header) > 6 else "")
        raise DatasetError(f"{path}: no {TIME_COLUMN!r} column (header has {shown})")
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


def _read_csv(path: Path) -> Dataset:
    import pandas as pd  # only while loading

    header = _read_header(path)
    _check_header(header, path)
    try:
        frame = pd.read_csv(
            path,
            header=0,
            names=header,
            dtype={TIME_COLUMN: str, SPLIT_COLUMN: str},
            skip_blank_lines=False,
            encoding="utf-8-sig",
            compression="gzip" if path.name.lower().endswith(".gz") else None,
            low_memory=False,
        )
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        OSError,
        EOFError,
        zlib.error,
        UnicodeDecodeError,
        ValueError,
    ) as exc:
        raise DatasetError(f"{path}: cannot parse CSV ({_one_line(exc)})") from None

    n_rows = len(frame)
    if n_rows == 0:
        raise DatasetError(f"{path}: no data rows after the header")
    time_text = frame[TIME_COLUMN]
    times_s = _parse_times(time_text, path, pd)
    step_s = _check_time_axis(times_s, path)
    rows_per_day = _SECONDS_PER_DAY // step_s
    if n_rows < rows_per_day:
        raise DatasetError(
            f"{path}: too short: {n_rows} rows of {step_s / 3600:g} h cover less than one day "
            f"(need at least {rows_per_day})"
        )

    def where(row: int) -> str:
        return f"line {row + 2} ({TIME_COLUMN} {time_text.iloc[row]})"

    columns: dict[str, dict[str, np.ndarray]] = {k: {} for k in KINDS}
    for column in header:
        if column in (TIME_COLUMN, SPLIT_COLUMN):
            continue
        kind, _, name = column.partition(":")
        columns[kind][name] = _numeric_column(frame[column], column, path, where, pd)

    if SPLIT_COLUMN in frame.columns:
        is_test = _split_column(frame[SPLIT_COLUMN], path, where)
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


def _parse_times(text: Any, path: Path, pd: Any) -> np.ndarray:
    """UTC seconds since the epoch (int64) of the time_utc column."""
    missing = text.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        raise DatasetError(f"{path}: {TIME_COLUMN} is empty at line {row + 2}")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{path}: {TIME_COLUMN} value {text.iloc[row]!r} at line {row + 2} is not an "
            "ISO 8601 time (e.g. 2023-01-01T08:00:00Z)"
        )
    naive = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    return naive.astype(np.int64)


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
    return array


def _split_column(values: Any, path: Path, where: Any) -> np.ndarray:
    labels = values.fillna("").astype(str).str.strip().str.lower().to_numpy()
    bad = (labels != "train") & (labels != "test")
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{path}: {SPLIT_COLUMN} value {values.iloc[row]!r} at {where(row)} is not "
            "'train' or 'test'"
        )
    is_test = labels == "test"
    for split, mask in (("train", ~is_test), ("test", is_test)):
        if not mask.any():
            raise DatasetError(f"{path}: the {SPLIT_COLUMN} column marks no {split!r} rows")
    return is_test


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


def _numpy_global(submodule: str, name: str) -> Any:
    for package in ("numpy._core", "numpy.core"):
        try:
            module = importlib.import_module(f"{package}.{submodule}")
        except ImportError:
            continue
        found = getattr(module, name, None)
        if found is not None:
            return found
    raise ImportError(f"numpy has no {submodule}.{name}")


@functools.cache
def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a data-set pickle may name: numpy array machinery and builtins."""
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): __import__("collections").OrderedDict,
        ("_codecs", "encode"): __import__("codecs").encode,  # bytes in protocol-2 pickles
    }
    for submodule, name in (
        ("multiarray", "_reconstruct"),
        ("multiarray", "scalar"),
        ("numeric", "_frombuffer"),
    ):
        target = _numpy_global(submodule, name)
        for package in ("numpy.core", "numpy._core"):
            allowed[(f"{package}.{submodule}", name)] = target
    for builtin in (
        "dict", "list", "tuple", "set", "frozenset", "bytes", "bytearray",
        "str", "int", "float", "complex", "bool",
    ):  # fmt: skip
        allowed[("builtins", builtin)] = getattr(__import__("builtins"), builtin)
    return allowed


class _RefusedGlobalError(Exception):
    """Raised by the restricted unpickler for a global that is not allowed."""


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :func:`_allowed_globals`; nothing else is imported."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _allowed_globals()[(module, name)]
        except KeyError:
            label = f"global '{module}.{name}'"
            if module in ("posix", "nt") and hasattr(os, name):
                label += f" (os.{name})"
            raise _RefusedGlobalError(label) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _RefusedGlobalError(f"persistent id {pid!r}")


def _read_pickle(path: Path) -> Dataset:
    try:
        with open(path, "rb") as handle:
            data = _RestrictedUnpickler(handle).load()
    except _RefusedGlobalError as exc:
        raise DatasetError(
            f"{path}: refused to unpickle {exc}: only numpy arrays and builtin containers "
            "and scalars are allowed (nothing from the file was run)"
        ) from None
    except Exception as exc:  # any malformed pickle: report, never a deep traceback
        raise DatasetError(f"{path}: not a readable pickle ({_one_line(exc)})") from None
    return _dataset_from_mapping(data, PICKLE_STEP_H, str(path))


def _dataset_from_mapping(data: Any, step_h: float, source: str) -> Dataset:
    """Validate the classic ``{split: {kind: {name: array}}}`` layout."""
    if not isinstance(data, Mapping):
        raise DatasetError(
            f"{source}: top level is a {type(data).__name__}, expected a dict with "
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
        raise DatasetError(f"{where}: is a {type(part).__name__}, expected a dict of kinds")
    series: Series = {k: {} for k in KINDS}
    first: tuple[str, int] | None = None
    for kind, by_name in part.items():
        if kind not in KINDS:
            raise DatasetError(f"{where}: unknown kind {kind!r} (expected {', '.join(KINDS)})")
        if not isinstance(by_name, Mapping):
            raise DatasetError(f"{where}/{kind}: is a {type(by_name).__name__}, expected a dict")
        for name, values in by_name.items():
            label = f"{split}/{kind}/{name}"
            if not isinstance(name, str) or not name:
                raise DatasetError(f"{where}/{kind}: series name {name!r} is not a non-empty str")
            array = _numeric_array(values, f"{source}: {label}")
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


def _numeric_array(values: Any, label: str) -> np.ndarray:
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


@functools.lru_cache(maxsize=256)
def series_at_step(column: str, split: str, step_h: float,
                   path: str | None = None) -> np.ndarray:
    """The series ``column`` (``"<kind>:<name>"``) of ``split`` at ``step_h`` hours per row.

    Read from the data set at ``path`` (None: the shipped default), resampled with
    :func:`resample`, read-only and cached per process: every feed and environment that
    asks for the same series at the same step shares one array.
    """
    kind, sep, name = column.partition(":")
    if not sep:
        raise DatasetError(f"series {column!r} is not named '<kind>:<name>'")
    dataset = load_dataset(path)
    return _frozen(resample(dataset.series(kind, name, split), dataset.step_h, step_h))


@functools.lru_cache(maxsize=32)
def step_calendar(split: str, step_h: float,
                  path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day (UTC, 0-24) and day of year (0-366) at the start of every step of
    ``split`` resampled to ``step_h`` hours (as :func:`series_at_step` rows).

    Without time stamps (the pickle layout) the split is taken to start on
    1 January at 00:00.
    """
    dataset = load_dataset(path)
    times = dataset.time_utc(split)
    n_rows = len(series_at_step(f"load:{dataset.names('load')[0]}", split, step_h, path))
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
