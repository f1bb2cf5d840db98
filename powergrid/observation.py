"""What one agent sees of the co-simulation, as a vector, and what it is charged for.

An :class:`AgentView` selects the devices, buses, lines, transformers, PCCs and
series an agent observes. From an :class:`~powergrid.policies.Observation`
(the agents federate's sorted inputs) it builds

* :meth:`AgentView.vector`: a float32 vector with fixed, finite bounds
  (:meth:`AgentView.bounds`); every feature is clipped into its bounds, so an
  observation always lies in its space;
* :meth:`AgentView.account`: the cost and safety terms of the last step that
  belong to the agent (its devices, its PCCs, the voltages of its buses, the
  loading of its lines and transformers, a failed power flow).

Feature layout, in order: device features (:meth:`Device.observation_spec`),
bus voltages (p.u., in [0, 2]; 0 = not energised; with three-phase physics each bus's
phase farthest from 1 p.u.), then with three-phase physics the voltage of every
bus-phase (``vm_pu.<phase>:<bus>``, the same bounds), line and transformer
loadings (per unit, in [0, 10]), PCC active power (per unit of ``pcc_scale_mw``,
in [-10, 10]), the series values of the coming step (bounds from the data
set), the price of the ``forecast_steps`` steps after it (day-ahead prices, scaled
and bounded like the price itself; none by default), the latest value of each
message feature of the coordination protocol, and four time features (sine and
cosine of the hour of day and of the day of year, in [-1, 1]).

Feature names (:attr:`AgentView.names`) say what a value holds and in which unit:
``<element>.<quantity>_<unit>`` for a device, ``<quantity>_<unit>:<element name>`` for
the grid and the series (the ``timeseries.csv`` convention: ``vm_pu:675``). See
:data:`NAME_UNITS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from powergrid.devices import Device
from powergrid.devices.base import Feature
from powergrid.policies import Observation
from powergrid.safety import (
    NONCONVERGENCE_SAFETY,
    VM_MAX_PU,
    VM_MIN_PU,
    loading_violation,
    voltage_violation,
)

VM_BOUNDS = (0.0, 2.0)
#: the grid's safety terms that every agent carries whatever it observes
#: the grid's per-element lists an agent's account reads
_ACCOUNTED_LISTS = ("pcc_cost", "pcc_safety", "vm_pu", "vm_phase_pu", "line_loading_percent",
                    "trafo_loading_percent")
_ZERO = np.zeros(1)
_GRID_KEYS = ("vm_pu", "vm_phase_pu", "line_loading_percent", "trafo_loading_percent",
              "pcc_p_mw")


def time_features(hour_of_day: np.ndarray, day_of_year: np.ndarray) -> np.ndarray:
    """``(N, 4)``: sine and cosine of the hour of day and of the day of year."""
    h = 2 * np.pi * np.asarray(hour_of_day, dtype=float) / 24.0
    d = 2 * np.pi * np.asarray(day_of_year, dtype=float) / 365.25
    return np.stack([np.sin(h), np.cos(h), np.sin(d), np.cos(d)], axis=-1)
LOADING_BOUNDS = (0.0, 10.0)

#: the unit suffixes of :attr:`AgentView.names`, as documented in the environments
NAME_UNITS = {
    "soc": "state of charge, fraction of the energy capacity (0-1)",
    "_pu (device)": "per unit of the device's rating (ESS: its power rating; generator: "
                    "its maximum power; PV/wind: its apparent power rating)",
    "on": "unit commitment, 0 off / 1 on",
    "_frac": "position as a fraction of its range (0 = first position, 1 = last)",
    "vm_pu": "bus voltage magnitude, p.u. of the bus's nominal voltage (0: de-energised)",
    "line_loading_pu, trafo_loading_pu": "current or power per unit of the rating "
                                         "(1 = 100 %)",
    "pcc_p_pu": "active power imported at the PCC, per unit of the total nominal load",
    "load_pu, solar_pu, wind_pu": "profile value: per unit of peak load / installed capacity",
    "price_usd_per_100mwh": "energy price in $/100 MWh ($/MWh divided by 100)",
    "price_usd_per_100mwh:<name>+j": "the energy price j steps after the coming step "
                                     "(day-ahead), $/100 MWh",
    "hour_sin ... day_cos": "sine and cosine of the hour of day and of the day of year",
}
#: device feature keys with their unit in the name (scaled by the rating: ``_pu``)
_DEVICE_KEY_NAMES = {"p_mw": "p_pu", "q_mvar": "q_pu", "p_avail_mw": "p_avail_pu",
                     "soc": "soc", "on": "on"}
_SERIES_UNITS = {"load": "load_pu", "solar": "solar_pu", "wind": "wind_pu",
                 "price": "price_usd_per_100mwh"}


def device_feature_name(feature: Feature) -> str:
    """``ess1.p_pu`` for ``Feature("ess1.p_mw", "p_mw", scale=rating)``: the unit the
    value is in, not the unit of the state it is taken from."""
    device = feature.name[: -len(feature.key)].rstrip(".") if feature.name.endswith(
        feature.key) else feature.name.rsplit(".", 1)[0]
    if feature.key in _DEVICE_KEY_NAMES and (feature.scale != 1.0 or feature.key in ("soc",
                                                                                      "on")):
        quantity = _DEVICE_KEY_NAMES[feature.key]
    elif feature.offset != 0.0 or feature.key in ("tap_pos", "step", "position"):
        quantity = f"{feature.key}_frac"
    else:
        quantity = feature.key
    return f"{device}.{quantity}"


def series_feature_name(series: str) -> str:
    """``price_usd_per_100mwh:synthetic`` for the series ``price:synthetic``."""
    kind, _, name = series.partition(":")
    return f"{_SERIES_UNITS.get(kind, kind)}:{name}"


def forecast_feature_names(series: str, steps: int) -> list[str]:
    """``price_usd_per_100mwh:synthetic+1`` .. ``+steps``: the series ``steps`` steps
    ahead of the coming one."""
    return [f"{series_feature_name(series)}+{j}" for j in range(1, steps + 1)]


def message_feature_name(key: str, scale: float) -> str:
    if scale == 100.0 and key.endswith("price"):
        return f"message.{key}_usd_per_100mwh"
    return f"message.{key}"


def phase_positions(phase_names: Sequence[str], bus_names: Sequence[str] | None
                    ) -> np.ndarray:
    """Positions in ``phase_names`` (the three-phase grid's ``"<bus>.<phase>"``) of the
    phases of ``bus_names`` (None: every bus-phase), in ``phase_names`` order."""
    if bus_names is None:
        return np.arange(len(phase_names), dtype=np.intp)
    wanted = {str(b) for b in bus_names}
    return np.array([k for k, n in enumerate(phase_names) if n.rpartition(".")[0] in wanted],
                    dtype=np.intp)


def phase_feature_name(phase_name: str) -> str:
    """``vm_pu.a:675`` for the bus-phase ``675.a`` (the ``timeseries.csv`` column)."""
    bus, _, phase = phase_name.rpartition(".")
    return f"vm_pu.{phase}:{bus}"


def _element_names(names: Sequence[str] | None, positions: np.ndarray) -> list[str]:
    if names is None:
        return [str(p) for p in positions]
    return [str(names[p]) if str(names[p]) not in ("", "None", "nan") else str(p)
            for p in positions]
PCC_BOUNDS = (-10.0, 10.0)


@dataclass
class AgentView:
    """The part of the system one agent observes and answers for.

    Positions index the grid's list outputs (``vm_pu`` per ``net.bus`` row,
    ``line_loading_percent`` per ``net.line`` row, ...). ``series_bounds`` gives
    the value range of each series over the whole data set; ``price`` series
    are divided by ``price_scale`` ($/MWh) before bounding. ``forecast_series`` (one of
    the series, the price) is observed ``forecast_steps`` steps ahead too, its values
    passed to :meth:`vector` / :meth:`vectors` by the caller (the view loads no data).
    With three-phase physics ``phase_positions`` index the grid's ``vm_phase_pu`` (named
    by ``phase_names``, ``"<bus>.<phase>"``): the bus-phases observed, and
    ``charged_phase_positions`` those whose voltage the agent answers for (instead of
    its buses' ``vm_pu``: every phase, not only each bus's worst).
    """

    devices: Sequence[Device]
    bus_positions: np.ndarray
    line_positions: np.ndarray
    trafo_positions: np.ndarray
    pcc_positions: np.ndarray
    series_bounds: Mapping[str, tuple[float, float]]
    pcc_scale_mw: float = 1.0
    price_scale: float = 100.0
    time_features: bool = True
    vm_min_pu: float = VM_MIN_PU
    vm_max_pu: float = VM_MAX_PU
    billed_pcc_positions: np.ndarray | None = None
    revenue_pcc_positions: np.ndarray | None = None
    message_features: tuple[tuple[str, float, float, float], ...] = ()
    forecast_series: str | None = None
    forecast_steps: int = 0
    charged_devices: Sequence[Device] | None = None
    charged_bus_positions: np.ndarray | None = None
    charged_line_positions: np.ndarray | None = None
    charged_trafo_positions: np.ndarray | None = None
    #: element names by position (``net.bus.name`` ...) for :attr:`names`; None: positions
    bus_names: Sequence[str] | None = None
    line_names: Sequence[str] | None = None
    trafo_names: Sequence[str] | None = None
    pcc_names: Sequence[str] | None = None
    phase_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))
    charged_phase_positions: np.ndarray | None = None
    phase_names: Sequence[str] | None = None
    names: list[str] = field(init=False)
    _features: list[tuple[str, Feature]] = field(init=False)
    #: (term, columns of the grid's array) -> the agent is charged for every column
    _whole: dict[tuple[str, int, int], bool] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.bus_positions = np.asarray(self.bus_positions, dtype=np.intp)
        self.line_positions = np.asarray(self.line_positions, dtype=np.intp)
        self.trafo_positions = np.asarray(self.trafo_positions, dtype=np.intp)
        self.pcc_positions = np.asarray(self.pcc_positions, dtype=np.intp)
        self.billed_pcc_positions = np.asarray(
            self.pcc_positions if self.billed_pcc_positions is None
            else self.billed_pcc_positions, dtype=np.intp)
        self.revenue_pcc_positions = np.asarray(
            [] if self.revenue_pcc_positions is None else self.revenue_pcc_positions,
            dtype=np.intp)
        if self.charged_devices is None:
            self.charged_devices = self.devices
        self.charged_bus_positions = np.asarray(
            self.bus_positions if self.charged_bus_positions is None
            else self.charged_bus_positions, dtype=np.intp)
        self.charged_line_positions = np.asarray(
            self.line_positions if self.charged_line_positions is None
            else self.charged_line_positions, dtype=np.intp)
        self.charged_trafo_positions = np.asarray(
            self.trafo_positions if self.charged_trafo_positions is None
            else self.charged_trafo_positions, dtype=np.intp)
        self.phase_positions = np.asarray(self.phase_positions, dtype=np.intp)
        if self.charged_phase_positions is not None:
            self.charged_phase_positions = np.asarray(self.charged_phase_positions,
                                                      dtype=np.intp)
        if len(self.phase_positions) and self.phase_names is None:
            raise ValueError("phase_positions need phase_names (the grid's bus-phases)")
        self._features = [(d.name, f) for d in self.devices for f in d.observation_spec()]
        self.series = list(self.series_bounds)
        self._check_forecast()
        self.names = ([device_feature_name(f) for _, f in self._features]
                      + [f"vm_pu:{n}" for n in _element_names(self.bus_names,
                                                              self.bus_positions)]
                      + [phase_feature_name(str((self.phase_names or [])[p]))
                         for p in self.phase_positions]
                      + [f"line_loading_pu:{n}" for n in _element_names(self.line_names,
                                                                        self.line_positions)]
                      + [f"trafo_loading_pu:{n}"
                         for n in _element_names(self.trafo_names, self.trafo_positions)]
                      + [f"pcc_p_pu:{n}" for n in _element_names(self.pcc_names,
                                                                 self.pcc_positions)]
                      + [series_feature_name(s) for s in self.series]
                      + self._forecast_names()
                      + [message_feature_name(key, scale)
                         for key, scale, *_ in self.message_features]
                      + (["hour_sin", "hour_cos", "day_sin", "day_cos"] if self.time_features
                         else []))
        low, high = self._bounds()
        self._low, self._high = low, high
        self._series_scales = np.array([self._series_scale(s) for s in self.series])
        self._message_scales = np.array([scale for _, scale, *_ in self.message_features])

    @property
    def features(self) -> list[tuple[str, Feature]]:
        """``(device name, Feature)`` of every device feature, in vector order."""
        return list(self._features)

    @property
    def size(self) -> int:
        return len(self.names)

    def _check_forecast(self) -> None:
        steps = self.forecast_steps
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
            raise ValueError(f"forecast_steps must be a whole number >= 0, not {steps!r}")
        if steps and self.forecast_series not in self.series_bounds:
            raise ValueError(f"forecast_series {self.forecast_series!r} is not one of the"
                             f" observed series {self.series}")

    def _forecast_names(self) -> list[str]:
        if not self.forecast_steps or self.forecast_series is None:
            return []
        return forecast_feature_names(self.forecast_series, int(self.forecast_steps))

    def _series_scale(self, series: str) -> float:
        """What a series' values are divided by in the vector (the price: ``price_scale``)."""
        return self.price_scale if series.startswith("price:") else 1.0

    def _series_range(self, series: str) -> tuple[float, float]:
        """A series' bounds in the vector: its data set range over its scale."""
        lo, hi = self.series_bounds[series]
        scale = self._series_scale(series)
        return min(lo, hi) / scale, max(lo, hi) / scale

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lows: list[float] = [f.low for _, f in self._features]
        highs: list[float] = [f.high for _, f in self._features]
        for count, (lo, hi) in ((len(self.bus_positions) + len(self.phase_positions),
                                 VM_BOUNDS),
                                (len(self.line_positions) + len(self.trafo_positions),
                                 LOADING_BOUNDS),
                                (len(self.pcc_positions), PCC_BOUNDS)):
            lows += [lo] * count
            highs += [hi] * count
        ranges = [self._series_range(s) for s in self.series]
        if self.forecast_steps and self.forecast_series is not None:
            ranges += [self._series_range(self.forecast_series)] * int(self.forecast_steps)
        lows += [lo for lo, _ in ranges]
        highs += [hi for _, hi in ranges]
        for _, _, lo, hi in self.message_features:
            lows.append(lo)
            highs.append(hi)
        if self.time_features:
            lows += [-1.0] * 4
            highs += [1.0] * 4
        return np.array(lows, dtype=np.float32), np.array(highs, dtype=np.float32)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` float32 arrays of the observation vector."""
        return self._low.copy(), self._high.copy()

    def vector(self, obs: Observation, hour_of_day: float = 0.0,
               day_of_year: float = 0.0, forecast: np.ndarray | Sequence[float] | None = None
               ) -> np.ndarray:
        """The observation vector (float32, inside :meth:`bounds`); ``forecast`` the
        ``forecast_steps`` raw values of ``forecast_series`` after the coming step."""
        features = np.array([[f.value(obs.devices.get(name, {}).get("state") or {})
                              for name, f in self._features]], dtype=float)
        grid = {key: np.asarray(obs.grid.get(key) or [], dtype=float)[None, :]
                for key in _GRID_KEYS}
        series = np.array([[float(obs.exogenous.get(s, 0.0)) for s in self.series]])
        messages = np.array([[float(obs.messages.get(key, 0.0))
                              for key, *_ in self.message_features]])
        ahead = None if forecast is None else np.asarray(forecast, dtype=float)[None, :]
        return self.vectors(features, grid, series, messages,
                            time_features(np.array([hour_of_day]), np.array([day_of_year])),
                            ahead)[0]

    def vectors(self, device_features: np.ndarray, grid: Mapping[str, Any],
                series: np.ndarray, messages: np.ndarray | None,
                calendar: np.ndarray, forecast: np.ndarray | None = None) -> np.ndarray:
        """Observation vectors of many copies at once, ``(N, size)`` float32.

        ``device_features`` ``(N, F)`` unclipped feature values in :meth:`Device.
        observation_spec` order (see :attr:`features`); ``grid`` the grid's list
        outputs as ``(N, n)`` arrays (``vm_pu``, ``vm_phase_pu``, ``line_loading_percent``,
        ``trafo_loading_percent``, ``pcc_p_mw``); ``series`` ``(N, S)`` raw values of
        :attr:`series`; ``messages`` ``(N, M)``; ``calendar`` ``(N, 4)`` from
        :func:`time_features`; ``forecast`` ``(N, forecast_steps)`` raw values of
        ``forecast_series`` over the steps after the coming one (required when
        ``forecast_steps`` > 0). Every operation is elementwise, so a copy's vector does
        not depend on the other copies.
        """
        n = device_features.shape[0]
        parts = [device_features]
        for key, pos, scale in (("vm_pu", self.bus_positions, 1.0),
                                ("vm_phase_pu", self.phase_positions, 1.0),
                                ("line_loading_percent", self.line_positions, 100.0),
                                ("trafo_loading_percent", self.trafo_positions, 100.0),
                                ("pcc_p_mw", self.pcc_positions, self.pcc_scale_mw)):
            if len(pos) == 0:
                continue
            values = grid.get(key)
            values = np.zeros((n, len(pos))) if values is None or values.shape[-1] == 0 \
                else values[:, pos]
            parts.append(values / scale)
        if self.series:
            parts.append(series / self._series_scales)
        if self.forecast_steps and self.forecast_series is not None:
            parts.append(self._forecast_part(forecast, n))
        if self.message_features:
            parts.append(messages / self._message_scales)
        if self.time_features:
            parts.append(calendar)
        vec = np.concatenate(parts, axis=1)
        vec = np.where(np.isnan(vec), 0.0, vec)
        return np.minimum(np.maximum(vec, self._low), self._high).astype(np.float32)

    def _forecast_part(self, forecast: np.ndarray | None, n: int) -> np.ndarray:
        """The forecast values ``(n, forecast_steps)`` over their series' scale."""
        assert self.forecast_series is not None
        shape = (n, int(self.forecast_steps))
        if forecast is None or np.shape(forecast) != shape:
            raise ValueError(f"the view observes {self.forecast_series} {shape[1]} steps"
                             f" ahead: forecast must have shape {shape}, not"
                             f" {None if forecast is None else np.shape(forecast)}")
        return np.asarray(forecast, dtype=float) / self._series_scale(self.forecast_series)

    def account(self, obs: Observation) -> tuple[dict[str, float], dict[str, float]]:
        """The agent's cost terms ($) and safety terms of the step ``obs`` reports on:
        :meth:`accounts` of one copy, plus the money settled with other agents
        (``p2p``)."""
        device_cost: dict[str, np.ndarray] = {}
        device_safety: dict[str, np.ndarray] = {}
        for dev in self.charged_devices or ():
            out = obs.devices.get(dev.name, {})
            for terms, total in ((out.get("cost_terms"), device_cost),
                                 (out.get("safety_terms"), device_safety)):
                for term, value in (terms or {}).items():
                    total[term] = total.get(term, _ZERO) + float(value)
        grid = obs.grid
        rows: dict[str, Any] = {key: np.asarray(grid.get(key) or [], dtype=float)[None]
                                for key in _ACCOUNTED_LISTS}
        rows["converged"] = np.array([bool(grid.get("converged", True))])
        rows["safety_terms"] = {term: np.array([float(value)]) for term, value
                                in (grid.get("safety_terms") or {}).items()}
        cost, safety = self.accounts(device_cost, device_safety, rows)
        one_cost = {term: float(value[0]) for term, value in cost.items()}
        if obs.own.get("settlement"):
            one_cost["p2p"] = float(obs.own["settlement"])
        return one_cost, {term: float(value[0]) for term, value in safety.items()}

    def accounts(self, device_cost_terms: dict[str, np.ndarray],
                 device_safety_terms: dict[str, np.ndarray], grid: Mapping[str, Any]
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The agent's cost and safety terms ``{term: (N,)}`` of N copies, from the
        devices' terms and the grid's ``(N, n)`` arrays: the bills of its PCCs
        (``energy``; ``resale`` what it collects), the voltage and loading excess of its
        buses, lines and transformers, the rating excess of its PCCs (``pcc_rating``),
        and the grid-wide ``nonconvergence`` and ``unsupplied_load``. Row by row, like
        :meth:`vectors`; a list the grid did not send counts as empty."""
        cost = dict(device_cost_terms)
        safety = dict(device_safety_terms)
        n = len(grid["converged"])
        billed, revenue = self.billed_pcc_positions, self.revenue_pcc_positions
        buses, lines = self.charged_bus_positions, self.charged_line_positions
        trafos = self.charged_trafo_positions
        assert billed is not None and revenue is not None  # set by __post_init__
        assert buses is not None and lines is not None and trafos is not None

        def columns(key: str, positions: np.ndarray) -> np.ndarray:
            values = np.asarray(grid.get(key, np.zeros((n, 0))), dtype=float)
            if values.shape[1] == 0 or len(positions) == 0:
                return np.zeros((n, 0))
            return values[:, positions]

        if len(billed):
            cost["energy"] = columns("pcc_cost", billed).sum(axis=1)
        if len(revenue):
            cost["resale"] = -columns("pcc_cost", revenue).sum(axis=1)
        terms = grid.get("safety_terms") or {}
        # an agent charged for every bus, line and transformer of the network: the grid's
        # own sums of the same terms (powergrid.gridmodel.settle), not a second evaluation
        phases = self.charged_phase_positions
        voltage_key, voltage_pos = ("vm_pu", buses) if phases is None else ("vm_phase_pu",
                                                                           phases)
        for term, key, pos in (("voltage", voltage_key, voltage_pos),
                               ("line_loading", "line_loading_percent", lines),
                               ("trafo_loading", "trafo_loading_percent", trafos)):
            same_band = term != "voltage" or (self.vm_min_pu, self.vm_max_pu) == (VM_MIN_PU,
                                                                                 VM_MAX_PU)
            shape = np.shape(grid.get(key, ()))
            width = (term, len(shape), shape[-1] if shape else -1)
            whole = self._whole.get(width)
            if whole is None:  # decided once per width: the positions never change
                whole = self._whole[width] = _covers(pos, shape)
            if term in terms and same_band and whole:
                safety[term] = np.asarray(terms[term], dtype=float)
            elif term == "voltage":
                vm = columns(key, pos)
                safety[term] = voltage_violation(np.where(vm > 0.0, vm, np.nan),
                                                 self.vm_min_pu, self.vm_max_pu).sum(axis=1)
            else:
                safety[term] = loading_violation(columns(key, pos)).sum(axis=1)
        safety["pcc_rating"] = columns("pcc_safety", billed).sum(axis=1)
        safety["nonconvergence"] = np.where(grid["converged"], 0.0, NONCONVERGENCE_SAFETY)
        safety["unsupplied_load"] = np.asarray(terms.get("unsupplied_load", np.zeros(n)),
                                               dtype=float)
        return cost, safety


def _covers(positions: np.ndarray, shape: tuple[int, ...]) -> bool:
    """``positions`` are every column ``0..n-1`` of an ``(N, n)`` grid array, in order."""
    return (len(shape) == 2 and len(positions) == shape[1]
            and bool((positions == np.arange(shape[1])).all()))
