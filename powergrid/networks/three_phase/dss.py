"""OpenDSS command text for the project's feeder data types, one element a line.

Pure string building: nothing here needs OpenDSS installed. Units are the
published ones, handed to OpenDSS with their unit names (line matrices in ohm and
micro-siemens per mile, lengths in feet, loads in kW / kvar, kV line-to-line for
three-phase and delta elements, line-to-neutral for single-phase wye ones).

Phases are the letters "a", "b", "c" (OpenDSS nodes 1, 2, 3; node 0 is ground).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from powergrid.networks.line_configs import FREQUENCY_HZ, LineConfig

#: OpenDSS node number of each phase.
PHASE_NODE = {"a": 1, "b": 2, "c": 3}
#: OpenDSS load "model" codes of the IEEE load kinds: 1 constant P and Q, 2 constant
#: impedance, 5 constant current magnitude (OpenDSS Load object documentation).
LOAD_MODEL_CODE = {"PQ": 1, "Z": 2, "I": 5}
#: The voltage window (p.u.) within which OpenDSS keeps a load on its own model; it
#: turns a load into constant impedance outside (its defaults are 0.95 / 1.05, which
#: would change the published constant-PQ / constant-I loads at 0.94 or 1.06 p.u.).
#: Wide, so the published models hold over every voltage a feeder in service sees.
LOAD_VMIN_PU = 0.7
LOAD_VMAX_PU = 1.3


#: what stands for "." in a bus name in OpenDSS, where "." separates a bus from its nodes
#: (a composed feeder's "MG1.675" is OpenDSS bus "MG1__675"); element names keep theirs
AREA_SEPARATOR = "__"


def bus(name: str) -> str:
    """The OpenDSS spelling of bus ``name`` (:data:`AREA_SEPARATOR`)."""
    return name.replace(".", AREA_SEPARATOR)


def nodes(bus_name: str, phases: str) -> str:
    """``bus_name`` (:func:`bus`) with its OpenDSS node suffix: ``nodes("684", "ac") ==
    "684.1.3"``."""
    return bus(bus_name) + "".join(f".{PHASE_NODE[ph]}" for ph in phases.lower())


def _lower_triangle(m: np.ndarray, fmt: str = "{:.6g}") -> str:
    """An OpenDSS symmetric-matrix literal, "(m11 | m21 m22 | m31 m32 m33)"."""
    rows = [" ".join(fmt.format(m[i, k]) for k in range(i + 1)) for i in range(m.shape[0])]
    return "(" + " | ".join(rows) + ")"


def linecode(config: LineConfig, f_hz: float = FREQUENCY_HZ) -> str:
    """``LineCode.<config name>`` with the published phase matrices, phases in
    ``config.phases`` order: R and X in ohm/mile, C in nF/mile from the published
    shunt susceptance B (micro-siemens/mile): ``C = B / (2 pi f) * 1e3``. The
    off-diagonal B (and so C) are negative, as published (nodal form, which is what
    OpenDSS' cmatrix is).
    """
    z = config.z_matrix_ohm_per_mile()
    c_nf = config.b_matrix_us_per_mile() / (2.0 * math.pi * f_hz) * 1e3
    return (
        f"New LineCode.{config.name} nphases={len(config.phases)} basefreq={f_hz:g} units=mi"
        f" rmatrix={_lower_triangle(z.real)} xmatrix={_lower_triangle(z.imag)}"
        f" cmatrix={_lower_triangle(c_nf)}"
    )


def line(name: str, from_bus: str, to_bus: str, config: LineConfig, length_ft: float) -> str:
    """``Line.<name>`` of ``length_ft`` feet on the phases of ``config`` (its linecode)."""
    ph = config.phases.lower()
    return (
        f"New Line.{name} phases={len(ph)} bus1={nodes(from_bus, ph)}"
        f" bus2={nodes(to_bus, ph)} linecode={config.name} length={length_ft:g} units=ft"
    )


def switch(name: str, from_bus: str, to_bus: str) -> str:
    """A closed three-phase switch: a ``Line`` with ``switch=yes`` and a 1e-4 ohm
    series resistance (as OpenDSS IEEE13Nodeckt.dss writes the 671-692 switch)."""
    return (
        f"New Line.{name} phases=3 bus1={bus(from_bus)} bus2={bus(to_bus)} switch=yes"
        " r1=1e-4 r0=1e-4 x1=0 x0=0 c1=0 c0=0"
    )


def load(
    name: str,
    bus: str,
    phases: str,
    *,
    connection: str,
    kind: str,
    kv_ll: float,
    kw: float,
    kvar: float,
) -> str:
    """One published load column as an OpenDSS single-phase ``Load``.

    ``connection`` "Y" puts it from ``phases`` (one letter) to neutral at
    ``kv_ll / sqrt(3)``; "D" between the two ``phases`` ("ab", "bc", "ca") at
    ``kv_ll``. ``kind`` "PQ" / "I" / "Z" (:data:`LOAD_MODEL_CODE`); kW and kvar are
    the rated power at the rated voltage, written to 12 significant digits (a lumped
    share such as 2/3 of 17 kW is not cut to 6).
    """
    if connection == "Y":
        conn, kv = "wye", kv_ll / math.sqrt(3.0)
    elif connection == "D":
        conn, kv = "delta", kv_ll
    else:
        raise ValueError(f"load {name}: connection {connection!r} is neither 'Y' nor 'D'")
    return (
        f"New Load.{name} phases=1 bus1={nodes(bus, phases)} conn={conn}"
        f" model={LOAD_MODEL_CODE[kind]} kV={kv:.6g} kW={kw:.12g} kvar={kvar:.12g}"
        f" vminpu={LOAD_VMIN_PU:g} vmaxpu={LOAD_VMAX_PU:g}"
    )


def capacitor(name: str, bus: str, phases: str, *, kvar: float, kv_ll: float) -> str:
    """A wye ``Capacitor`` of ``kvar`` (all its phases together) on ``phases`` of
    ``bus``: a single-phase unit rated at the phase-to-neutral voltage ``kv_ll /
    sqrt(3)`` (a published bank is one per phase, so each can switch on its own), a
    multi-phase one at ``kv_ll``."""
    kv = kv_ll / math.sqrt(3.0) if len(phases) == 1 else kv_ll
    return (
        f"New Capacitor.{name} phases={len(phases)} bus1={nodes(bus, phases)} kvar={kvar:g}"
        f" kV={kv:.6g}"
    )


def generator(name: str, bus: str, phases: str, *, kv_ll: float) -> str:
    """A constant-P, constant-Q ``Generator`` (OpenDSS model 1) on ``phases`` of
    ``bus``, at 0 kW / 0 kvar until set; its power is split evenly over its phases
    (a balanced injection on a three-phase bus). Positive kW / kvar flow into the
    grid. Rated at ``kv_ll`` (line-to-neutral for a single phase, as OpenDSS wants)."""
    n = len(phases)
    kv = kv_ll / math.sqrt(3.0) if n == 1 else kv_ll
    return (
        f"New Generator.{name} phases={n} bus1={nodes(bus, phases)} kV={kv:.6g}"
        f" kW=0 kvar=0 model=1 vminpu={LOAD_VMIN_PU:g} vmaxpu={LOAD_VMAX_PU:g}"
    )


#: pandapower vector group -> OpenDSS winding connections (HV, LV).
VECTOR_GROUP_CONNS = {"Dyn": ("delta", "wye"), "YNyn": ("wye", "wye"), "Yyn": ("wye", "wye")}


def transformer(
    name: str,
    hv_bus: str,
    lv_bus: str,
    *,
    vector_group: str,
    kv_hv: float,
    kv_lv: float,
    sn_mva: float,
    r_percent: float,
    x_percent: float,
) -> str:
    """A three-phase two-winding ``Transformer`` from the published data: rating
    ``sn_mva``, line-to-line kV, total R % and X % on the rating (R split evenly
    between the windings), connections from the pandapower ``vector_group``."""
    conn_hv, conn_lv = VECTOR_GROUP_CONNS[vector_group]
    kva = sn_mva * 1000.0
    return (
        f"New Transformer.{name} phases=3 windings=2 buses=[{bus(hv_bus)} {bus(lv_bus)}]"
        f" conns=[{conn_hv} {conn_lv}] kVs=[{kv_hv:g} {kv_lv:g}] kVAs=[{kva:g} {kva:g}]"
        f" XHL={x_percent:g} %Rs=[{r_percent / 2:g} {r_percent / 2:g}]"
    )


def regulator_unit(
    name: str,
    from_bus: str,
    to_bus: str,
    phase: str,
    *,
    kv_ln: float,
    kva: float,
    r_percent: float,
    x_percent: float,
    tap_max: int,
    tap_step_percent: float,
    tap: int,
) -> str:
    """One single-phase step regulator on ``phase``: a 1:1 ``Transformer`` whose
    second winding (the output, ``to_bus``) has ``2 * tap_max`` steps of
    ``tap_step_percent`` and sits at step ``tap`` (positive raises the output)."""
    step = tap_step_percent / 100.0
    return (
        f"New Transformer.{name} phases=1 windings=2"
        f" buses=[{nodes(from_bus, phase)} {nodes(to_bus, phase)}] conns=[wye wye]"
        f" kVs=[{kv_ln:.6g} {kv_ln:.6g}] kVAs=[{kva:g} {kva:g}]"
        f" XHL={x_percent:g} %loadloss={r_percent:g}"
        f" numtaps={2 * tap_max} mintap={1 - tap_max * step:.6g} maxtap={1 + tap_max * step:.6g}"
        f" taps=[1 {1 + tap * step:.8g}]"
    )


def regcontrol(
    name: str,
    transformer_name: str,
    *,
    vreg_v: float,
    band_v: float,
    pt_ratio: float,
    ct_primary_a: float | None = None,
    r_v: float = 0.0,
    x_v: float = 0.0,
    winding: int = 2,
    bus_name: str | None = None,
    pt_phase: str | None = None,
    enabled: bool = True,
) -> str:
    """A ``RegControl`` moving the taps of ``winding`` of ``transformer_name``: voltage
    level and bandwidth (V on the PT's 120 V base), PT ratio, CT primary rating (A) and
    line-drop compensator R and X (V), as a regulator unit's are published; optionally
    the bus it regulates instead of its own (``bus_name``), the phase monitored
    (``pt_phase``: 1, 2, 3, MIN or MAX) and created disabled."""
    text = (f"New RegControl.{name} transformer={transformer_name} winding={winding:d}"
            f" vreg={vreg_v:.8g} band={band_v:.8g} ptratio={pt_ratio:.8g}")
    if ct_primary_a is not None:
        text += f" ctprim={ct_primary_a:g} R={r_v:g} X={x_v:g}"
    if bus_name is not None:
        text += f" bus={bus(bus_name)}"
    if pt_phase is not None:
        text += f" PTphase={pt_phase}"
    return text + ("" if enabled else " enabled=no")


def tap_range(transformer_name: str, winding: int, ratios: tuple[float, float], steps: int,
              tap: float | None = None) -> str:
    """Give ``winding`` of a three-phase ``Transformer`` ``steps`` tap steps between the
    ``ratios`` (lowest, highest; p.u.), at ratio ``tap`` if given."""
    text = (f"Edit Transformer.{transformer_name} wdg={winding:d} numtaps={steps:d}"
            f" mintap={ratios[0]:.8g} maxtap={ratios[1]:.8g}")
    return text if tap is None else text + f" tap={tap:.8g}"


def join(commands: Sequence[str]) -> str:
    """The commands as one OpenDSS script (a line each)."""
    return "\n".join(commands) + "\n"
