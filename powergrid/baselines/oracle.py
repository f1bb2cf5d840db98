"""The perfect-foresight day-ahead optimum: a mixed-integer linear program per day.

Knowing the day's loads, PV, wind and prices exactly, choose every controllable
device's setpoints for each step of the day at least cost, within the devices' limits
and with a linearised voltage model, and solve it with HiGHS (``scipy.optimize.milp``).
The schedule is then *played* through the co-simulation like any policy, so its cost
and safety are measured by the same code as every other policy's.

Model, per step ``t`` of length ``dt_h`` (all devices of the scenario's agent):

* battery: charge ``ch`` and discharge ``dis`` (MW, >= 0, one of them at a time: a
  binary mode), ``soc[t+1] = soc[t] + (eta_ch ch - dis / eta_dis) dt / E`` within the
  SOC window, the day ending no emptier than it began; reactive power within its box
  and ``sqrt(sn^2 - p_max^2)``; degradation ``cost_per_mwh (ch + dis) dt``;
* generator: commitment binary ``on`` (fixed on without unit commitment), output
  ``p_min on + sum of segments``, fuel cost as the quadratic's piecewise-linear
  interpolation on ``SEGMENTS`` segments (convex: exact at the breakpoints), ramp
  limits, start-up and shut-down costs, no output before a start-up delay has passed
  for a unit that begins the day off; reactive power as for batteries;
* curtailable PV/wind: output between 0 and the available power, curtailment cost;
* the PCC: ``import - export`` balances loads, renewables, devices and the losses of the
  base power flow; import paid at the price, export earning ``price * sell_discount``;
  at a negative price a binary direction keeps import and export from running at once;
* voltages: ``vm = vm_base + dV/dP * P + dV/dQ * Q`` per bus (sensitivities by finite
  differences of the real power flow at the day's mean load; base voltages by one
  power flow per step with the devices idle), kept in [0.95, 1.05] by slack variables
  charged ``voltage_penalty`` $ per p.u. and step (default: the reward's exchange rate
  of safety to cost, 10,000 $), planned ``VOLTAGE_MARGIN_PU`` inside the band; reactive
  power carries a token cost so it is used only where the voltages need it.

Tap changers, capacitor banks and switches stay where they start (the schedule is for
the dispatchable devices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from powergrid.devices import ESS, RES, Device, Generator
from powergrid.devices.generator import GeneratorFleet, RESFleet
from powergrid.gridmodel import GridModel
from powergrid.rewards import DEFAULT_REWARD_SCALE, DEFAULT_SAFETY_SCALE
from powergrid.safety import VM_MAX_PU, VM_MIN_PU

SEGMENTS = 8
#: the voltage band the oracle plans for, inside 0.95-1.05 by this margin (p.u.), to
#: absorb the error of the linearised voltage model
VOLTAGE_MARGIN_PU = 0.003
#: a token cost of reactive power ($ per Mvar and hour), so that Q is used only where
#: the voltages need it (a linear program is otherwise indifferent to it)
Q_COST_PER_MVARH = 0.05
#: injection step of the finite-difference voltage sensitivities, MW / Mvar
SENSITIVITY_STEP = 0.01


@dataclass
class DayInputs:
    """What the oracle knows of one day: per step, the loads' series values, every RES's
    available power (MW), the price ($/MWh); and where the devices start."""

    dt_h: float
    series: dict[str, np.ndarray]            # series name -> (T,) values
    price: np.ndarray                        # (T,) $/MWh
    soc_init: dict[str, float] = field(default_factory=dict)      # ESS -> SOC
    on_init: dict[str, float] = field(default_factory=dict)       # generator -> 0/1
    p_init: dict[str, float] = field(default_factory=dict)        # generator -> MW


class _Vars:
    """Index bookkeeping of the LP: named blocks of variables."""

    def __init__(self) -> None:
        self.n = 0
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.cost: list[float] = []
        self.integer: list[int] = []

    def add(self, count: int, lb: float | np.ndarray, ub: float | np.ndarray,
            cost: float | np.ndarray = 0.0, integer: bool = False) -> np.ndarray:
        idx = np.arange(self.n, self.n + count)
        self.n += count
        self.lb += list(np.broadcast_to(lb, count))
        self.ub += list(np.broadcast_to(ub, count))
        self.cost += list(np.broadcast_to(cost, count))
        self.integer += [int(integer)] * count
        return idx


class _Rows:
    """Sparse constraint rows ``lo <= sum(coef * x) <= hi``."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, terms: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.lo)
        for col, val in terms:
            self.rows.append(r)
            self.cols.append(int(col))
            self.vals.append(float(val))
        self.lo.append(lo)
        self.hi.append(hi)

    def constraint(self, n: int) -> LinearConstraint:
        a = coo_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lo), n)).tocsr()
        return LinearConstraint(a, np.array(self.lo), np.array(self.hi))


@dataclass
class Schedule:
    """The optimum of one day: setpoints per step, the LP's cost and status, and where
    the devices end the day (to start the next one from)."""

    setpoints: list[dict[str, dict[str, float]]]
    objective: float
    status: str
    voltage_slack_pu: float
    soc_end: dict[str, float] = field(default_factory=dict)
    on_end: dict[str, float] = field(default_factory=dict)
    p_end: dict[str, float] = field(default_factory=dict)


class DayAheadOracle:
    """Builds and solves the day-ahead problem of a scenario's agent.

    ``grid`` is a :class:`~powergrid.gridmodel.GridModel` of the scenario (the oracle
    runs its own power flows on it for the base voltages and the sensitivities);
    ``devices`` every device; ``controlled`` the agent's devices; ``profiles`` RES ->
    series; ``load_profiles`` load -> series; ``pcc`` the agent's PCC device.
    """

    def __init__(self, grid: GridModel, devices: Sequence[Device], controlled: Sequence[str],
                 profiles: Mapping[str, str], load_profiles: Mapping[str, str],
                 sell_discount: float = 1.0, load_scale: float = 1.0,
                 voltage_penalty: float = DEFAULT_SAFETY_SCALE / DEFAULT_REWARD_SCALE) -> None:
        self.grid = grid
        self.devices = list(devices)
        by_name = {d.name: d for d in self.devices}
        self.controlled = [by_name[n] for n in controlled]
        self.profiles, self.load_profiles = dict(profiles), dict(load_profiles)
        self.sell_discount, self.load_scale = sell_discount, load_scale
        self.voltage_penalty = voltage_penalty
        self.bus_of = {d.name: grid.bus_names.index(d.bus) for d in self.devices if d.bus}

    # -- the network's response ----------------------------------------------------
    def _solve_base(self, values: Mapping[str, float], avail: Mapping[str, float],
                    extra_p: Mapping[str, float] | None = None,
                    extra_q: Mapping[str, float] | None = None) -> tuple[np.ndarray, float]:
        """Voltages and losses (MW) with every device idle except the given injections."""
        g = self.grid
        g.reset()
        g.set_load_profiles(values, self.load_scale)
        p: dict[str, float] = {}
        q: dict[str, float] = {}
        for d in self.devices:
            if isinstance(d, RES):
                p[d.name] = avail.get(d.name, 0.0)
            elif isinstance(d, ESS | Generator):
                p[d.name] = 0.0
            q[d.name] = 0.0
        for name, value in (extra_p or {}).items():
            p[name] += value
        for name, value in (extra_q or {}).items():
            q[name] = q.get(name, 0.0) + value
        g.set_injections(p, q)
        ok = g.solve().converged
        s = g.solver  # the backend: the state handed to it and its results
        if not ok:
            return np.full(len(g.bus_names), np.nan), 0.0
        gen = sum(p.values())  # storage consumption is 0 here
        load = float(np.nansum(s.load_p_mw))
        losses = float(np.nansum(s.ext_grid_p_mw)) + gen - load
        return np.nan_to_num(s.vm_pu.copy(), nan=0.0), losses

    def _injection_sign(self, device: Device) -> float:
        """+1 if the device's p/q are injections (sgen), -1 if consumptions (storage)."""
        return -1.0 if isinstance(device, ESS) else 1.0

    def sensitivities(self, values: Mapping[str, float], avail: Mapping[str, float]
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``dV/dP`` and ``dV/dQ`` (p.u. per MW / Mvar of injection) of every bus to every
        controlled device, ``(n_bus, n_devices)``, by finite differences."""
        v0, _ = self._solve_base(values, avail)
        n = len(self.controlled)
        sp = np.zeros((len(v0), n))
        sq = np.zeros((len(v0), n))
        for j, dev in enumerate(self.controlled):
            if dev.ELEMENT not in ("sgen", "storage"):
                continue
            sign = self._injection_sign(dev)
            vp, _ = self._solve_base(values, avail, extra_p={dev.name: sign * SENSITIVITY_STEP})
            vq, _ = self._solve_base(values, avail, extra_q={dev.name: sign * SENSITIVITY_STEP})
            sp[:, j] = (vp - v0) / SENSITIVITY_STEP
            sq[:, j] = (vq - v0) / SENSITIVITY_STEP
        return np.nan_to_num(sp), np.nan_to_num(sq)

    # -- the day -------------------------------------------------------------------
    def solve_day(self, day: DayInputs) -> Schedule:
        """The optimal schedule of one day (``len(day.price)`` steps)."""
        t_n = len(day.price)
        dt = day.dt_h
        avail = {d.name: RESFleet([d]).available_mw(
                     np.asarray(day.series[self.profiles[d.name]], dtype=float))
                 for d in self.devices if isinstance(d, RES)}
        values_t = [{s: float(v[t]) for s, v in day.series.items()} for t in range(t_n)]
        base = [self._solve_base(values_t[t], {k: v[t] for k, v in avail.items()})
                for t in range(t_n)]
        mean_values = {s: float(np.mean(v)) for s, v in day.series.items()}
        sp, sq = self.sensitivities(mean_values, {k: float(np.mean(v))
                                                  for k, v in avail.items()})
        load_mw = np.array([self.grid.total_load_mw(values_t[t], self.load_scale)
                            for t in range(t_n)])
        fixed_res = sum((avail[d.name] for d in self.devices if isinstance(d, RES)
                         and d not in self.controlled), np.zeros(t_n))
        var, rows = _Vars(), _Rows()
        self._offsets: dict[str, np.ndarray] = {}
        self._soc_end: dict[str, int] = {}
        self._gen_names = [d.name for d in self.controlled if isinstance(d, Generator)]
        imp = var.add(t_n, 0.0, np.inf, day.price * dt)
        exp = var.add(t_n, 0.0, np.inf, -day.price * self.sell_discount * dt)
        balance: list[list[tuple[int, float]]] = [[(imp[t], 1.0), (exp[t], -1.0)]
                                                  for t in range(t_n)]
        rhs = load_mw - fixed_res + np.array([b[1] for b in base])
        self._one_direction(var, rows, imp, exp, day.price, rhs)
        p_inj: list[list[list[tuple[int, float]]]] = [[[] for _ in range(t_n)]
                                                      for _ in self.controlled]
        q_inj: list[list[list[tuple[int, float]]]] = [[[] for _ in range(t_n)]
                                                      for _ in self.controlled]
        readers: dict[str, Any] = {}
        for j, dev in enumerate(self.controlled):
            if isinstance(dev, ESS):
                readers[dev.name] = self._battery(dev, var, rows, day, balance, p_inj[j],
                                                  q_inj[j])
            elif isinstance(dev, Generator):
                readers[dev.name] = self._generator(dev, var, rows, day, balance, p_inj[j],
                                                    q_inj[j])
            elif isinstance(dev, RES) and dev.curtailable:
                readers[dev.name] = self._curtailable(dev, var, rows, day, avail[dev.name],
                                                      balance, p_inj[j], q_inj[j])
        for t in range(t_n):
            rows.add(balance[t], rhs[t], rhs[t])
        slack_idx = self._voltages(var, rows, base, sp, sq, p_inj, q_inj, t_n)
        res = milp(c=np.array(var.cost), constraints=[rows.constraint(var.n)],
                   integrality=np.array(var.integer),
                   bounds=Bounds(np.array(var.lb), np.array(var.ub)),
                   options={"time_limit": 60.0, "mip_rel_gap": 1e-6})
        if res.x is None:
            return Schedule([{} for _ in range(t_n)], float("nan"), res.message, float("nan"))
        x = res.x
        setpoints: list[dict[str, dict[str, float]]] = [{} for _ in range(t_n)]
        for name, read in readers.items():
            for t in range(t_n):
                setpoints[t][name] = read(x, t)
        slack = float(x[slack_idx].sum()) if len(slack_idx) else 0.0
        last = setpoints[-1] if setpoints else {}
        return Schedule(setpoints, float(res.fun), "optimal" if res.success else res.message,
                        slack, {n: float(x[i]) for n, i in self._soc_end.items()},
                        {n: float(last[n].get("on", 1.0)) for n in self._gen_names},
                        {n: float(last[n]["p_mw"]) for n in self._gen_names})

    def _one_direction(self, var: _Vars, rows: _Rows, imp: np.ndarray, exp: np.ndarray,
                       price: np.ndarray, rhs: np.ndarray) -> None:
        """At a negative price, buying and selling at once would earn money without
        limit (``price * (1 - sell_discount)`` per MWh of both); a binary direction per
        such step forbids it. At prices >= 0 that never pays, so no binary is needed."""
        big = float(np.max(np.abs(rhs))) + sum(
            abs(getattr(d, "p_max_mw", 0.0) or 0.0) + abs(getattr(d, "p_min_mw", 0.0) or 0.0)
            + (getattr(d, "sn_mva", 0.0) or 0.0) for d in self.devices) + 1.0
        for t in np.flatnonzero(price < 0.0):
            (buy,) = var.add(1, 0.0, 1.0, integer=True)
            rows.add([(imp[t], 1.0), (buy, -big)], -np.inf, 0.0)
            rows.add([(exp[t], 1.0), (buy, big)], -np.inf, big)

    def _reactive(self, dev: Any, var: _Vars, rows: _Rows, t_n: int, dt: float) -> np.ndarray:
        """Q variables of a device (within its limit) with a token cost on ``|Q|``."""
        q_lim = self._q_limit(dev)
        q = var.add(t_n, -q_lim, q_lim)
        size = var.add(t_n, 0.0, q_lim, Q_COST_PER_MVARH * dt)
        for t in range(t_n):
            rows.add([(size[t], 1.0), (q[t], -1.0)], 0.0, np.inf)
            rows.add([(size[t], 1.0), (q[t], 1.0)], 0.0, np.inf)
        return q

    @staticmethod
    def _q_limit(dev: Any) -> float:
        if getattr(dev, "q_min_mvar", None) is None or getattr(dev, "q_max_mvar", None) is None:
            return 0.0
        box = min(abs(dev.q_min_mvar), abs(dev.q_max_mvar))
        p_max = max(abs(getattr(dev, "p_max_mw", 0.0)), abs(getattr(dev, "p_min_mw", 0.0) or 0))
        sn = getattr(dev, "sn_mva", None)
        circle = np.sqrt(max(sn * sn - p_max * p_max, 0.0)) if sn else np.inf
        return float(min(box, circle))

    def _battery(self, dev: ESS, var: _Vars, rows: _Rows, day: DayInputs,
                 balance: list[list[tuple[int, float]]], p_inj: list, q_inj: list) -> Any:
        assert dev.p_min_mw is not None     # set in ESS.__post_init__
        t_n, dt = len(day.price), day.dt_h
        ch = var.add(t_n, 0.0, dev.p_max_mw, dev.cost_per_mwh * dt)
        dis = var.add(t_n, 0.0, -dev.p_min_mw, dev.cost_per_mwh * dt)
        mode = var.add(t_n, 0.0, 1.0, integer=True)
        soc = var.add(t_n + 1, dev.soc_min, dev.soc_max)
        q = self._reactive(dev, var, rows, t_n, dt)
        # (the previous day's end may sit a solver tolerance outside the window)
        soc0 = float(np.clip(day.soc_init.get(dev.name, dev.soc_init), dev.soc_min,
                             dev.soc_max))
        self._soc_end[dev.name] = int(soc[t_n])
        rows.add([(soc[0], 1.0)], soc0, soc0)
        rows.add([(soc[t_n], 1.0)], soc0, np.inf)  # the day ends no emptier than it began
        for t in range(t_n):
            rows.add([(soc[t + 1], 1.0), (soc[t], -1.0), (ch[t], -dev.eta_charge * dt
                                                          / dev.capacity_mwh),
                      (dis[t], dt / (dev.eta_discharge * dev.capacity_mwh))], 0.0, 0.0)
            rows.add([(ch[t], 1.0), (mode[t], -dev.p_max_mw)], -np.inf, 0.0)
            rows.add([(dis[t], 1.0), (mode[t], -dev.p_min_mw)], -np.inf, -dev.p_min_mw)
            balance[t] += [(ch[t], -1.0), (dis[t], 1.0)]  # import rises with charging
            p_inj[t] += [(ch[t], -1.0), (dis[t], 1.0)]    # injection = -consumption
            q_inj[t] += [(q[t], -1.0)]
        return lambda x, t: {"p_mw": float(x[ch[t]] - x[dis[t]]), "q_mvar": float(x[q[t]])}

    def _generator(self, dev: Generator, var: _Vars, rows: _Rows, day: DayInputs,
                   balance: list[list[tuple[int, float]]], p_inj: list, q_inj: list) -> Any:
        t_n, dt = len(day.price), day.dt_h
        edges = np.linspace(dev.p_min_mw, dev.p_max_mw, SEGMENTS + 1)
        rate = GeneratorFleet([dev]).fuel_cost_rate  # the device's own fuel cost, $/h

        def fuel(p: float) -> float:
            return float(rate(np.array([p]))[0])

        widths = np.diff(edges)
        slopes = [(fuel(edges[k + 1]) - fuel(edges[k])) / widths[k] if widths[k] > 0 else 0.0
                  for k in range(SEGMENTS)]
        fixed = dev.commitment is False
        on = var.add(t_n, 1.0 if fixed else 0.0, 1.0, fuel(dev.p_min_mw) * dt,
                     integer=not fixed)
        seg = [var.add(t_n, 0.0, widths[k], slopes[k] * dt) for k in range(SEGMENTS)]
        su = var.add(t_n, 0.0, 1.0, dev.startup_cost)
        sd = var.add(t_n, 0.0, 1.0, dev.shutdown_cost)
        q = self._reactive(dev, var, rows, t_n, dt)
        on0 = float(round(day.on_init.get(dev.name, 1.0 if dev.initially_on or fixed else 0.0)))
        p0 = float(np.clip(day.p_init.get(dev.name, 0.0), 0.0, dev.p_max_mw))
        delay = int(np.ceil(dev.startup_time_h / dt - 1e-9)) if dev.commitment else 0
        up = dev.ramp_up_mw_per_h * dt if dev.ramp_up_mw_per_h is not None else np.inf
        down = dev.ramp_down_mw_per_h * dt if dev.ramp_down_mw_per_h is not None else np.inf
        for t in range(t_n):
            for k in range(SEGMENTS):
                rows.add([(seg[k][t], 1.0), (on[t], -widths[k])], -np.inf, 0.0)
            prev_on = [(on[t - 1], -1.0)] if t else []
            rows.add([(su[t], 1.0), (on[t], -1.0), *[(i, -v) for i, v in prev_on]],
                     -on0 if not t else 0.0, np.inf)
            rows.add([(sd[t], 1.0), (on[t], 1.0), *prev_on], on0 if not t else 0.0, np.inf)
            if on0 == 0.0 and t < delay:  # still starting up
                rows.add([(on[t], 1.0)], 0.0, 0.0)
            p_terms = [(on[t], dev.p_min_mw)] + [(seg[k][t], 1.0) for k in range(SEGMENTS)]
            if np.isfinite(up) or np.isfinite(down):
                prev = ([(on[t - 1], -dev.p_min_mw)] + [(seg[k][t - 1], -1.0)
                                                        for k in range(SEGMENTS)]) if t else []
                offset = -p0 if not t else 0.0
                rows.add(p_terms + prev, -down - offset if np.isfinite(down) else -np.inf,
                         up - offset if np.isfinite(up) else np.inf)
            balance[t] += p_terms  # output lowers the import
            p_inj[t] += p_terms
            q_inj[t] += [(q[t], 1.0)]

        def read(x: np.ndarray, t: int) -> dict[str, float]:
            p = dev.p_min_mw * x[on[t]] + sum(x[seg[k][t]] for k in range(SEGMENTS))
            out = {"p_mw": float(p)}
            if dev.has_q_control:
                out["q_mvar"] = float(x[q[t]])
            if dev.commitment:  # command early by the start-up delay
                ahead = [round(x[on[min(t + s, t_n - 1)]]) for s in range(delay + 1)]
                out["on"] = int(max(ahead)) if round(x[on[t]]) == 0 else 1
            return out
        return read

    def _curtailable(self, dev: RES, var: _Vars, rows: _Rows, day: DayInputs,
                     avail: np.ndarray, balance: list[list[tuple[int, float]]], p_inj: list,
                     q_inj: list) -> Any:
        t_n, dt = len(day.price), day.dt_h
        p = var.add(t_n, 0.0, avail, -dev.curtailment_cost_per_mwh * dt)
        q = self._reactive(dev, var, rows, t_n, dt)
        for t in range(t_n):
            balance[t] += [(p[t], 1.0)]  # output lowers the import
            p_inj[t] += [(p[t], 1.0)]    # relative to the base flow, which has it at avail:
            q_inj[t] += [(q[t], 1.0)]    # the constant -avail shifts the voltage bounds
        self._offsets[dev.name] = -avail
        # curtailment cost counted against the available energy (a constant offset)
        return lambda x, t: {"p_limit_mw": float(x[p[t]]), **(
            {"q_mvar": float(x[q[t]])} if dev.has_q_control else {})}

    def _voltages(self, var: _Vars, rows: _Rows, base: list[tuple[np.ndarray, float]],
                  sp: np.ndarray, sq: np.ndarray, p_inj: list, q_inj: list,
                  t_n: int) -> np.ndarray:
        slacks: list[int] = []
        shift = np.zeros((t_n, sp.shape[0]))  # constant parts of the injections
        for j, dev in enumerate(self.controlled):
            if dev.name in self._offsets:
                shift += self._offsets[dev.name][:, None] * sp[:, j][None, :]
        for t in range(t_n):
            v0 = base[t][0] + shift[t]
            for bus in np.flatnonzero(v0 > 0.0):
                terms: list[tuple[int, float]] = []
                for j in range(len(self.controlled)):
                    if sp[bus, j]:
                        terms += [(i, coef * sp[bus, j]) for i, coef in p_inj[j][t]]
                    if sq[bus, j]:
                        terms += [(i, coef * sq[bus, j]) for i, coef in q_inj[j][t]]
                lo_slack, hi_slack = var.add(2, 0.0, np.inf, self.voltage_penalty)
                slacks += [lo_slack, hi_slack]
                rows.add(terms + [(lo_slack, 1.0), (hi_slack, -1.0)],
                         VM_MIN_PU + VOLTAGE_MARGIN_PU - v0[bus],
                         VM_MAX_PU - VOLTAGE_MARGIN_PU - v0[bus])
        return np.array(slacks, dtype=np.intp)


class SchedulePolicy:
    """Plays a list of per-step setpoints: step ``k`` of the run gets ``setpoints[k]``
    (``step_s`` seconds per step); past the end, nothing is set."""

    def __init__(self, setpoints: Sequence[dict[str, dict[str, float]]], step_s: int) -> None:
        self.setpoints, self.step_s = list(setpoints), int(step_s)

    def act(self, obs: Any) -> dict[str, dict[str, float]]:
        k = int(obs.time_s) // self.step_s
        return self.setpoints[k] if k < len(self.setpoints) else {}
