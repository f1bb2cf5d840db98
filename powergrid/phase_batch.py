"""N copies of a three-phase grid behind the batched grid model's interface: the grid of
the single-agent environment (one copy) and of the vector environment when a scenario's
``physics`` is ``"three_phase"``.

:class:`ThreePhaseBatchGridModel` answers the grid federate's ``GridBatch`` calls
(``reset(copies)``, ``step(values, p_mw, q_mvar, positions, price, dt_h, load_scale)``,
``initial_state(n)``) as :class:`powergrid.gridmodel.BatchGridModel` does, with one
:class:`~powergrid.phase_gridmodel.ThreePhaseGridModel` (its own OpenDSS circuit) per
copy, solved in turn: the physics and the settlement are that model's, so a copy's
results are those of ``powergrid run --physics three_phase`` at the same inputs. The
state adds ``vm_phase_pu`` ``(N, n_phase)`` (:attr:`phase_names` order), which the
agents' views observe per bus-phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandapower as pp

from powergrid.devices.discrete import Transformer
from powergrid.devices.grid import Grid
from powergrid.gridmodel import GridResult, initial_batch_state
from powergrid.phase_gridmodel import ThreePhaseGridModel
from powergrid.records import GridBatchState


@dataclass
class PhaseBatchResult:
    """One step of every copy (their :class:`~powergrid.gridmodel.GridResult` s)."""

    results: list[GridResult]

    def record(self) -> GridBatchState:
        """The step as the grid federate publishes a batched one, one row per copy."""
        r = self.results

        def rows(key: str) -> np.ndarray:
            return np.stack([np.asarray(getattr(x, key), dtype=float) for x in r])

        terms = sorted({t for x in r for t in x.safety_terms})
        return GridBatchState(
            converged=np.array([x.converged for x in r]), vm_pu=rows("vm_pu"),
            va_degree=rows("va_degree"), line_loading_percent=rows("line_loading_percent"),
            trafo_loading_percent=rows("trafo_loading_percent"), pcc_p_mw=rows("pcc_p_mw"),
            pcc_q_mvar=rows("pcc_q_mvar"), pcc_cost=rows("pcc_cost"),
            pcc_safety=rows("pcc_safety"),
            energy_cost=np.array([x.cost_terms.get("energy", 0.0) for x in r]),
            safety_terms={t: np.array([x.safety_terms.get(t, 0.0) for x in r]) for t in terms},
            fallback=np.zeros(len(r), dtype=bool),
            regulator_tap_pos=rows("regulator_tap_pos"), vm_phase_pu=rows("vm_phase_pu"))


class ThreePhaseBatchGridModel:
    """``n_copies`` of the scenario's ``net`` on the three-phase ``feeder``.

    ``series`` names the columns of the values rows (loads follow their series through
    ``load_profiles``); ``injecting`` and ``positional`` name the elements whose P/Q
    (MW, Mvar) and positions arrive as columns; ``pccs`` and ``regulators`` as
    :class:`~powergrid.phase_gridmodel.ThreePhaseGridModel`'s.
    """

    def __init__(self, net: pp.pandapowerNet, feeder: str, n_copies: int,
                 series: Sequence[str], load_profiles: dict[str, str], pccs: Sequence[Grid],
                 injecting: Sequence[str], positional: Sequence[str],
                 regulators: Sequence[Transformer] = ()) -> None:
        self.n = int(n_copies)
        self.copies = [ThreePhaseGridModel(net, feeder, load_profiles, pccs,
                                           regulators=regulators) for _ in range(self.n)]
        first = self.copies[0]
        self.phase_names = list(first.phase_names)
        self.regulator_names = list(first.regulator_names)
        self.series = [str(s) for s in series]
        self.injecting, self.positional = list(injecting), list(positional)
        self._sizes = (len(first.bus_names), len(first.line_names), len(first.trafo_names),
                       len(first.pcc_names), len(self.regulator_names))

    def initial_state(self, n: int) -> GridBatchState:
        """The batch state of ``n`` copies before their first solve: every bus-phase at
        1 p.u. (as every bus)."""
        state = initial_batch_state(n, *self._sizes)
        state["vm_phase_pu"] = np.ones((n, len(self.phase_names)))
        return state

    def reset(self, copies: np.ndarray) -> None:
        """Copies ``copies`` start over (their circuits back to the net's state)."""
        for c in np.asarray(copies, dtype=np.intp):
            self.copies[int(c)].reset()

    def step(self, values: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray,
             positions: np.ndarray, price_per_mwh: np.ndarray, dt_h: float,
             load_scale: float = 1.0) -> PhaseBatchResult:
        """Set every copy's loads (``values`` ``(N, S)``), injections ``(N, I)`` and
        positions ``(N, P)`` and solve it at its price ``(N,)`` ($/MWh)."""
        results = []
        for c, model in enumerate(self.copies):
            model.set_load_profiles(dict(zip(self.series, values[c].tolist(), strict=True)),
                                    load_scale)
            model.set_injections(dict(zip(self.injecting, p_mw[c].tolist(), strict=True)),
                                 dict(zip(self.injecting, q_mvar[c].tolist(), strict=True)))
            model.set_positions(dict(zip(self.positional, positions[c].tolist(), strict=True)))
            results.append(model.solve(float(price_per_mwh[c]), dt_h))
        return PhaseBatchResult(results)
