"""IEEE test-feeder line configurations and their positive-sequence parameters.

Sources
-------
* IEEE 13: "IEEE 13 Node Test Feeder", IEEE PES Distribution System Analysis
  Subcommittee (Kersting, "Radial distribution test feeders", IEEE PES Winter
  Meeting 2001), section "Impedances": configurations 601-607, the phase
  impedance matrix Z (R + jX, ohm/mile) and the shunt susceptance matrix B
  (micro-siemens/mile), upper triangle, rows in phase order a, b, c.
* IEEE 34: "IEEE 34 Node Test Feeder", same subcommittee, configurations
  300-304, same units.
* Ampacities (A, at 50 degC): conductor data table ("Table 3") of the same
  report for the overhead conductors; "Table 5" (concentric-neutral 15 kV AA
  cables, ampacity in a 4-inch duct) for the two IEEE 13 cables.

The matrices were cross-checked against OpenDSS' ``IEEELineCodes.dss`` (ohm/kft
and nF/kft), which encodes the same data.

Balanced reduction
------------------
A balanced positive-sequence model keeps one impedance per line. For a line
with n phases carrying a balanced set of phase currents (120 degrees apart),
the voltage drop on phase i is ``sum_k Z_ik I_k``; each of the other n - 1
phases adds ``Z_m I_k`` with ``I_k = I_i e^(+-j120)``. Over the phases the two
rotations occur equally often and average to -1/2, so each neighbour phase
counts ``-Z_m / 2`` and the per-phase ("sequence") impedance of the lateral is::

    Z_n = mean(diag(Z)) - (n - 1) / 2 * mean(offdiag(Z))

n = 3: ``Z_s - Z_m``, the positive-sequence element of A^-1 Z A for a
transposed line; n = 2: ``Z_s - Z_m / 2`` (one neighbour phase); n = 1:
``Z_s`` (no mutual term). The shunt susceptance reduces the same way
(``B_n``). :func:`positive_sequence` returns these per-phase values.

Balanced equivalent of an n-phase lateral (:func:`balanced_equivalent`)
-----------------------------------------------------------------------
The balanced model carries a single- or two-phase lateral's load S on three
phases. With phase voltage V, the real lateral carries ``I_n = S / (n V)``
per phase, the three-phase equivalent ``I_3 = S / (3 V) = (n / 3) I_n``.

* Same voltage drop: ``Z_eq I_3 = Z_n I_n``  =>  ``Z_eq = (3 / n) Z_n``.
* Then the same losses too: ``3 |I_3|^2 R_eq = 3 (n/3)^2 |I_n|^2 (3/n) R_n
  = n |I_n|^2 R_n`` (and the same series reactive loss).
* Same charging: n phases give ``n B_n V^2``; three give ``3 B_eq V^2``
  =>  ``B_eq = (n / 3) B_n`` (so ``C_eq = (n / 3) C_n``).
* Same loading: a rated current ``I_max`` on the real lateral is
  ``(n / 3) I_max`` on the equivalent, so ``max_i_eq = (n / 3) I_max`` keeps
  ``loading_percent`` that of the real conductors.

Modelled as a three-phase line with its own per-phase impedance (the earlier
choice), a single-phase lateral showed a third of its voltage drop and three
times its charging. Three-phase configurations are unchanged (n = 3).

pandapower wants capacitance::

    c_nf_per_km = B_eq[uS/km] / (2 pi f) * 1e3      (f = 60 Hz)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandapower as pp

KM_PER_MILE = 1.609344
M_PER_FT = 0.3048
FREQUENCY_HZ = 60.0


def _symmetric(upper: Sequence[Sequence[complex]]) -> np.ndarray:
    """Full symmetric matrix from its upper-triangular rows ([[z11, z12], [z22]])."""
    n = len(upper)
    m = np.zeros((n, n), dtype=complex)
    for i, row in enumerate(upper):
        for k, value in enumerate(row):
            m[i, i + k] = value
            m[i + k, i] = value
    return m


@dataclass(frozen=True)
class LineConfig:
    """One IEEE line configuration.

    ``z_ohm_per_mile`` and ``b_us_per_mile`` hold only the phases in ``phases``
    (in that order), upper-triangular rows as published.
    """

    name: str
    phases: str
    z_ohm_per_mile: list[list[complex]]
    b_us_per_mile: list[list[float]]
    max_i_a: float
    conductor: str
    kind: str  # pandapower line type: "ol" overhead line, "cs" cable

    def z_matrix_ohm_per_mile(self) -> np.ndarray:
        """Full phase impedance matrix (ohm/mile), phases present only."""
        return _symmetric(self.z_ohm_per_mile)

    def b_matrix_us_per_mile(self) -> np.ndarray:
        """Full shunt susceptance matrix (micro-siemens/mile), phases present only."""
        return _symmetric(self.b_us_per_mile).real


@dataclass(frozen=True)
class PositiveSequence:
    """Positive-sequence parameters in pandapower's units."""

    r_ohm_per_km: float
    x_ohm_per_km: float
    c_nf_per_km: float
    max_i_ka: float


def _sequence_value(m: np.ndarray) -> complex:
    """mean(diagonal) - (n - 1) / 2 * mean(off-diagonal) of an n x n phase matrix.

    The per-phase value under balanced phase currents (voltages): each of the
    n - 1 other phases adds its mutual term rotated by +-120 degrees, on
    average -1/2 of it (see the module docstring). n = 1: the diagonal alone.
    """
    n = m.shape[0]
    self_mean = np.trace(m) / n
    if n == 1:
        return complex(self_mean)
    mutual_mean = (m.sum() - np.trace(m)) / (n * n - n)
    return complex(self_mean - (n - 1) / 2.0 * mutual_mean)


def _to_pandapower_units(
    z_ohm_per_mile: complex, b_us_per_mile: float, max_i_a: float, f_hz: float
) -> PositiveSequence:
    b_us_per_km = b_us_per_mile / KM_PER_MILE
    # B = omega C  ->  C[nF] = B[uS] / omega * 1e3
    c_nf_per_km = b_us_per_km / (2.0 * math.pi * f_hz) * 1e3
    return PositiveSequence(
        r_ohm_per_km=z_ohm_per_mile.real / KM_PER_MILE,
        x_ohm_per_km=z_ohm_per_mile.imag / KM_PER_MILE,
        c_nf_per_km=c_nf_per_km,
        max_i_ka=max_i_a / 1000.0,
    )


def positive_sequence(config: LineConfig, f_hz: float = FREQUENCY_HZ) -> PositiveSequence:
    """Per-phase sequence r, x (ohm/km), c (nF/km) and max current (kA) of ``config``.

    These are the lateral's own per-phase values (``Z_n``, ``B_n``); the
    three-phase line that stands for it in the balanced model is
    :func:`balanced_equivalent`.
    """
    z_n = _sequence_value(config.z_matrix_ohm_per_mile())
    b_n = _sequence_value(config.b_matrix_us_per_mile()).real
    return _to_pandapower_units(z_n, b_n, config.max_i_a, f_hz)


def balanced_equivalent(config: LineConfig, f_hz: float = FREQUENCY_HZ) -> PositiveSequence:
    """The three-phase line that carries an n-phase lateral's load with the same
    voltage drop, losses, charging and loading (module docstring):
    ``Z_eq = (3/n) Z_n``, ``B_eq = (n/3) B_n``, ``I_max,eq = (n/3) I_max``.
    Identical to :func:`positive_sequence` for three-phase configurations.
    """
    n = len(config.phases)
    z_n = _sequence_value(config.z_matrix_ohm_per_mile())
    b_n = _sequence_value(config.b_matrix_us_per_mile()).real
    return _to_pandapower_units(
        z_n * 3.0 / n, b_n * n / 3.0, config.max_i_a * n / 3.0, f_hz
    )


def std_type_name(config: LineConfig) -> str:
    """Name under which ``config`` is registered as a pandapower line std type."""
    return f"IEEE {config.name}"


def register_line_std_types(net: pp.pandapowerNet, configs: dict[str, LineConfig]) -> None:
    """Register every config as a pandapower line std type ("IEEE 601", ...), with
    the parameters of its :func:`balanced_equivalent`."""
    for config in configs.values():
        seq = balanced_equivalent(config, f_hz=float(net.f_hz))
        data = {
            "r_ohm_per_km": seq.r_ohm_per_km,
            "x_ohm_per_km": seq.x_ohm_per_km,
            "c_nf_per_km": seq.c_nf_per_km,
            "max_i_ka": seq.max_i_ka,
            "type": config.kind,
        }
        pp.create_std_type(net, data, name=std_type_name(config), element="line")


# --- IEEE 13 Node Test Feeder, configurations 601-607 -----------------------------
# Ampacities: 556,500 26/7 ACSR 730 A; 4/0 6/1 ACSR 340 A; 1/0 ACSR 230 A (Table 3);
# 250 kcmil AA CN cable 260 A, 1/0 AA cable 175 A (Table 5; 607 is a tape-shielded
# 1/0 AA cable, rated here like the 1/0 AA concentric-neutral cable).
IEEE13_CONFIGS: dict[str, LineConfig] = {
    "601": LineConfig(
        name="601",
        phases="ABC",
        z_ohm_per_mile=[
            [0.3465 + 1.0179j, 0.1560 + 0.5017j, 0.1580 + 0.4236j],
            [0.3375 + 1.0478j, 0.1535 + 0.3849j],
            [0.3414 + 1.0348j],
        ],
        b_us_per_mile=[[6.2998, -1.9958, -1.2595], [5.9597, -0.7417], [5.6386]],
        max_i_a=730.0,
        conductor="556,500 26/7 ACSR, neutral 4/0 6/1 ACSR",
        kind="ol",
    ),
    "602": LineConfig(
        name="602",
        phases="ABC",
        z_ohm_per_mile=[
            [0.7526 + 1.1814j, 0.1580 + 0.4236j, 0.1560 + 0.5017j],
            [0.7475 + 1.1983j, 0.1535 + 0.3849j],
            [0.7436 + 1.2112j],
        ],
        b_us_per_mile=[[5.6990, -1.0817, -1.6905], [5.1795, -0.6588], [5.4246]],
        max_i_a=340.0,
        conductor="4/0 6/1 ACSR, neutral 4/0 6/1 ACSR",
        kind="ol",
    ),
    "603": LineConfig(
        name="603",
        phases="BC",
        z_ohm_per_mile=[[1.3294 + 1.3471j, 0.2066 + 0.4591j], [1.3238 + 1.3569j]],
        b_us_per_mile=[[4.7097, -0.8999], [4.6658]],
        max_i_a=230.0,
        conductor="1/0 ACSR, neutral 1/0 ACSR",
        kind="ol",
    ),
    "604": LineConfig(
        name="604",
        phases="AC",
        z_ohm_per_mile=[[1.3238 + 1.3569j, 0.2066 + 0.4591j], [1.3294 + 1.3471j]],
        b_us_per_mile=[[4.6658, -0.8999], [4.7097]],
        max_i_a=230.0,
        conductor="1/0 ACSR, neutral 1/0 ACSR",
        kind="ol",
    ),
    "605": LineConfig(
        name="605",
        phases="C",
        z_ohm_per_mile=[[1.3292 + 1.3475j]],
        b_us_per_mile=[[4.5193]],
        max_i_a=230.0,
        conductor="1/0 ACSR, neutral 1/0 ACSR",
        kind="ol",
    ),
    "606": LineConfig(
        name="606",
        phases="ABC",
        z_ohm_per_mile=[
            [0.7982 + 0.4463j, 0.3192 + 0.0328j, 0.2849 - 0.0143j],
            [0.7891 + 0.4041j, 0.3192 + 0.0328j],
            [0.7982 + 0.4463j],
        ],
        b_us_per_mile=[[96.8897, 0.0, 0.0], [96.8897, 0.0], [96.8897]],
        max_i_a=260.0,
        conductor="250,000 AA concentric-neutral cable",
        kind="cs",
    ),
    "607": LineConfig(
        name="607",
        phases="A",
        z_ohm_per_mile=[[1.3425 + 0.5124j]],
        b_us_per_mile=[[88.9912]],
        max_i_a=175.0,
        conductor="1/0 AA tape-shielded cable, neutral 1/0 Cu",
        kind="cs",
    ),
}

# --- IEEE 34 Node Test Feeder, configurations 300-304 -----------------------------
# Ampacities (Table 3): 1/0 ACSR 230 A; #2 6/1 ACSR 180 A; #4 6/1 ACSR 140 A.
IEEE34_CONFIGS: dict[str, LineConfig] = {
    "300": LineConfig(
        name="300",
        phases="ABC",
        z_ohm_per_mile=[
            [1.3368 + 1.3343j, 0.2101 + 0.5779j, 0.2130 + 0.5015j],
            [1.3238 + 1.3569j, 0.2066 + 0.4591j],
            [1.3294 + 1.3471j],
        ],
        b_us_per_mile=[[5.3350, -1.5313, -0.9943], [5.0979, -0.6212], [4.8880]],
        max_i_a=230.0,
        conductor="1/0 ACSR, neutral 1/0 ACSR",
        kind="ol",
    ),
    "301": LineConfig(
        name="301",
        phases="ABC",
        z_ohm_per_mile=[
            [1.9300 + 1.4115j, 0.2327 + 0.6442j, 0.2359 + 0.5691j],
            [1.9157 + 1.4281j, 0.2288 + 0.5238j],
            [1.9219 + 1.4209j],
        ],
        b_us_per_mile=[[5.1207, -1.4364, -0.9402], [4.9055, -0.5951], [4.7154]],
        max_i_a=180.0,
        conductor="#2 6/1 ACSR, neutral #2 6/1 ACSR",
        kind="ol",
    ),
    "302": LineConfig(
        name="302",
        phases="A",
        z_ohm_per_mile=[[2.7995 + 1.4855j]],
        b_us_per_mile=[[4.2251]],
        max_i_a=140.0,
        conductor="#4 6/1 ACSR, neutral #4 6/1 ACSR",
        kind="ol",
    ),
    "303": LineConfig(
        name="303",
        phases="B",
        z_ohm_per_mile=[[2.7995 + 1.4855j]],
        b_us_per_mile=[[4.2251]],
        max_i_a=140.0,
        conductor="#4 6/1 ACSR, neutral #4 6/1 ACSR",
        kind="ol",
    ),
    "304": LineConfig(
        name="304",
        phases="B",
        z_ohm_per_mile=[[1.9217 + 1.4212j]],
        b_us_per_mile=[[4.3637]],
        max_i_a=180.0,
        conductor="#2 6/1 ACSR, neutral #2 6/1 ACSR",
        kind="ol",
    ),
}
