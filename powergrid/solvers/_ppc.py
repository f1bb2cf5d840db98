"""pandapower's internal (PYPOWER-style) model of a net, for the fast backend.

The fast backend does not re-implement pandapower's element models. It asks
pandapower's own converter (``_pd2ppc``, the first half of ``runpp``) for the
bus/branch model of the net in its current switch state -- bus-bus switches
fused, auxiliary buses at open line/trafo switches, unsupplied islands marked,
transformer T-models, tap ratios and phase shifts already applied -- and builds
its lightsim2grid model from that. This module is the one place that touches
pandapower's private API (pinned to pandapower 3.x in pyproject.toml).

All powers in the ppc are in MW/Mvar, impedances in per unit of
``base_mva`` and the bus's ``BASE_KV``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import _init_runpp_options
from pandapower.build_branch import _calc_branch_values_from_trafo_df
from pandapower.pd2ppc import _pd2ppc
from pandapower.pypower.idx_brch import (
    BR_B,
    BR_B_ASYM,
    BR_G,
    BR_G_ASYM,
    BR_R,
    BR_R_ASYM,
    BR_STATUS,
    BR_X,
    BR_X_ASYM,
    F_BUS,
    SHIFT,
    T_BUS,
    TAP,
)
from pandapower.pypower.idx_bus import BASE_KV, BS, BUS_TYPE, GS, NONE, PD, QD

#: the ``runpp`` arguments the reference backend passes explicitly; every other
#: option comes from pandapower's defaults or the net's ``user_pf_options``
_PASSED = ("algorithm", "init", "max_iteration", "tolerance_mva", "numba", "lightsim2grid")


@dataclass
class Ppc:
    """The parts of pandapower's ppc the fast backend uses (full ppc, not ppci).

    ``bus_of_row`` maps a ``net.bus`` row position to its ppc bus; ``energised``
    marks ppc buses pandapower keeps in the power flow; ``ranges`` gives the
    ``[start, stop)`` ppc branch rows of each branch table (``"line"``,
    ``"trafo"``, ``"trafo3w"``, ...).
    """

    base_mva: float
    bus_kv: np.ndarray          # (nb,) kV
    bus_p_mw: np.ndarray        # (nb,) constant-power demand (PD)
    bus_q_mvar: np.ndarray      # (nb,) (QD)
    bus_gs_mw: np.ndarray       # (nb,) shunt conductance at 1 p.u. (GS)
    bus_bs_mvar: np.ndarray     # (nb,) shunt susceptance at 1 p.u. (BS)
    energised: np.ndarray       # (nb,) bool
    f_bus: np.ndarray           # (nl,) int
    t_bus: np.ndarray           # (nl,) int
    r: np.ndarray               # (nl,) p.u.
    x: np.ndarray
    g: np.ndarray               # total shunt conductance of the pi model, p.u.
    b: np.ndarray               # total shunt susceptance
    g_asym: np.ndarray          # extra shunt at the to side
    b_asym: np.ndarray
    series_asym: np.ndarray     # bool: r/x differ between directions
    ratio: np.ndarray           # off-nominal ratio (1 for lines)
    shift_degree: np.ndarray
    in_service: np.ndarray      # bool (BR_STATUS)
    bus_of_row: np.ndarray      # (len(net.bus),) int
    ranges: dict[str, tuple[int, int]]
    options: dict


@dataclass
class TapTable:
    """pandapower's trafo branch parameters for every tap position.

    Row ``k`` holds the values of each ``net.trafo`` row at tap position
    ``tap_min + k`` (clipped to its own range); shape ``(span, n_trafo)``.
    """

    tap_min: np.ndarray
    r: np.ndarray
    x: np.ndarray
    g: np.ndarray
    b: np.ndarray
    g_asym: np.ndarray
    b_asym: np.ndarray
    ratio: np.ndarray
    shift_degree: np.ndarray

    def rows(self, tap_pos: np.ndarray, trafos: np.ndarray) -> np.ndarray:
        """Row index into the table for the ``trafos`` (positions) at ``tap_pos``."""
        return (np.asarray(tap_pos) - self.tap_min[trafos]).astype(np.intp)


def init_options(net: pp.pandapowerNet, max_iteration: int, tolerance_mva: float) -> dict:
    """Set ``net._options`` as ``runpp`` would for the reference backend's call."""
    passed = dict.fromkeys(_PASSED)
    _init_runpp_options(
        net, algorithm="nr", calculate_voltage_angles=True, init="flat",
        max_iteration=max_iteration, tolerance_mva=tolerance_mva, trafo_model="t",
        trafo_loading="current", enforce_p_lims=False, enforce_q_lims=False,
        check_connectivity=True, voltage_depend_loads=True, passed_parameters=passed,
        # numba=False: the same bus lookup, without numba compiling pandapower's lookup
        # functions in every process (4 s of each federate's start-up, measured by
        # cProfile of `powergrid run ieee13`, for a conversion done once per net)
        numba=False, lightsim2grid=False,
    )
    return dict(net._options)


def build_ppc(net: pp.pandapowerNet, max_iteration: int, tolerance_mva: float) -> Ppc:
    """pandapower's bus/branch model of ``net`` in its current state."""
    options = init_options(net, max_iteration, tolerance_mva)
    ppc, _ = _pd2ppc(net)
    lookups = net._pd2ppc_lookups
    bus = ppc["bus"].real
    br = ppc["branch"]
    ratio = br[:, TAP].real.copy()
    ratio[ratio == 0.0] = 1.0
    return Ppc(
        base_mva=float(ppc["baseMVA"]),
        bus_kv=bus[:, BASE_KV].copy(),
        bus_p_mw=bus[:, PD].copy(),
        bus_q_mvar=bus[:, QD].copy(),
        bus_gs_mw=bus[:, GS].copy(),
        bus_bs_mvar=bus[:, BS].copy(),
        energised=bus[:, BUS_TYPE] != NONE,
        f_bus=br[:, F_BUS].real.astype(np.intp),
        t_bus=br[:, T_BUS].real.astype(np.intp),
        r=br[:, BR_R].real.copy(),
        x=br[:, BR_X].real.copy(),
        g=br[:, BR_G].real.copy(),
        b=br[:, BR_B].real.copy(),
        g_asym=br[:, BR_G_ASYM].real.copy(),
        b_asym=br[:, BR_B_ASYM].real.copy(),
        series_asym=(br[:, BR_R_ASYM].real != 0) | (br[:, BR_X_ASYM].real != 0),
        ratio=ratio,
        shift_degree=br[:, SHIFT].real.copy(),
        in_service=br[:, BR_STATUS].real > 0,
        bus_of_row=np.asarray(lookups["bus"])[net.bus.index.to_numpy()].astype(np.intp),
        ranges={k: (int(v[0]), int(v[1])) for k, v in lookups["branch"].items()},
        options=options,
    )


def tap_table(
    net: pp.pandapowerNet,
    tap_min: np.ndarray,
    tap_max: np.ndarray,
    max_iteration: int,
    tolerance_mva: float,
    keep_tap_pos: np.ndarray | None = None,
) -> TapTable:
    """Evaluate pandapower's trafo model at every tap position in range.

    Uses pandapower's own formula (``tap_changer_type``, tap side, tap
    dependent impedance tables, phase shift all included), so a tap change in
    the fast backend is a table look-up. One pandapower call (a few ms).
    Trafos marked in ``keep_tap_pos`` (those without a tap range) keep the
    net's ``tap_pos``, even nan.
    """
    n = len(net.trafo)
    if n == 0:
        empty = np.zeros((1, 0))
        return TapTable(tap_min.copy(), *(empty.copy() for _ in range(8)))
    init_options(net, max_iteration, tolerance_mva)
    ppc, _ = _pd2ppc(net)
    span = int((tap_max - tap_min).max()) + 1
    # one call on a table holding every trafo once per tap offset (offset-major)
    offsets = np.arange(span)[:, None]
    df = pd.concat([net.trafo] * span, ignore_index=True)
    taps = np.minimum(tap_min[None, :] + offsets, tap_max[None, :]).astype(float)
    if keep_tap_pos is not None:
        original = net.trafo["tap_pos"].to_numpy(dtype=float, na_value=np.nan)
        taps[:, keep_tap_pos] = original[keep_tap_pos]
    df["tap_pos"] = taps.ravel()
    values = _calc_branch_values_from_trafo_df(net, ppc, df)
    r, x, g, b, g_asym, b_asym, ratio, shift = (
        np.broadcast_to(np.real(np.asarray(v, dtype=np.complex128)), (span * n,)).reshape(span, n)
        for v in values
    )
    ratio = ratio.copy()
    ratio[ratio == 0.0] = 1.0
    return TapTable(tap_min.copy(), r, x, g, b, g_asym, b_asym, ratio, shift)
