"""Build the shipped default data set ``data/powergrid_default.csv.gz``.

One year (2016, the SimBench profile year) of 15-minute series:

* ``load:<name>``  -- SimBench active-power load profiles, each divided by its own annual
  maximum (per-unit of the load's peak, so the series peaks at exactly 1.0).
* ``solar:<name>`` -- SimBench PV profiles, per-unit of installed capacity, clipped to [0, 1].
* ``wind:<name>``  -- SimBench wind profiles, per-unit of installed capacity, clipped to [0, 1].
* ``price:synthetic`` -- a synthetic electricity price in $/MWh (SimBench ships none); see
  :func:`synthetic_price` and data/README.md for the formula and constants.
* ``split`` -- ``train`` or ``test`` (every fifth 7-day block is test), see :func:`split_labels`.

Run ``python data/build_dataset.py`` (needs the ``build-data`` extra: ``pip install -e
".[build-data]"``). The output is byte-for-byte deterministic: fixed float formats, a seeded
legacy Mersenne-Twister noise stream (stable across numpy versions) and a gzip header with
mtime 0. ``--check`` rebuilds in memory and compares with the committed file.

The price model (:func:`synthetic_price`) is plain numpy, so it can be imported and tested
without simbench installed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = DATA_DIR / "powergrid_default.csv.gz"

#: The simbench version the committed file was built with (its SHA-256 is in data/README.md).
SIMBENCH_VERSION = "1.6.3"

#: SimBench "complete data" scenario whose profile tables are read (0 = status quo). The
#: elementary profiles used here (H0/G*/L0, PV*, WP*) are identical in scenarios 0, 1 and 2;
#: only the aggregated ``mv_*`` load profiles differ between scenarios.
SIMBENCH_SCENARIO = 0

#: column name -> SimBench LoadProfile column prefix (the ``<prefix>_pload`` column is used).
LOAD_PROFILES: dict[str, str] = {
    "household": "H0-A",  # BDEW H0 type: household
    "commercial": "G0-A",  # BDEW G0 type: commerce in general
    "office": "G1-A",  # BDEW G1 type: commerce on workdays 8-18 h (offices, workshops)
    "shop": "G4-A",  # BDEW G4 type: shops, hairdressers
    "agricultural": "L0-A",  # BDEW L0 type: agriculture in general
    "mv_rural": "mv_rural",  # aggregated load of a SimBench rural MV feeder
    "mv_semiurban": "mv_semiurb",  # aggregated load of a SimBench semi-urban MV feeder
    "mv_urban": "mv_urban",  # aggregated load of a SimBench urban MV feeder
    "mv_commercial": "mv_comm",  # aggregated load of a SimBench commercial MV feeder
}
#: column name -> SimBench RESProfile column.
SOLAR_PROFILES: dict[str, str] = {"PV1": "PV1", "PV4": "PV4", "PV7": "PV7"}
WIND_PROFILES: dict[str, str] = {"WP1": "WP1", "WP4": "WP4", "WP7": "WP7"}
PRICE_NAME = "synthetic"

#: Time zone of the SimBench time stamps (local German time with DST: 27 Mar 2016 02:00-02:45
#: are missing and 30 Oct 2016 02:00-02:45 appear twice).
SIMBENCH_TZ = "Europe/Berlin"

STEP_H = 0.25
LOAD_FLOAT_FORMAT = "%.5f"  # load/solar/wind, per-unit
PRICE_FLOAT_FORMAT = "%.2f"  # $/MWh

#: Every TEST_EVERY_NTH_BLOCK-th block of BLOCK_DAYS days (counted from 1 Jan 2016 local time)
#: is test data; the rest is training data. 10 of 53 blocks -> 70 of 366 days (19 %), spread
#: over all seasons.
BLOCK_DAYS = 7
TEST_EVERY_NTH_BLOCK = 5


@dataclass(frozen=True)
class PriceModel:
    """Constants of the synthetic price model (see :func:`synthetic_price`)."""

    pv_capacity_pu: float = 0.8  # installed PV per unit of peak system load
    wind_capacity_pu: float = 0.6  # installed wind per unit of peak system load
    base_usd_mwh: float = 40.0  # a: price at zero residual load
    slope_usd_mwh: float = 100.0  # b: $/MWh per p.u. of residual load
    scarcity_usd_mwh: float = 30.0  # c: scarcity term amplitude
    scarcity_rate_per_pu: float = 8.0  # k
    scarcity_ref_pu: float = 0.8  # r0
    morning_ramp_usd_mwh: float = 8.0  # bump centred at 08:00 local
    evening_ramp_usd_mwh: float = 12.0  # bump centred at 19:00 local
    morning_hour: float = 8.0
    evening_hour: float = 19.0
    ramp_width_h: float = 1.5  # Gaussian width of both bumps
    weekend_discount_usd_mwh: float = 5.0  # subtracted on Saturdays and Sundays
    noise_std_usd_mwh: float = 8.0  # stationary standard deviation of the AR(1) noise
    noise_time_constant_h: float = 6.0  # AR(1) correlation time
    floor_usd_mwh: float = -80.0
    cap_usd_mwh: float = 300.0
    seed: int = 2016


def residual_load_pu(
    load_pu: np.ndarray, solar_pu: np.ndarray, wind_pu: np.ndarray, model: PriceModel
) -> np.ndarray:
    """Residual load r = L - c_pv * S - c_wind * W in per-unit of peak system load.

    ``load_pu`` is the system load (peak 1), ``solar_pu``/``wind_pu`` per-unit of installed
    capacity; c_pv, c_wind are the installed capacities per unit of peak load.
    """
    return load_pu - model.pv_capacity_pu * solar_pu - model.wind_capacity_pu * wind_pu


def ar1_noise(n_steps: int, step_h: float, model: PriceModel) -> np.ndarray:
    """AR(1) noise in $/MWh: n_0 = s*e_0, n_k = phi*n_{k-1} + s*sqrt(1-phi^2)*e_k.

    phi = exp(-step_h / tau); e_k standard normal from ``numpy.random.RandomState(seed)``
    (the legacy generator, whose stream numpy keeps stable across versions).
    """
    eps = np.random.RandomState(model.seed).standard_normal(n_steps)
    phi = float(np.exp(-step_h / model.noise_time_constant_h))
    innovation = model.noise_std_usd_mwh * float(np.sqrt(1.0 - phi * phi))
    noise = np.empty(n_steps, dtype=np.float64)
    state = model.noise_std_usd_mwh * float(eps[0]) if n_steps else 0.0
    for k in range(n_steps):
        if k:
            state = phi * state + innovation * float(eps[k])
        noise[k] = state
    return noise


def _daily_bump(hour_local: np.ndarray, centre_h: float, width_h: float) -> np.ndarray:
    """Gaussian bump exp(-((h - centre) / width)^2 / 2) with circular hour distance."""
    dist_h = (hour_local - centre_h + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (dist_h / width_h) ** 2)


def synthetic_price(
    load_pu: np.ndarray,
    solar_pu: np.ndarray,
    wind_pu: np.ndarray,
    hour_local: np.ndarray,
    weekday_local: np.ndarray,
    step_h: float = STEP_H,
    model: PriceModel | None = None,
) -> np.ndarray:
    """Synthetic electricity price in $/MWh, rounded to cents.

    price = clip(a + b*r + c*exp(k*(r - r0))                     merit order of residual load r
                 + A_m*bump(h, 8 h) + A_e*bump(h, 19 h)           morning/evening ramps
                 - D_we*[Saturday or Sunday]                      weekly shape
                 + n_t,                                           AR(1) noise
                 floor, cap)

    Args:
        load_pu: system load, per-unit of its peak.
        solar_pu, wind_pu: PV and wind output, per-unit of installed capacity.
        hour_local: local hour of day in [0, 24) (fractional).
        weekday_local: local day of week, Monday = 0 ... Sunday = 6.
        step_h: hours per row (sets the AR(1) coefficient).
        model: the constants; ``PriceModel()`` by default.
    """
    model = model or PriceModel()
    r = residual_load_pu(load_pu, solar_pu, wind_pu, model)
    merit = (
        model.base_usd_mwh
        + model.slope_usd_mwh * r
        + model.scarcity_usd_mwh * np.exp(model.scarcity_rate_per_pu * (r - model.scarcity_ref_pu))
    )
    daily = model.morning_ramp_usd_mwh * _daily_bump(
        hour_local, model.morning_hour, model.ramp_width_h
    ) + model.evening_ramp_usd_mwh * _daily_bump(hour_local, model.evening_hour, model.ramp_width_h)
    weekly = -model.weekend_discount_usd_mwh * (np.asarray(weekday_local) >= 5)
    price = merit + daily + weekly + ar1_noise(len(r), step_h, model)
    return np.round(np.clip(price, model.floor_usd_mwh, model.cap_usd_mwh), 2) + 0.0


def split_labels(day_index_local: np.ndarray) -> np.ndarray:
    """'test' for rows in every TEST_EVERY_NTH_BLOCK-th block of BLOCK_DAYS days, else 'train'.

    ``day_index_local`` counts local calendar days from the first day (0, 1, ...).
    """
    block = np.asarray(day_index_local) // BLOCK_DAYS
    is_test = block % TEST_EVERY_NTH_BLOCK == TEST_EVERY_NTH_BLOCK - 1
    return np.where(is_test, "test", "train")


@dataclass(frozen=True)
class Profiles:
    """Raw profile columns read from SimBench, plus the time axis."""

    time_utc: np.ndarray  # datetime64[s], UTC
    hour_local: np.ndarray  # fractional hour of day, local clock
    weekday_local: np.ndarray  # Monday = 0
    day_index_local: np.ndarray  # local calendar day counted from the first day
    load: dict[str, np.ndarray]  # raw SimBench pload values
    solar: dict[str, np.ndarray]
    wind: dict[str, np.ndarray]


def read_simbench_profiles(scenario: int = SIMBENCH_SCENARIO) -> Profiles:
    """Read the selected profile columns from the installed simbench package."""
    try:
        import pandas as pd
        import simbench
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "simbench is needed to build the data set: pip install -e '.[build-data]'"
        ) from exc

    if simbench.__version__ != SIMBENCH_VERSION:
        print(
            f"warning: simbench {simbench.__version__} installed, the committed file was built "
            f"with {SIMBENCH_VERSION}; the output may differ",
            file=sys.stderr,
        )
    folder = Path(simbench.complete_data_path(scenario))
    load_table = pd.read_csv(
        folder / "LoadProfile.csv",
        sep=";",
        usecols=["time", *(f"{col}_pload" for col in LOAD_PROFILES.values())],
        float_precision="round_trip",
    )
    res_table = pd.read_csv(
        folder / "RESProfile.csv",
        sep=";",
        usecols=["time", *SOLAR_PROFILES.values(), *WIND_PROFILES.values()],
        float_precision="round_trip",
    )
    if not load_table["time"].equals(res_table["time"]):
        raise RuntimeError("SimBench LoadProfile and RESProfile time stamps differ")

    local = pd.to_datetime(load_table["time"], format="%d.%m.%Y %H:%M").dt.tz_localize(
        SIMBENCH_TZ, ambiguous="infer", nonexistent="raise"
    )
    utc = local.dt.tz_convert("UTC").dt.tz_localize(None)
    steps = np.diff(utc.to_numpy().astype("datetime64[s]").astype(np.int64))
    if not np.all(steps == int(STEP_H * 3600)):
        raise RuntimeError("SimBench time stamps are not evenly spaced after UTC conversion")
    local_date = local.dt.tz_localize(None).dt.normalize()
    day_index = ((local_date - local_date.iloc[0]).dt.days).to_numpy()

    return Profiles(
        time_utc=utc.to_numpy().astype("datetime64[s]"),
        hour_local=(local.dt.hour + local.dt.minute / 60.0).to_numpy(dtype=np.float64),
        weekday_local=local.dt.dayofweek.to_numpy(dtype=np.int64),
        day_index_local=day_index.astype(np.int64),
        load={
            name: load_table[f"{col}_pload"].to_numpy(dtype=np.float64)
            for name, col in LOAD_PROFILES.items()
        },
        solar={
            name: res_table[col].to_numpy(dtype=np.float64) for name, col in SOLAR_PROFILES.items()
        },
        wind={
            name: res_table[col].to_numpy(dtype=np.float64) for name, col in WIND_PROFILES.items()
        },
    )


def normalise_load(raw: np.ndarray) -> np.ndarray:
    """Load per-unit of its annual peak: raw / max(raw), clipped to [0, 1]."""
    return np.clip(raw / np.max(raw), 0.0, 1.0)


def normalise_res(raw: np.ndarray) -> np.ndarray:
    """RES output per-unit of installed capacity: SimBench values clipped to [0, 1].

    (SimBench wind profiles hold a few values of about -1e-5, i.e. numerical zeros.)
    """
    return np.clip(raw, 0.0, 1.0)


@dataclass(frozen=True)
class Table:
    """The built data set, column-wise, before formatting."""

    time_utc: np.ndarray
    load: dict[str, np.ndarray]
    solar: dict[str, np.ndarray]
    wind: dict[str, np.ndarray]
    price: dict[str, np.ndarray]
    split: np.ndarray


def build_table(profiles: Profiles, model: PriceModel | None = None) -> Table:
    """Normalise the profiles, add the synthetic price and the split column."""
    load = {name: _round(normalise_load(v), 5) for name, v in profiles.load.items()}
    solar = {name: _round(normalise_res(v), 5) for name, v in profiles.solar.items()}
    wind = {name: _round(normalise_res(v), 5) for name, v in profiles.wind.items()}
    system_load = np.mean(list(load.values()), axis=0)
    system_load = system_load / system_load.max()
    price = synthetic_price(
        system_load,
        np.mean(list(solar.values()), axis=0),
        np.mean(list(wind.values()), axis=0),
        profiles.hour_local,
        profiles.weekday_local,
        STEP_H,
        model,
    )
    return Table(
        time_utc=profiles.time_utc,
        load=load,
        solar=solar,
        wind=wind,
        price={PRICE_NAME: price},
        split=split_labels(profiles.day_index_local),
    )


def _round(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round and turn -0.0 into 0.0 so the formatted text never reads '-0.00000'."""
    return np.round(values, decimals) + 0.0


def to_csv_bytes(table: Table) -> bytes:
    """Format ``table`` in the project's CSV layout and gzip it deterministically.

    Values are written with fixed formats (adding 0.0 first turns -0.0 into 0.0). Values
    that round to zero at the written precision but are negative (e.g. -1e-7) would still
    read "-0.00000"; :func:`build_table` rounds before formatting, so that cannot happen.
    """
    header = ["time_utc"]
    columns: list[np.ndarray] = [np.char.add(np.datetime_as_string(table.time_utc, unit="s"), "Z")]
    for kind, series, fmt in (
        ("load", table.load, LOAD_FLOAT_FORMAT),
        ("solar", table.solar, LOAD_FLOAT_FORMAT),
        ("wind", table.wind, LOAD_FLOAT_FORMAT),
        ("price", table.price, PRICE_FLOAT_FORMAT),
    ):
        for name, values in series.items():
            header.append(f"{kind}:{name}")
            columns.append(np.char.mod(fmt, np.asarray(values, dtype=np.float64) + 0.0))
    header.append("split")
    columns.append(table.split)
    lines = [",".join(header)]
    lines.extend(",".join(row) for row in zip(*(c.tolist() for c in columns), strict=True))
    text = "\n".join(lines) + "\n"
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("ascii"))
    return buffer.getvalue()


def build_bytes() -> bytes:
    """Read SimBench, build the table and return the gzipped CSV."""
    return to_csv_bytes(build_table(read_simbench_profiles()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .csv.gz path")
    parser.add_argument(
        "--check", action="store_true", help="rebuild in memory and compare with --out"
    )
    args = parser.parse_args(argv)
    data = build_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print(f"{args.out}: {'identical' if same else 'DIFFERS'} (rebuilt sha256 {digest})")
        return 0 if same else 1
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
