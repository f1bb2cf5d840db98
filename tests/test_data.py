"""Tests of powergrid.data (loader, validation, resampling) and data/build_dataset.py."""

from __future__ import annotations

import ast
import gzip
import importlib.util
import os
import pickle
import sys
import uuid
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powergrid.data import (
    DEFAULT_DATASET_PATH,
    KINDS,
    Dataset,
    DatasetError,
    DatasetNotFoundError,
    auto_split,
    load_dataset,
    resample,
)

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "data" / "build_dataset.py"
EXAMPLES = REPO.parent / "shared" / "data"
EXAMPLE_CSV = EXAMPLES / "caiso_2023_2024_hourly.csv.gz"
EXAMPLE_PKL = EXAMPLES / "seed_data2023-2024.pkl"
needs_examples = pytest.mark.skipif(
    not (EXAMPLE_CSV.is_file() and EXAMPLE_PKL.is_file()),
    reason=f"example data sets not present in {EXAMPLES}",
)

DEFAULT_LOADS = (
    "household",
    "commercial",
    "office",
    "shop",
    "agricultural",
    "mv_rural",
    "mv_semiurban",
    "mv_urban",
    "mv_commercial",
)


@pytest.fixture(scope="module")
def default() -> Dataset:
    return load_dataset()


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("powergrid_build_dataset", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def both(ds: Dataset, kind: str, name: str) -> np.ndarray:
    return np.concatenate([ds.series(kind, name, "train"), ds.series(kind, name, "test")])


# --------------------------------------------------------------------------------------
# the shipped default


def test_default_file_is_small_and_shipped():
    assert DEFAULT_DATASET_PATH == REPO / "data" / "powergrid_default.csv.gz"
    assert DEFAULT_DATASET_PATH.stat().st_size < 4_000_000


def test_default_columns_and_splits(default: Dataset):
    assert default.step_h == 0.25
    assert default.steps_per_day == 96
    assert default.names("load") == DEFAULT_LOADS
    assert default.names("solar") == ("PV1", "PV4", "PV7")
    assert default.names("wind") == ("WP1", "WP4", "WP7")
    assert default.names("price") == ("synthetic",)
    assert default.n_steps("train") + default.n_steps("test") == 366 * 96  # 2016
    assert default.n_steps("test") == 70 * 96  # ten 7-day blocks
    assert default.split_rule == "split column"
    times = np.sort(np.concatenate([default.time_utc("train"), default.time_utc("test")]))
    assert str(times[0]) == "2015-12-31T23:00:00"  # 2016-01-01 00:00 CET
    assert str(times[-1]) == "2016-12-31T22:45:00"
    assert (np.diff(times.astype(np.int64)) == 900).all()
    for split in ("train", "test"):
        for kind in KINDS:
            for name in default.names(kind):
                values = default.series(kind, name, split)
                assert values.dtype == np.float64 and values.ndim == 1
                assert len(values) == default.n_steps(split)
                assert not values.flags.writeable


def test_default_test_blocks_cover_the_year(default: Dataset):
    ranges = default.contiguous_ranges("test")
    assert [stop - start for start, stop in ranges] == [7 * 96] * 10
    months = default.time_utc("test").astype("datetime64[M]")
    assert len(np.unique(months)) >= 9


def test_default_values_in_range(default: Dataset):
    for name in default.names("load"):
        values = both(default, "load", name)
        assert values.min() >= 0.0 and values.max() == 1.0, name
    for kind in ("solar", "wind"):
        for name in default.names(kind):
            values = both(default, kind, name)
            assert values.min() == 0.0 and 0.5 < values.max() <= 1.0, name
    pv = both(default, "solar", "PV1")
    assert 0.05 < pv.mean() < 0.2


def test_default_price_plausible(default: Dataset):
    price = both(default, "price", "synthetic")
    assert 40.0 < price.mean() < 70.0
    assert -100.0 < price.min() < 0.0
    assert 150.0 < price.max() <= 300.0
    assert 0.001 < (price < 0).mean() < 0.05
    for split in ("train", "test"):
        assert 35.0 < default.series("price", "synthetic", split).mean() < 75.0


def test_loader_results_are_independent_copies():
    first = load_dataset()
    first.train["load"].pop("household")
    second = load_dataset()
    assert "household" in second.train["load"]
    with pytest.raises(ValueError):
        second.series("load", "household")[0] = 2.0


# --------------------------------------------------------------------------------------
# build script


def test_price_model_deterministic_and_realistic(build: ModuleType):
    n = 14 * 96
    t_h = np.arange(n) * 0.25
    hour = t_h % 24
    load = 0.6 + 0.3 * np.sin(2 * np.pi * (hour - 9) / 24)
    solar = np.clip(np.sin(np.pi * (hour - 6) / 12), 0, None) * 0.7
    wind = 0.4 + 0.35 * np.sin(2 * np.pi * t_h / 70)
    weekday = (t_h // 24).astype(int) % 7
    first = build.synthetic_price(load, solar, wind, hour, weekday)
    second = build.synthetic_price(load, solar, wind, hour, weekday)
    np.testing.assert_array_equal(first, second)
    assert np.array_equal(np.round(first, 2), first)
    assert first.min() >= -80.0 and first.max() <= 300.0
    assert 20.0 < first.mean() < 120.0
    other_seed = build.synthetic_price(
        load, solar, wind, hour, weekday, model=build.PriceModel(seed=1)
    )
    assert not np.array_equal(first, other_seed)


def test_price_model_merit_order(build: ModuleType):
    model = build.PriceModel(noise_std_usd_mwh=0.0)
    n = 96
    hour, weekday = np.full(n, 3.0), np.zeros(n, dtype=int)
    zeros = np.zeros(n)
    high = build.synthetic_price(np.ones(n), zeros, zeros, hour, weekday, model=model)
    low = build.synthetic_price(
        np.full(n, 0.2), np.full(n, 0.6), np.ones(n), hour, weekday, model=model
    )
    assert high.min() > 150.0  # scarcity at peak residual load
    assert low.max() < 0.0  # surplus renewables: negative price


def test_ar1_noise_statistics(build: ModuleType):
    model = build.PriceModel()
    noise = build.ar1_noise(200_000, 0.25, model)
    assert abs(noise.std() - model.noise_std_usd_mwh) < 1.0
    lag = round(model.noise_time_constant_h / 0.25)
    corr = np.corrcoef(noise[:-lag], noise[lag:])[0, 1]
    assert abs(corr - np.exp(-1)) < 0.05


def test_split_labels_every_fifth_week(build: ModuleType):
    labels = build.split_labels(np.repeat(np.arange(366), 96))
    assert (labels == "test").sum() == 70 * 96
    assert list(build.split_labels(np.array([27, 28, 34, 35]))) == [
        "train",
        "test",
        "test",
        "train",
    ]


def test_csv_writer_is_deterministic_and_loadable(build: ModuleType, tmp_path: Path):
    n = 3 * 96
    start = np.datetime64("2016-03-01T00:00:00", "s")
    time_utc = start + np.arange(n) * np.timedelta64(900, "s")
    rng = np.random.default_rng(0)
    table = build.Table(
        time_utc=time_utc,
        load={"a": build._round(rng.random(n), 5)},
        solar={"pv": build._round(rng.random(n), 5)},
        wind={"wp": np.full(n, -0.0)},
        price={"p": np.round(rng.normal(50, 20, n), 2)},
        split=np.where(np.arange(n) >= 2 * 96, "test", "train"),
    )
    data = build.to_csv_bytes(table)
    assert data == build.to_csv_bytes(table)
    text = gzip.decompress(data).decode()
    assert text.splitlines()[0] == "time_utc,load:a,solar:pv,wind:wp,price:p,split"
    assert text.splitlines()[1].startswith("2016-03-01T00:00:00Z,")
    assert "-0.0" not in text
    path = tmp_path / "built.csv.gz"
    path.write_bytes(data)
    ds = load_dataset(path)
    assert ds.step_h == 0.25 and ds.n_steps("train") == 192 and ds.n_steps("test") == 96
    np.testing.assert_allclose(ds.series("load", "a"), table.load["a"][:192], atol=1e-12)


def test_build_reproduces_shipped_file(build: ModuleType):
    simbench = pytest.importorskip("simbench")
    if simbench.__version__ != build.SIMBENCH_VERSION:
        pytest.skip(
            f"file built with simbench {build.SIMBENCH_VERSION}, not {simbench.__version__}"
        )
    table = build.build_table(build.read_simbench_profiles())
    assert build.to_csv_bytes(table) == DEFAULT_DATASET_PATH.read_bytes()


# --------------------------------------------------------------------------------------
# the example files in ../shared/data


@needs_examples
def test_example_csv_loads():
    ds = load_dataset(EXAMPLE_CSV)
    assert ds.step_h == 1.0
    assert (ds.n_steps("train"), ds.n_steps("test")) == (8760, 8784)
    assert "2024" in ds.split_rule
    assert str(ds.time_utc("train")[0]) == "2023-01-01T08:00:00"
    assert str(ds.time_utc("test")[0]) == "2024-01-01T08:00:00"
    assert len(ds.names("load")) == 35
    assert ds.names("solar") == ("NP15", "SP15", "ZP26")
    assert ds.names("price") == ("0096WD_7_N001",)


@needs_examples
def test_example_csv_and_pickle_agree():
    from_csv, from_pickle = load_dataset(str(EXAMPLE_CSV)), load_dataset(EXAMPLE_PKL)
    assert from_pickle.step_h == 1.0 and from_pickle.time_utc("train") is None
    for kind in KINDS:
        assert from_csv.names(kind) == from_pickle.names(kind)
        for name in from_csv.names(kind):
            for split in ("train", "test"):
                np.testing.assert_allclose(
                    from_csv.series(kind, name, split),
                    from_pickle.series(kind, name, split),
                    rtol=1e-5,
                    atol=1e-6,
                    err_msg=f"{split}/{kind}/{name}",
                )


# --------------------------------------------------------------------------------------
# restricted unpickler


class _Evil:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_malicious_pickle_is_refused_and_not_run(tmp_path: Path):
    marker = Path("/tmp") / f"pwned_{uuid.uuid4().hex}"
    payload = {"train": {"load": {"a": _Evil(f"touch {marker}")}}, "test": {}}
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(ValueError, match=r"global '(posix|nt)\.system' \(os\.system\)") as info:
        load_dataset(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [("builtins", "eval"), ("subprocess", "Popen"), ("pandas.core.frame", "DataFrame")],
)
def test_other_globals_are_refused(tmp_path: Path, module: str, name: str):
    # protocol-0 GLOBAL opcode followed by STOP: refused before anything is called
    path = tmp_path / "global.pkl"
    path.write_bytes(f"c{module}\n{name}\n.".encode())
    with pytest.raises(DatasetError, match=f"{module}.{name}"):
        load_dataset(path)


def test_unknown_module_is_not_imported(tmp_path: Path):
    path = tmp_path / "import.pkl"
    path.write_bytes(b"cpowergrid_no_such_module_xyz\nrun\n.")
    with pytest.raises(DatasetError, match="powergrid_no_such_module_xyz.run"):
        load_dataset(path)
    assert "powergrid_no_such_module_xyz" not in sys.modules


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
def test_valid_pickle_round_trip(tmp_path: Path, protocol: int):
    rng = np.random.default_rng(1)
    data = {
        split: {
            "load": {"a": rng.random(48).astype(np.float32), "b": list(rng.random(48))},
            "solar": {"pv": rng.random(48)},
            "price": {"p": np.arange(48, dtype=np.int64)},
        }
        for split in ("train", "test")
    }
    path = tmp_path / f"ok{protocol}.pickle"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    ds = load_dataset(path)
    assert ds.names("load") == ("a", "b") and ds.names("wind") == ()
    np.testing.assert_array_equal(ds.series("load", "a", "test"), data["test"]["load"]["a"])
    assert ds.series("price", "p").dtype == np.float64


# --------------------------------------------------------------------------------------
# bad input


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def hourly_rows(n: int = 48, start_hour: int = 0) -> list[str]:
    times = np.datetime64("2023-03-01T00:00:00", "s") + (start_hour + np.arange(n)) * 3600
    return [f"{t}Z,{0.5 + 0.01 * (i % 10):.2f},{i % 7 * 0.1:.1f}" for i, t in enumerate(times)]


def edit(rows: list[str], index: int, column: int, value: str) -> list[str]:
    rows = list(rows)
    cells = rows[index].split(",")
    cells[column] = value
    rows[index] = ",".join(cells)
    return rows


GOOD_HEADER = "time_utc,load:A,solar:S"

BAD_CSV = {
    "no time column": ("when,load:A,solar:S", hourly_rows(), ["'time_utc'"]),
    "unknown prefix": ("time_utc,load:A,foo:S", hourly_rows(), ["'foo:S'", "prefix"]),
    "no prefix": ("time_utc,load:A,AVA", hourly_rows(), ["'AVA'", "prefix"]),
    "empty name": ("time_utc,load:A,solar:", hourly_rows(), ["'solar:'", "empty name"]),
    "duplicate": ("time_utc,load:A,load:A", hourly_rows(), ["duplicate", "'load:A'"]),
    "no load": ("time_utc,solar:A,solar:S", hourly_rows(), ["no load column"]),
    "nan": (GOOD_HEADER, edit(hourly_rows(), 5, 1, ""), ["'load:A'", "NaN", "line 7"]),
    "nan text": (GOOD_HEADER, edit(hourly_rows(), 9, 2, "nan"), ["'solar:S'", "line 11"]),
    "non-numeric": (GOOD_HEADER, edit(hourly_rows(), 3, 1, "abc"), ["'load:A'", "'abc'", "line 5"]),
    "infinite": (
        GOOD_HEADER,
        edit(hourly_rows(), 4, 2, "inf"),
        ["'solar:S'", "non-finite", "line 6"],
    ),
    "too short": (GOOD_HEADER, hourly_rows(10), ["too short", "10 rows"]),
    "bad time": (GOOD_HEADER, edit(hourly_rows(), 2, 0, "yesterday"), ["'yesterday'", "line 4"]),
    "uneven time": (
        GOOD_HEADER,
        edit(hourly_rows(), 6, 0, "2023-03-01T06:30:00Z"),
        ["evenly spaced", "line 8"],
    ),
    "time goes back": (
        GOOD_HEADER,
        edit(hourly_rows(), 6, 0, "2023-03-01T01:00:00Z"),
        ["does not increase", "line 8"],
    ),
    "extra field": (GOOD_HEADER, edit(hourly_rows(), 3, 2, "0.1,0.2"), ["line 5"]),
    "bad split": (
        GOOD_HEADER + ",split",
        [r + ",train" for r in hourly_rows(24)] + [r + ",maybe" for r in hourly_rows(24, 24)],
        ["split", "'maybe'", "line 26"],
    ),
    "no test rows": (GOOD_HEADER + ",split", [r + ",train" for r in hourly_rows()], ["'test'"]),
    "one day only": (GOOD_HEADER, hourly_rows(30), ["too short to split"]),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_gives_one_line_value_error(tmp_path: Path, case: str):
    header, rows, expected = BAD_CSV[case]
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in expected:
        assert fragment in message, (case, message)


def test_good_csv_variants(tmp_path: Path):
    plain = write_csv(tmp_path / "ok.csv", GOOD_HEADER, hourly_rows(240))
    ds = load_dataset(plain)
    assert ds.step_h == 1.0
    assert (ds.n_steps("train"), ds.n_steps("test")) == (192, 48)  # final 2 of 10 days
    gz = tmp_path / "ok.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    np.testing.assert_array_equal(load_dataset(gz).series("load", "A"), ds.series("load", "A"))
    labelled = write_csv(
        tmp_path / "labelled.csv",
        GOOD_HEADER + ",split",
        [r + (", Test " if i % 24 < 6 else ",train") for i, r in enumerate(hourly_rows())],
    )
    split_ds = load_dataset(labelled)
    assert split_ds.n_steps("test") == 12 and split_ds.contiguous_ranges("test") == [
        (0, 6),
        (6, 12),
    ]


@pytest.mark.parametrize(
    "first, expected_start, expected_rule",
    [
        # starts 00:00 PST: local offset -8 h, test = local calendar year 2024
        ("2023-12-20T08:00", 12 * 24, "final calendar year 2024 (local time UTC-8 h)"),
        # starts 00:00 CET: all 40 days in local 2016, test = final 8 whole days
        ("2015-12-31T23:00", 32 * 24, "final 8 of 40 whole days"),
        # 2 h 30 min into the next UTC year but the same local one: fraction rule
        ("2023-12-31T22:00", 32 * 24, "final 8 of 40 whole days"),
    ],
)
def test_auto_split(first: str, expected_start: int, expected_rule: str):
    start_time = np.datetime64(first, "s")
    times = (start_time + np.arange(40 * 24) * np.timedelta64(3600, "s")).astype(np.int64)
    assert auto_split(times, 1.0) == (expected_start, expected_rule)


def test_auto_split_needs_two_days():
    times = np.arange(30, dtype=np.int64) * 3600
    with pytest.raises(DatasetError, match="too short to split"):
        auto_split(times, 1.0)


def test_missing_file_and_extension(tmp_path: Path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DatasetNotFoundError, match="nope.csv") as info:
        load_dataset(missing)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(DatasetError, match="unknown data set extension"):
        load_dataset(other)
    with pytest.raises(DatasetError, match="not a file"):
        load_dataset(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DatasetError, match="empty"):
        load_dataset(empty)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="broken.csv.gz"):
        load_dataset(broken)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x80\x05garbage")
    with pytest.raises(DatasetError, match="not a classic data set pickle: .*at byte 2"):
        load_dataset(garbage)


def day(n: int = 24, value: float = 0.5) -> np.ndarray:
    return np.full(n, value)


BAD_PICKLES = {
    "top level list": ([1, 2], ["top level", "list"]),
    "missing test": ({"train": {"load": {"a": day()}}}, ["'test'"]),
    "extra top key": (
        {"train": {"load": {"a": day()}}, "test": {"load": {"a": day()}}, "meta": {}},
        ["'meta'"],
    ),
    "unknown kind": (
        {"train": {"load": {"a": day()}, "heat": {"h": day()}}, "test": {"load": {"a": day()}}},
        ["'heat'"],
    ),
    "unequal lengths": (
        {"train": {"load": {"a": day()}, "solar": {"s": day(30)}}, "test": {"load": {"a": day()}}},
        ["train/solar/s", "30", "train/load/a", "24"],
    ),
    "nan": (
        {"train": {"load": {"a": np.r_[day(3), np.nan, day(20)]}}, "test": {"load": {"a": day()}}},
        ["train/load/a", "NaN", "index 3"],
    ),
    "2-D": ({"train": {"load": {"a": np.ones((24, 2))}}, "test": {"load": {"a": day()}}}, ["1-D"]),
    "strings": (
        {"train": {"load": {"a": np.array(["x"] * 24)}}, "test": {"load": {"a": day()}}},
        ["non-numeric", "dtype 'U1'", "at byte"],  # refused by the reader, before building
    ),
    "too short": (
        {"train": {"load": {"a": day(5)}}, "test": {"load": {"a": day()}}},
        ["too short"],
    ),
    "no load": ({"train": {"solar": {"s": day()}}, "test": {"solar": {"s": day()}}}, ["no load"]),
    "names differ": (
        {"train": {"load": {"a": day()}}, "test": {"load": {"b": day()}}},
        ["'a'", "'b'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_PICKLES))
def test_bad_pickle_gives_one_line_value_error(tmp_path: Path, case: str):
    data, expected = BAD_PICKLES[case]
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in expected:
        assert fragment in message, (case, message)


def test_dataset_accessors(default: Dataset):
    with pytest.raises(DatasetError, match="unknown kind 'heat'"):
        default.names("heat")
    with pytest.raises(DatasetError, match="available: household"):
        default.series("load", "nope")
    with pytest.raises(DatasetError, match="unknown split"):
        default.n_steps("validation")
    assert "steps" in repr(default) and len(repr(default)) < 1000
    ds = Dataset.from_dict({"train": {"load": {"a": day()}}, "test": {"load": {"a": day(48)}}})
    assert ds.n_steps("test") == 48 and ds.time_utc("test") is None
    assert ds.contiguous_ranges("test") == [(0, 48)]


def test_no_module_level_pandas_import():
    tree = ast.parse((REPO / "powergrid" / "data.py").read_text())
    top_level = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert "pandas" not in top_level


# --------------------------------------------------------------------------------------
# resample


def test_resample_coarsen_is_block_mean():
    values = np.arange(8, dtype=float)
    np.testing.assert_array_equal(resample(values, 0.25, 1.0), [1.5, 5.5])
    np.testing.assert_array_equal(resample(np.arange(6.0), 0.25, 1.0), [1.5, 4.5])  # partial tail
    two_d = np.stack([values, 2 * values], axis=1)
    np.testing.assert_array_equal(resample(two_d, 0.25, 1.0), [[1.5, 3.0], [5.5, 11.0]])


def test_resample_refine_is_step_hold():
    np.testing.assert_array_equal(resample([1.0, 3.0], 1.0, 0.25), [1, 1, 1, 1, 3, 3, 3, 3])
    same = np.array([1.0, 2.0])
    out = resample(same, 0.5, 0.5)
    np.testing.assert_array_equal(out, same)
    assert out is not same


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=50),
    st.sampled_from([(1.0, 0.25), (1.0, 0.5), (0.25, 1 / 12), (24.0, 1.0)]),
)
def test_resample_round_trip(values: list[float], steps: tuple[float, float]):
    coarse, fine = steps
    array = np.array(values)
    refined = resample(array, coarse, fine)
    assert len(refined) == len(array) * round(coarse / fine)
    np.testing.assert_allclose(resample(refined, fine, coarse), array, rtol=1e-12, atol=1e-9)
    assert resample(refined, fine, coarse).mean() == pytest.approx(refined.mean(), abs=1e-9)


@pytest.mark.parametrize(
    "from_h, to_h, match",
    [(0.25, 0.4, "not an integer"), (1.0, 0.0, "positive"), (-1.0, 1.0, "positive")],
)
def test_resample_rejects_bad_steps(from_h: float, to_h: float, match: str):
    with pytest.raises(ValueError, match=match):
        resample(np.ones(4), from_h, to_h)
