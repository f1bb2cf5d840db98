"""The perfect-foresight day-ahead optimum: a mixed-integer linear program per day.

Knowing the day's loads, PV, wind and prices exactly, choose every controllable
device's setpoints for each step of the day at least cost, within the devices' limits
and with a linearised voltage model, and solve it with HiGHS (``scipy.optimize.milp``).
The schedule is then *played* through the co-simulation like any policy, so its cost
and safety are measured by the same code as every other policy's.

Model, per step ``t`` of length ``dt_h`` (every agent's devices, jointly):

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
* the PCC: ``import - export`` is the power flow's import at the external grid plus
  each device's injection times its import sensitivity (about -1; the losses an
  injection saves, 0.1-0.4 MW per MW at the end of the IEEE 34, are in the finite
  difference); import paid at the price, export earning ``price * sell_discount``; at
  a negative price a binary direction keeps import and export from running at once;
* voltages: ``vm = vm_ref + dV/dP * dP + dV/dQ * dQ`` per bus, kept in [0.95, 1.05] by
  slack variables charged ``voltage_penalty`` $ per p.u. and step (default: the
  reward's exchange rate of safety to cost, 10,000 $); reactive power within its box,
  circle and minimum power factor, with a token cost so it is used only where the
  voltages need it;
* successive linearisation: the power flow is linearised per step (finite differences,
  taps held) first with the devices idle, then around each schedule found, played step
  by step through the real power flow with the automatic tap changers settling as in
  the run; where a play leaves the band the bound is tightened by
  ``VOLTAGE_MARGIN_PU``; after at most ``REPLAY_ROUNDS`` rounds, or once the play's
  import is the LP's and no bus is out, the schedule whose play costs least is kept.
  (One linearisation around idle was not enough on the microgrids' feeder: it put MG1
  above 1.05 in 5 of 48 hours, and missed that an injection there saves up to 40 % in
  losses, so the rule policy beat it.)

Controllable tap changers, capacitor banks and switches stay where they start (the
schedule is for the dispatchable devices); automatic ones regulate as in the run.
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
#: where a schedule's play leaves 0.95-1.05, the bound at that bus and step is tightened
#: by this margin (p.u.) for the next round; the first solve plans for the band itself (a
#: fixed margin inside it held idle buses next to the 1.05 p.u. source of the IEEE 34
#: in the margin, and so kept the microgrids' generators off and their Q absorbing)
VOLTAGE_MARGIN_PU = 0.001
#: at most this many solves of a day, each after replaying the last schedule through
#: the power flow and tightening the bounds it broke
REPLAY_ROUNDS = 4
#: the rounds stop once the power flow's import is this close to the LP's, every step
#: (MW)
IMPORT_TOLERANCE_MW = 1e-3
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
class Sensitivities:
    """The power flow of one step with the devices idle, and its linearisation at fixed
    taps: bus voltages ``vm_pu`` (p.u.), the import at the external grid ``import_mw``
    (MW), and per controlled device ``dV/dP``, ``dV/dQ`` ``(n_bus, n_devices)`` (p.u. per
    MW / Mvar injected) and ``dImport/dP``, ``dImport/dQ`` ``(n_devices,)`` (MW per MW /
    Mvar injected: -1 on a lossless grid; beyond -1 where an injection saves losses)."""

    vm_pu: np.ndarray
    import_mw: float
    vm_p: np.ndarray
    vm_q: np.ndarray
    import_p: np.ndarray
    import_q: np.ndarray


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
    #: the import the LP expects at the external grid per step (MW, export negative)
    import_mw: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Reference:
    """Where a day is linearised, per step: the extra injections handed to the power
    flow (by device, in the element's own sign) and each controlled device's injection
    ``(n_devices, T)`` (MW / Mvar, generation positive)."""

    extra_p: list[dict[str, float]]
    extra_q: list[dict[str, float]]
    injection_p: np.ndarray
    injection_q: np.ndarray


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
                    extra_q: Mapping[str, float] | None = None,
                    settle: bool = True) -> tuple[np.ndarray, float]:
        """Voltages (p.u.) and the import at the external grid (MW) with every device
        idle except the given injections (``settle`` the automatic tap changers or not).

        The grid is not reset between calls: automatic tap changers move on from where
        the last power flow left them (at most their ``max_tap_change`` per solve), as
        they do in the run, so a day's base flows, solved in order, see the taps the
        regulators track the load with (from tap_init, the taps 0-7 of the microgrids'
        feeder regulators could not be reached in one step)."""
        g = self.grid
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
        ok = g.solve(settle_regulators=settle).converged
        s = g.solver  # the backend: the state handed to it and its results
        if not ok:
            return np.full(len(g.bus_names), np.nan), 0.0
        return np.nan_to_num(s.vm_pu.copy(), nan=0.0), float(np.nansum(s.ext_grid_p_mw))

    def _injection_sign(self, device: Device) -> float:
        """+1 if the device's p/q are injections (sgen), -1 if consumptions (storage)."""
        return -1.0 if isinstance(device, ESS) else 1.0

    def sensitivities(self, values: Mapping[str, float], avail: Mapping[str, float],
                      extra_p: Mapping[str, float] | None = None,
                      extra_q: Mapping[str, float] | None = None) -> Sensitivities:
        """The flow at ``values`` with the devices idle but for ``extra_p``/``extra_q`` (as
        :meth:`_solve_base` takes them) and, by finite differences around it, the response
        of every bus voltage and of the import to every controlled device's injection,
        the taps held where that flow settled them."""
        extra_p, extra_q = dict(extra_p or {}), dict(extra_q or {})
        v0, import0 = self._solve_base(values, avail, extra_p, extra_q)
        n = len(self.controlled)
        out = Sensitivities(v0, import0, np.zeros((len(v0), n)), np.zeros((len(v0), n)),
                            np.zeros(n), np.zeros(n))
        for j, dev in enumerate(self.controlled):
            if dev.ELEMENT not in ("sgen", "storage"):
                continue
            step = {dev.name: extra_p.get(dev.name, 0.0)
                    + self._injection_sign(dev) * SENSITIVITY_STEP}
            vp, import_p = self._solve_base(values, avail, {**extra_p, **step}, extra_q,
                                            settle=False)
            step = {dev.name: extra_q.get(dev.name, 0.0)
                    + self._injection_sign(dev) * SENSITIVITY_STEP}
            vq, import_q = self._solve_base(values, avail, extra_p, {**extra_q, **step},
                                            settle=False)
            out.vm_p[:, j] = np.nan_to_num((vp - v0) / SENSITIVITY_STEP)
            out.vm_q[:, j] = np.nan_to_num((vq - v0) / SENSITIVITY_STEP)
            out.import_p[j] = (import_p - import0) / SENSITIVITY_STEP
            out.import_q[j] = (import_q - import0) / SENSITIVITY_STEP
        return out

    # -- the day -------------------------------------------------------------------
    def solve_day(self, day: DayInputs) -> Schedule:
        """The optimal schedule of one day (``len(day.price)`` steps), by successive
        linearisation: solved around the devices idle, then around each schedule found,
        as played through the power flow, until the play agrees with the LP's model."""
        t_n = len(day.price)
        avail = {d.name: RESFleet([d]).available_mw(
                     np.asarray(day.series[self.profiles[d.name]], dtype=float))
                 for d in self.devices if isinstance(d, RES)}
        values_t = [{s: float(v[t]) for s, v in day.series.items()} for t in range(t_n)]
        taps_at_start = self.grid.tap_pos
        tighten = np.zeros((2, t_n, len(self.grid.bus_names)))  # (low, high) bounds, p.u.
        schedule: Schedule | None = None
        best: tuple[float, Schedule] | None = None
        for round_ in range(REPLAY_ROUNDS + 1):
            self.grid.tap_pos = taps_at_start
            reference = self._reference(schedule, avail, t_n)
            base = [self.sensitivities(values_t[t], {k: v[t] for k, v in avail.items()},
                                       reference.extra_p[t], reference.extra_q[t])
                    for t in range(t_n)]
            if schedule is not None:  # the play of the last schedule: is it what it planned?
                vm = np.array([b.vm_pu for b in base])
                low, high = (vm > 0.0) & (vm < VM_MIN_PU), vm > VM_MAX_PU
                played = np.array([b.import_mw for b in base])
                cost = self._played_cost(schedule, day, played, vm)
                if best is None or cost < best[0]:
                    best = (cost, schedule)
                if not (low | high).any() \
                        and np.abs(played - schedule.import_mw).max() < IMPORT_TOLERANCE_MW:
                    break
                tighten += VOLTAGE_MARGIN_PU * np.stack([low, high])
            if round_ == REPLAY_ROUNDS:
                break
            schedule = self._solve_lp(day, avail, base, tighten, reference)
            if schedule.status != "optimal":
                return schedule
        assert best is not None
        return best[1]

    def _played_cost(self, schedule: Schedule, day: DayInputs, import_mw: np.ndarray,
                     vm_pu: np.ndarray) -> float:
        """The LP's objective with its import and voltage model replaced by what the power
        flow gave for the schedule (``import_mw`` ``(T,)``, ``vm_pu`` ``(T, n_bus)``)."""
        def bill(y: np.ndarray) -> float:
            return float(np.sum(day.price * np.where(y > 0.0, y, self.sell_discount * y))
                         * day.dt_h)

        energised = vm_pu > 0.0
        outside = np.where(energised, np.clip(VM_MIN_PU - vm_pu, 0.0, None)
                           + np.clip(vm_pu - VM_MAX_PU, 0.0, None), 0.0).sum()
        return (schedule.objective - bill(schedule.import_mw) + bill(import_mw)
                + self.voltage_penalty * (float(outside) - schedule.voltage_slack_pu))

    def _reference(self, schedule: Schedule | None, avail: Mapping[str, np.ndarray],
                   t_n: int) -> Reference:
        """Where a day is linearised: the devices idle (RES at their available power), or
        ``schedule``'s setpoints."""
        ref = Reference([{} for _ in range(t_n)], [{} for _ in range(t_n)],
                        np.zeros((len(self.controlled), t_n)),
                        np.zeros((len(self.controlled), t_n)))
        for j, dev in enumerate(self.controlled):
            sign = self._injection_sign(dev)
            for t in range(t_n):
                setpoint = schedule.setpoints[t].get(dev.name, {}) if schedule else {}
                if isinstance(dev, RES):  # the base flow has it at its available power
                    p = min(setpoint.get("p_limit_mw", np.inf), avail[dev.name][t])
                    ref.injection_p[j, t] = p
                    if setpoint:
                        ref.extra_p[t][dev.name] = p - avail[dev.name][t]
                elif setpoint:  # the element's own sign: storage p consumes, sgen injects
                    ref.extra_p[t][dev.name] = setpoint["p_mw"]
                    ref.injection_p[j, t] = sign * setpoint["p_mw"]
                if "q_mvar" in setpoint:
                    ref.extra_q[t][dev.name] = setpoint["q_mvar"]
                    ref.injection_q[j, t] = sign * setpoint["q_mvar"]
        return ref

    def _solve_lp(self, day: DayInputs, avail: Mapping[str, np.ndarray],
                  base: Sequence[Sensitivities], tighten: np.ndarray,
                  reference: Reference) -> Schedule:
        """The day's MILP, its power flow linearised as ``base`` (at the injections of
        ``reference``), the voltage bounds tightened by ``tighten`` ``(2, T, n_bus)``
        (low, high; p.u.)."""
        t_n = len(day.price)
        dt = day.dt_h
        var, rows = _Vars(), _Rows()
        self._soc_end: dict[str, int] = {}
        self._gen_names = [d.name for d in self.controlled if isinstance(d, Generator)]
        imp = var.add(t_n, 0.0, np.inf, day.price * dt)
        exp = var.add(t_n, 0.0, np.inf, -day.price * self.sell_discount * dt)
        balance: list[list[tuple[int, float]]] = [[(imp[t], 1.0), (exp[t], -1.0)]
                                                  for t in range(t_n)]
        # import = import at the reference + gain * (injection - reference injection)
        rhs = np.array([b.import_mw for b in base])
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
        for j in range(len(self.controlled)):
            for t in range(t_n):  # (the builders put in each injection at -1: the rest)
                gain_p, gain_q = base[t].import_p[j], base[t].import_q[j]
                balance[t] += [(i, -(gain_p + 1.0) * coef) for i, coef in p_inj[j][t]]
                balance[t] += [(i, -gain_q * coef) for i, coef in q_inj[j][t]]
                rhs[t] -= (gain_p * reference.injection_p[j, t]
                           + gain_q * reference.injection_q[j, t])
        for t in range(t_n):
            rows.add(balance[t], rhs[t], rhs[t])
        slack_idx = self._voltages(var, rows, base, p_inj, q_inj, t_n, tighten, reference)
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
                        {n: float(last[n]["p_mw"]) for n in self._gen_names},
                        x[imp] - x[exp])

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

    def _reactive(self, dev: Any, var: _Vars, rows: _Rows, t_n: int, dt: float,
                  p_size: Sequence[Sequence[tuple[int, float]]] | None = None) -> np.ndarray:
        """Q variables of a device (within its limit) with a token cost on ``|Q|``; with a
        minimum power factor, ``|Q| <= tan(acos(min_pf)) |P|`` too (``p_size``: per step
        the terms of ``|P|``, MW)."""
        q_lim = self._q_limit(dev)
        q = var.add(t_n, -q_lim, q_lim)
        size = var.add(t_n, 0.0, q_lim, Q_COST_PER_MVARH * dt)
        min_pf = getattr(dev, "min_pf", None)
        for t in range(t_n):
            rows.add([(size[t], 1.0), (q[t], -1.0)], 0.0, np.inf)
            rows.add([(size[t], 1.0), (q[t], 1.0)], 0.0, np.inf)
            if min_pf and p_size is not None:  # (the device's rule: capability.py)
                ratio = np.sqrt(1.0 - min_pf * min_pf) / min_pf
                rows.add([(size[t], 1.0), *[(i, -ratio * c) for i, c in p_size[t]]],
                         -np.inf, 0.0)
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
        q = self._reactive(dev, var, rows, t_n, dt, [[(ch[t], 1.0), (dis[t], 1.0)]
                                                      for t in range(t_n)])
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
        q = self._reactive(dev, var, rows, t_n, dt, [
            [(on[t], dev.p_min_mw)] + [(seg[k][t], 1.0) for k in range(SEGMENTS)]
            for t in range(t_n)])
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
        q = self._reactive(dev, var, rows, t_n, dt, [[(p[t], 1.0)] for t in range(t_n)])
        for t in range(t_n):
            balance[t] += [(p[t], 1.0)]  # output lowers the import
            p_inj[t] += [(p[t], 1.0)]    # relative to the base flow, which has it at avail:
            q_inj[t] += [(q[t], 1.0)]    # the constant -avail shifts the voltage bounds
        # curtailment cost counted against the available energy (a constant offset)
        return lambda x, t: {"p_limit_mw": float(x[p[t]]), **(
            {"q_mvar": float(x[q[t]])} if dev.has_q_control else {})}

    def _voltages(self, var: _Vars, rows: _Rows, base: Sequence[Sensitivities],
                  p_inj: list, q_inj: list, t_n: int, tighten: np.ndarray,
                  reference: Reference) -> np.ndarray:
        slacks: list[int] = []
        for t in range(t_n):
            sp, sq = base[t].vm_p, base[t].vm_q
            # vm = vm at the reference + dV/dP * (injection - reference injection) + ...
            v0 = base[t].vm_pu - sp @ reference.injection_p[:, t] \
                - sq @ reference.injection_q[:, t]
            v0[base[t].vm_pu <= 0.0] = 0.0  # de-energised
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
                         VM_MIN_PU + tighten[0, t, bus] - v0[bus],
                         VM_MAX_PU - tighten[1, t, bus] - v0[bus])
        return np.array(slacks, dtype=np.intp)


class SchedulePolicy:
    """Plays a list of per-step setpoints: step ``k`` of the run gets ``setpoints[k]``
    (``step_s`` seconds per step); past the end, nothing is set."""

    def __init__(self, setpoints: Sequence[dict[str, dict[str, float]]], step_s: int) -> None:
        self.setpoints, self.step_s = list(setpoints), int(step_s)

    def act(self, obs: Any) -> dict[str, dict[str, float]]:
        k = int(obs.time_s) // self.step_s
        return self.setpoints[k] if k < len(self.setpoints) else {}
