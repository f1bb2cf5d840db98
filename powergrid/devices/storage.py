"""Energy storage systems (batteries), pandapower's ``storage`` table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from powergrid.costs import throughput_cost
from powergrid.devices.base import (
    Device,
    Feature,
    Fleet,
    FleetOutput,
    State,
    bus_index,
    upsert_element,
)
from powergrid.devices.capability import clip
from powergrid.safety import setpoint_reduction


@dataclass(kw_only=True)
class ESS(Device):
    """A battery. ``p_mw > 0`` charges, ``p_mw < 0`` discharges, and ``q_mvar > 0``
    absorbs reactive power: pandapower's storage (load) sign convention.

    ==========================  ======  =======================================================
    parameter                   unit    meaning
    ==========================  ======  =======================================================
    ``p_min_mw``                MW      largest discharge, negative (e.g. -0.5)
    ``p_max_mw``                MW      largest charge, positive
    ``capacity_mwh``            MWh     usable energy at SOC 1
    ``soc_min, soc_max``        --      SOC window (fractions of capacity)
    ``soc_init``                --      SOC at reset (or drawn uniformly in the window
                                        when ``random_init_soc``)
    ``eta_charge``              --      charging efficiency (energy stored / drawn)
    ``eta_discharge``           --      discharging efficiency (energy delivered / taken)
    ``q_min_mvar, q_max_mvar``  Mvar    reactive setpoint range; None = no Q control
    ``sn_mva``                  MVA     converter rating (capability circle)
    ``cost_per_mwh``            $/MWh   degradation cost per MWh of throughput at the terminals
    ==========================  ======  =======================================================

    Dynamics over a step of ``dt_h`` hours::

        soc' = soc + p * eta_charge * dt_h / capacity        (p >= 0)
        soc' = soc + p / eta_discharge * dt_h / capacity     (p <  0)

    A setpoint that would take the SOC out of its window is reduced to the
    feasible power, so the SOC never leaves it; the reduction (per unit of the
    power rating) is the safety term ``soc_limit``.
    """

    p_max_mw: float
    capacity_mwh: float
    p_min_mw: float | None = None
    soc_min: float = 0.1
    soc_max: float = 0.9
    soc_init: float = 0.5
    random_init_soc: bool = False
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    q_min_mvar: float | None = None
    q_max_mvar: float | None = None
    sn_mva: float | None = None
    cost_per_mwh: float = 0.0

    ELEMENT: ClassVar[str] = "storage"

    def __post_init__(self) -> None:
        if self.p_min_mw is None:
            self.p_min_mw = -self.p_max_mw
        checks = [
            (self.capacity_mwh > 0, "capacity_mwh must be positive"),
            (self.p_min_mw <= 0 <= self.p_max_mw, "needs p_min_mw <= 0 <= p_max_mw"),
            (0 <= self.soc_min <= self.soc_init <= self.soc_max <= 1,
             "needs 0 <= soc_min <= soc_init <= soc_max <= 1"),
            (0 < self.eta_charge <= 1 and 0 < self.eta_discharge <= 1,
             "efficiencies must be in (0, 1]"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"ESS {self.name!r}: {msg}")

    @classmethod
    def fleet_class(cls) -> type[ESSFleet]:
        return ESSFleet

    @property
    def has_q_control(self) -> bool:
        return self.q_min_mvar is not None and self.q_max_mvar is not None

    def continuous_controls(self) -> dict[str, tuple[float, float]]:
        assert self.p_min_mw is not None     # set in __post_init__
        out = {"p_mw": (self.p_min_mw, self.p_max_mw)}
        if self.has_q_control:
            assert self.q_min_mvar is not None and self.q_max_mvar is not None
            out["q_mvar"] = (self.q_min_mvar, self.q_max_mvar)
        return out

    def observation_spec(self) -> list[Feature]:
        """SOC, power per unit of the power rating, Q per unit of its range."""
        assert self.p_min_mw is not None     # set in __post_init__
        rating = max(self.p_max_mw, -self.p_min_mw, 1e-9)
        out = [Feature(f"{self.name}.soc", "soc"),
               Feature(f"{self.name}.p_mw", "p_mw", scale=rating, low=-1.0)]
        if self.has_q_control:
            assert self.q_min_mvar is not None and self.q_max_mvar is not None
            q = max(abs(self.q_min_mvar), abs(self.q_max_mvar), 1e-9)
            out.append(Feature(f"{self.name}.q_mvar", "q_mvar", scale=q, low=-1.0))
        return out

    def write_to_net(self, net: Any) -> int:
        sn = np.nan if self.sn_mva is None else self.sn_mva
        values = {"bus": bus_index(net, self.bus, self.name), "p_mw": 0.0, "q_mvar": 0.0,
                  "sn_mva": sn, "max_e_mwh": self.capacity_mwh, "min_e_mwh": 0.0,
                  "soc_percent": 100.0 * self.soc_init, "max_p_mw": self.p_max_mw,
                  "min_p_mw": self.p_min_mw, "in_service": True}

        def create() -> int:
            import pandapower as pp

            return pp.create_storage(net, name=self.name, controllable=True, **values)

        return upsert_element(net, "storage", self.name, values, create)


class ESSFleet(Fleet):
    """Batteries stepped together. State: ``soc``, ``p_mw``, ``q_mvar``."""

    CONTROLS_C = ("p_mw", "q_mvar")

    def __init__(self, devices: list[ESS]) -> None:
        super().__init__(devices)
        self.p_min = self.param("p_min_mw")
        self.p_max = self.param("p_max_mw")
        self.capacity = self.param("capacity_mwh")
        self.soc_min = self.param("soc_min")
        self.soc_max = self.param("soc_max")
        self.soc_init = self.param("soc_init")
        self.random_init = np.array([d.random_init_soc for d in devices])
        self.eta_ch = self.param("eta_charge")
        self.eta_dis = self.param("eta_discharge")
        self.sn = self.param("sn_mva")
        self.capability = self.reactive_capability(self.sn, np.nan)
        self.cost_per_mwh = self.param("cost_per_mwh")
        self.p_rating = np.maximum(self.p_max, -self.p_min)

    def initial_state(self, rng: np.random.Generator | None = None) -> State:
        soc = self.soc_init.copy()
        if rng is not None and self.random_init.any():
            drawn = rng.uniform(self.soc_min, self.soc_max)
            soc = np.where(self.random_init, drawn, soc)
        return {"soc": soc, "p_mw": np.zeros(self.n), "q_mvar": np.zeros(self.n)}

    def default_controls(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((self.n, 2)), np.zeros((self.n, 0), np.int64)

    def feasible_p_range(self, soc: np.ndarray, dt_h: float) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest power in MW that keep the SOC in its window over ``dt_h``."""
        room_up = np.maximum(self.soc_max - soc, 0.0) * self.capacity
        room_down = np.maximum(soc - self.soc_min, 0.0) * self.capacity
        p_hi = np.minimum(self.p_max, room_up / (self.eta_ch * dt_h))
        p_lo = np.maximum(self.p_min, -room_down * self.eta_dis / dt_h)
        return p_lo, p_hi

    def step(self, state: State, c: np.ndarray, d: np.ndarray,
             exog: dict[str, np.ndarray], dt_h: float) -> tuple[State, FleetOutput]:
        soc = state["soc"]
        p_box = clip(c[:, 0], self.p_min, self.p_max)
        p_lo, p_hi = self.feasible_p_range(soc, dt_h)
        p = clip(p_box, p_lo, p_hi)
        energy_mwh = np.where(p >= 0.0, p * self.eta_ch, p / self.eta_dis) * dt_h
        soc_next = clip(soc + energy_mwh / self.capacity, self.soc_min, self.soc_max)
        q, q_reduction = self.capability.limit(c[:, 1], p)
        cost_terms = {"degradation": throughput_cost(p, self.cost_per_mwh, dt_h)}
        safety_terms = {"soc_limit": setpoint_reduction(p_box, p, self.p_rating),
                        "capability": q_reduction}
        new = {"soc": soc_next, "p_mw": p, "q_mvar": q}
        return new, FleetOutput(p, q, cost_terms, safety_terms)
