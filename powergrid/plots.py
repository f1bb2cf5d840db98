"""Figures: the overview of a run and the single-line diagram of a network."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from powergrid.safety import VM_MAX_PU, VM_MIN_PU


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_overview(timeseries_csv: str | os.PathLike[str], out_png: str | os.PathLike[str],
                  title: str = "") -> Path:
    """Four panels a grid engineer looks at first, against time in hours.

    1. voltage envelope: min and max over energised buses, with the 0.95-1.05 band;
    2. power at the PCC (MW) with the price ($/MWh) on a second axis;
    3. state of charge of every battery;
    4. cumulative cost ($) and cumulative safety.
    """
    import pandas as pd

    plt = _pyplot()
    df = pd.read_csv(timeseries_csv)
    hours = (df["time"] - df["time"].iloc[0]) / 3600.0 if len(df) else df["time"]
    vm = df[[c for c in df.columns if c.startswith("vm_pu:")]].to_numpy(float)
    vm = np.where(vm > 0.0, vm, np.nan)
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    ax = axes[0]
    if vm.size and np.isfinite(vm).any():
        ax.fill_between(hours, np.nanmin(vm, axis=1), np.nanmax(vm, axis=1), color="tab:blue",
                        alpha=0.35, label="bus voltage range")
        ax.plot(hours, np.nanmin(vm, axis=1), color="tab:blue", lw=1)
        ax.plot(hours, np.nanmax(vm, axis=1), color="tab:blue", lw=1)
    ax.axhspan(VM_MIN_PU, VM_MAX_PU, color="tab:green", alpha=0.08)
    for v in (VM_MIN_PU, VM_MAX_PU):
        ax.axhline(v, color="tab:red", ls="--", lw=0.8)
    ax.set_ylabel("voltage (p.u.)")
    ax.legend(loc="upper right")
    ax = axes[1]
    ax.plot(hours, df["pcc_p_mw"], color="tab:purple", label="PCC import (MW)")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_ylabel("PCC power (MW)")
    ax2 = ax.twinx()
    ax2.plot(hours, df["price"], color="tab:orange", lw=1, label="price ($/MWh)")
    ax2.set_ylabel("price ($/MWh)")
    ax = axes[2]
    for col in (c for c in df.columns if c.startswith("soc:")):
        ax.plot(hours, df[col], label=col[4:])
    ax.set_ylabel("state of charge")
    ax.set_ylim(-0.02, 1.02)
    if any(c.startswith("soc:") for c in df.columns):
        ax.legend(loc="upper right")
    ax = axes[3]
    ax.plot(hours, df["cost"].cumsum(), color="tab:brown", label="cumulative cost ($)")
    ax.set_ylabel("cumulative cost ($)")
    ax2 = ax.twinx()
    ax2.plot(hours, df["safety"].cumsum(), color="tab:red", lw=1, label="cumulative safety")
    ax2.set_ylabel("cumulative safety")
    ax.set_xlabel("time (h)")
    fig.suptitle(title or "run overview")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


_DEVICE_MARKERS = {  # pandapower element -> (marker, colour, label)
    "sgen_DG": ("s", "tab:red", "generator"),
    "sgen_PV": ("*", "gold", "PV"),
    "sgen_WP": ("^", "tab:cyan", "wind"),
    "storage": ("D", "tab:green", "battery"),
    "shunt": ("P", "tab:purple", "capacitor/reactor"),
    "load": ("v", "grey", "load"),
}


def bus_xy(net: Any) -> np.ndarray:
    """Bus coordinates from the net's geodata, or a tree layout from the slack."""
    import json

    xy = np.full((len(net.bus), 2), np.nan)
    if "geo" in net.bus:
        for k, geo in enumerate(net.bus["geo"]):
            if isinstance(geo, str) and geo:
                xy[k] = json.loads(geo)["coordinates"][:2]
    if np.isfinite(xy).all():
        return xy
    return _tree_layout(net)


def _tree_layout(net: Any) -> np.ndarray:
    import pandapower.topology as top

    graph = top.create_nxgraph(net, respect_switches=False)
    pos = {b: k for k, b in enumerate(net.bus.index)}
    roots = list(net.ext_grid.bus) or [net.bus.index[0]]
    xy = np.zeros((len(net.bus), 2))
    depth = {roots[0]: 0}
    order = [roots[0]]
    for u in order:
        for v in graph.neighbors(u):
            if v not in depth:
                depth[v] = depth[u] + 1
                order.append(v)
    next_x: dict[int, int] = {}
    for b in order:
        d = depth[b]
        xy[pos[b]] = (next_x.get(d, 0), -d)
        next_x[d] = next_x.get(d, 0) + 1
    return xy


def draw_network(net: Any, out_png: str | os.PathLike[str], title: str = "",
                 vm_min_pu: Mapping[str, float] | None = None) -> Path:
    """Single-line diagram: lines, transformers (double circles), switches,
    devices marked by type, bus names; buses coloured by ``vm_min_pu``
    (``{bus name: minimum voltage of a run}``) when given."""
    plt = _pyplot()
    xy = bus_xy(net)
    pos = {b: k for k, b in enumerate(net.bus.index)}
    fig, ax = plt.subplots(figsize=(10, 8))
    for _, line in net.line.iterrows():
        a, b = xy[pos[line.from_bus]], xy[pos[line.to_bus]]
        ax.plot([a[0], b[0]], [a[1], b[1]], color="black", lw=1.2,
                ls="-" if line.in_service else ":")
    for _, tr in net.trafo.iterrows():
        a, b = xy[pos[tr.hv_bus]], xy[pos[tr.lv_bus]]
        ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:blue", lw=1.5)
        mid = (a + b) / 2
        for shift in (-0.12, 0.12):
            ax.add_patch(plt.Circle(mid + shift * (b - a) / max(np.linalg.norm(b - a), 1e-9),
                                    0.08 * max(np.ptp(xy[:, 0]), 1) / 10, fill=False,
                                    color="tab:blue"))
    for _, sw in net.switch.iterrows():
        if sw.et == "b":
            a, b = xy[pos[sw.bus]], xy[pos[sw.element]]
            ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:olive", lw=2,
                    ls="-" if sw.closed else "--")
    colours = "tab:gray"
    if vm_min_pu:
        values = np.array([vm_min_pu.get(str(n), np.nan) for n in net.bus["name"]])
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, cmap="RdYlGn", vmin=0.9, vmax=1.0, s=60,
                        zorder=3, edgecolors="black")
        fig.colorbar(sc, ax=ax, label="minimum voltage of the run (p.u.)")
    else:
        ax.scatter(xy[:, 0], xy[:, 1], color=colours, s=40, zorder=3)
    span = max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1.0)
    offset = 0.025 * span
    seen: set[str] = set()
    placed: dict[int, int] = {}  # markers already drawn at each bus: set them side by side
    for table in ("load", "shunt", "storage", "sgen"):
        for _, el in net[table].iterrows():
            key = f"sgen_{el.type}" if table == "sgen" else table
            marker, colour, label = _DEVICE_MARKERS.get(key, ("o", "black", table))
            k = placed.get(el.bus, 0)
            placed[el.bus] = k + 1
            p = xy[pos[el.bus]] + (offset * (1 + 1.6 * k), -offset)
            ax.scatter(*p, marker=marker, color=colour, s=70, zorder=4,
                       label=None if label in seen else label, edgecolors="black",
                       linewidths=0.4)
            seen.add(label)
    for name, (x, y) in zip(net.bus["name"], xy, strict=True):
        ax.annotate(str(name), (x, y), textcoords="offset points", xytext=(4, 5), fontsize=7)
    ax.set_title(title or net.name or "network")
    ax.set_aspect("equal", adjustable="datalim")
    ax.axis("off")
    if seen:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_learning_curve(x: Sequence[float], returns: Sequence[float],
                        costs: Sequence[float], out_png: str | os.PathLike[str], *,
                        xlabel: str, return_label: str, title: str) -> None:
    """A training run's mean episode return (left axis, symlog: the first episodes'
    safety penalties dwarf the rest) and mean episode cost in $ (right axis)."""
    if not len(x):
        return
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(x, returns, color="tab:blue")
    ax.set_yscale("symlog", linthresh=10.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(return_label, color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(x, costs, color="tab:brown", lw=1)
    ax2.set_ylabel("mean episode cost ($)", color="tab:brown")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
