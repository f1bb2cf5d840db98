"""Figures: the overview of a run and the single-line diagram of a network."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from powergrid.results import PHASE_VOLTAGE_PREFIXES
from powergrid.safety import VM_MAX_PU, VM_MIN_PU


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _run_metadata(folder: Path) -> dict[str, Any]:
    """``scenario``, ``policy``, ``seed``, ``split``, ``dataset`` a run wrote next to its
    time series (``summary.json``), as far as it did."""
    import json

    try:
        data = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    keys = ("scenario", "policy", "seed", "split", "dataset", "start_step")
    return {k: data[k] for k in keys if isinstance(data, dict) and data.get(k) is not None}


def _dates(time_s: Any, split: str, dataset: str | None) -> Any:
    """Calendar time (UTC) of each ``time`` (s from the start of the data split), or
    None without time stamps in the data set."""
    import pandas as pd

    from powergrid.data import load_dataset

    try:
        data = load_dataset(dataset)
        stamps = data.time_utc(split)
    except (OSError, ValueError, KeyError):
        return None
    if stamps is None or not len(stamps):
        return None
    rows = np.round(np.asarray(time_s, dtype=float) / (3600.0 * data.step_h)).astype(int)
    return pd.to_datetime(stamps[np.clip(rows, 0, len(stamps) - 1)])


def voltage_envelopes(columns: Sequence[str]) -> dict[str, list[str]]:
    """The voltage columns of a ``timeseries.csv`` the overview draws one envelope each
    of: with three-phase physics ``{"phase a": [vm_pu.a:...], "phase b": ..., ...}`` (a
    bus's ``vm_pu:<bus>`` is its worst phase, which would hide a low phase under a high
    one), else ``{"": [vm_pu:<bus>, ...]}``."""
    phases = {f"phase {prefix[6]}": [str(c) for c in columns if str(c).startswith(prefix)]
              for prefix in PHASE_VOLTAGE_PREFIXES}
    return {k: v for k, v in phases.items() if v} or {
        "": [str(c) for c in columns if str(c).startswith("vm_pu:")]}


def plot_overview(timeseries_csv: str | os.PathLike[str], out_png: str | os.PathLike[str],
                  title: str = "", *, scenario: str | None = None, policy: str | None = None,
                  seed: int | None = None, split: str | None = None,
                  dataset: str | None = None) -> Path:
    """The panels a grid engineer looks at first, against the data's calendar time.

    1. voltage envelope: min and max over energised buses, with the 0.95-1.05 band (with
       three-phase physics one envelope per phase, over the buses that have it);
    2. power at each PCC (MW) and the energy price ($/MWh, right axis);
    3. state of charge of the batteries (one panel per agent when several agents'
       batteries would overlap), battery power dashed on the right axis;
    4. cumulative cost ($); 5. cumulative safety (violations).

    The title names the scenario, the policy, the seed and the dates of the data.
    Metadata not given is read from ``summary.json`` next to the CSV when there;
    ``split`` defaults to ``"test"`` (``powergrid run``), ``dataset`` to the shipped one.
    """
    import matplotlib.dates as mdates
    import pandas as pd

    plt = _pyplot()
    csv = Path(timeseries_csv)
    df = pd.read_csv(csv)
    meta = _run_metadata(csv.parent)
    scenario = scenario or meta.get("scenario") or title or "run"
    policy = policy if policy is not None else meta.get("policy")
    seed = seed if seed is not None else meta.get("seed")
    split = split or meta.get("split") or "test"
    dataset = dataset if dataset is not None else meta.get("dataset")
    x: Any = _dates(df["time"], split, dataset) if len(df) else None
    dated = x is not None
    if not dated:
        x = (df["time"] - (df["time"].iloc[0] if len(df) else 0)) / 3600.0
    envelopes = voltage_envelopes(df.columns)
    socs = [c for c in df.columns if c.startswith("soc:")]
    groups: dict[str, list[str]] = {}
    for c in socs:
        name = c[4:]
        groups.setdefault(name.split(".", 1)[0] if "." in name else "", []).append(name)
    soc_panels = list(groups.items()) if len(groups) > 1 else [("", [c[4:] for c in socs])]
    n = 4 + len(soc_panels)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.3 * n + 1), sharex=True)
    styles = ["-", "--", ":", "-."]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    ax = axes[0]
    for (label, columns), colour in zip(envelopes.items(),
                                        ("tab:blue", "tab:orange", "tab:purple"), strict=False):
        vm = df[columns].to_numpy(float)
        vm = np.where(vm > 0.0, vm, np.nan)
        if not (vm.size and np.isfinite(vm).any()):
            continue
        lo, hi = np.nanmin(vm, axis=1), np.nanmax(vm, axis=1)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.25,
                        label=f"{label}: lowest to highest bus (dashed)" if label
                        else "range over buses")
        ax.plot(x, lo, color=colour, lw=1, label=None if label else "lowest bus")
        ax.plot(x, hi, color=colour, lw=1, ls="--", label=None if label else "highest bus")
    ax.axhspan(VM_MIN_PU, VM_MAX_PU, color="tab:green", alpha=0.08)
    ax.axhline(VM_MIN_PU, color="tab:red", ls=":", lw=0.9,
               label=f"limits {VM_MIN_PU:g}-{VM_MAX_PU:g} p.u.")
    ax.axhline(VM_MAX_PU, color="tab:red", ls=":", lw=0.9)
    ax.set_ylabel("voltage (p.u.)")
    ax.legend(loc="upper right", fontsize=8, ncol=2)

    ax = axes[1]
    pccs = [c for c in df.columns if c.startswith("pcc_p_mw:")] or ["pcc_p_mw"]
    handles = []
    for k, col in enumerate(pccs):
        label = f"PCC {col.split(':', 1)[1]} import (MW)" if ":" in col else "PCC import (MW)"
        (h,) = ax.plot(x, df[col], color=colours[k % len(colours)], ls=styles[k % 4],
                       lw=1.2, label=label)
        handles.append(h)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_ylabel("PCC power (MW)")
    ax2 = ax.twinx()
    (h,) = ax2.plot(x, df["price"], color="black", lw=0.9, alpha=0.7, ls="-.",
                    label="price ($/MWh, right)")
    handles.append(h)
    ax2.set_ylabel("price ($/MWh)")
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=2)

    for (agent, names), ax in zip(soc_panels, axes[2:2 + len(soc_panels)], strict=True):
        handles = []
        ax2 = ax.twinx() if any(f"p_mw:{m}" in df.columns for m in names) else None
        for k, name in enumerate(names):
            colour = colours[k % len(colours)]
            (h,) = ax.plot(x, df[f"soc:{name}"], color=colour, lw=1.4,
                           label=f"{name} SOC")
            handles.append(h)
            if ax2 is not None and f"p_mw:{name}" in df.columns:
                (h,) = ax2.plot(x, df[f"p_mw:{name}"], color=colour, lw=0.9, ls="--",
                                label=f"{name} power (MW, right)")
                handles.append(h)
        if ax2 is not None:
            ax2.set_ylabel("battery power (MW)")
        ax.set_ylabel(f"{agent} state of charge" if agent else "state of charge")
        ax.set_ylim(-0.02, 1.02)
        if handles:
            ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=2)

    ax = axes[-2]
    ax.plot(x, df["cost"].cumsum(), color="tab:brown", label="cumulative cost ($)")
    ax.set_ylabel("cumulative cost ($)")
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[-1]
    ax.plot(x, df["safety"].cumsum(), color="tab:red", label="cumulative safety (violations)")
    ax.set_ylabel("cumulative safety")
    ax.legend(loc="upper left", fontsize=8)
    if dated:
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.set_xlabel("time (UTC)")
        span = f"{x[0]:%Y-%m-%d %H:%M} to {x[-1]:%Y-%m-%d %H:%M} UTC"
    else:
        ax.set_xlabel("time since the run's first step (h)")
        span = f"{len(df)} steps"
    parts = [scenario, f"policy {policy}" if policy else None,
             f"seed {seed}" if seed is not None else None, f"{split} data {span}"]
    fig.suptitle(", ".join(p for p in parts if p))
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


#: line width in the diagram by the number of a line's phases (three-phase physics)
_PHASE_WIDTHS = {1: 0.6, 2: 1.2, 3: 2.2}


def _draw_static(ax: Any, net: Any, xy: np.ndarray, dynamic_lines: Sequence[int] = (),
                 line_phases: Sequence[str] | None = None) -> dict[int, Any]:
    """Lines, transformers (double circles), bus-bus switches, devices marked by type
    and bus names on ``ax``; returns the line artists of ``dynamic_lines`` (row
    positions of ``net.line``) so a caller can restyle them (switch states). With
    ``line_phases`` (per ``net.line`` row, ``"abc"``, ``"ac"``, ``"c"``, ...) a line's
    width tells its number of phases and a line of fewer than three is labelled with
    them."""
    from matplotlib.patches import Circle

    pos = {b: k for k, b in enumerate(net.bus.index)}
    dynamic: dict[int, Any] = {}
    for k, (_, line) in enumerate(net.line.iterrows()):
        a, b = xy[pos[line.from_bus]], xy[pos[line.to_bus]]
        phases = line_phases[k] if line_phases is not None else "abc"
        (artist,) = ax.plot([a[0], b[0]], [a[1], b[1]], color="black",
                            lw=_PHASE_WIDTHS.get(len(phases), 1.2),
                            ls="-" if line.in_service else ":")
        if line_phases is not None and len(phases) < 3:
            mid = (a + b) / 2
            ax.annotate(phases, tuple(mid), textcoords="offset points", xytext=(-10, -3),
                        fontsize=7, color="tab:red")
        if k in dynamic_lines:
            dynamic[k] = artist
    for _, tr in net.trafo.iterrows():
        a, b = xy[pos[tr.hv_bus]], xy[pos[tr.lv_bus]]
        ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:blue", lw=1.5)
        mid = (a + b) / 2
        for shift in (-0.12, 0.12):
            ax.add_patch(Circle(mid + shift * (b - a) / max(np.linalg.norm(b - a), 1e-9),
                                0.08 * max(np.ptp(xy[:, 0]), 1) / 10, fill=False,
                                color="tab:blue"))
    for _, sw in net.switch.iterrows():
        if sw.et == "b":
            a, b = xy[pos[sw.bus]], xy[pos[sw.element]]
            ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:olive", lw=2,
                    ls="-" if sw.closed else "--")
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
    ax.set_aspect("equal", adjustable="datalim")
    ax.axis("off")
    if seen:
        ax.legend(loc="best", fontsize=8)
    return dynamic


def draw_network(net: Any, out_png: str | os.PathLike[str], title: str = "",
                 vm_min_pu: Mapping[str, float] | None = None,
                 line_phases: Sequence[str] | None = None) -> Path:
    """Single-line diagram: lines, transformers (double circles), switches,
    devices marked by type, bus names; buses coloured by ``vm_min_pu``
    (``{bus name: minimum voltage of a run}``) when given; with ``line_phases`` (per
    ``net.line`` row, the phases of the three-phase circuit's line) the lines' phases
    (width: three, two or one; a label on those with fewer than three)."""
    plt = _pyplot()
    xy = bus_xy(net)
    fig, ax = plt.subplots(figsize=(10, 8))
    if vm_min_pu:
        values = np.array([vm_min_pu.get(str(n), np.nan) for n in net.bus["name"]])
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, cmap="RdYlGn", vmin=0.9, vmax=1.0, s=60,
                        zorder=3, edgecolors="black")
        fig.colorbar(sc, ax=ax, label="minimum voltage of the run (p.u.)")
    else:
        ax.scatter(xy[:, 0], xy[:, 1], color="tab:gray", s=40, zorder=3)
    _draw_static(ax, net, xy, line_phases=line_phases)
    ax.set_title(title or net.name or "network")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


class NetworkDiagram:
    """The single-line diagram of :func:`draw_network` as frames for ``render()``.

    The static drawing (lines, transformers, device markers, names, colour bar) is
    rendered once; :meth:`frame` only recolours the buses by voltage, restyles
    switched lines, and rewrites the device-state and time texts (blitting), so a
    frame costs a few milliseconds.

    ``switch_lines``: ``{switch device name: net.line row position}`` of the lines a
    switch opens; ``vm_range``: the colour scale's voltage range (p.u.).
    """

    def __init__(self, net: Any, title: str = "", switch_lines: Mapping[str, int] | None = None,
                 size: tuple[float, float] = (10.0, 6.0), dpi: int = 80,
                 vm_range: tuple[float, float] = (0.94, 1.06)) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=size, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0.01, 0.02, 0.6, 0.9))
        self.ax = ax
        xy = bus_xy(net)
        self.switch_lines = dict(switch_lines or {})
        self._lines = _draw_static(ax, net, xy, dynamic_lines=list(self.switch_lines.values()))
        import matplotlib

        cmap = matplotlib.colormaps["coolwarm"].copy()
        cmap.set_bad("lightgrey")
        self.buses = ax.scatter(xy[:, 0], xy[:, 1], c=np.ones(len(xy)), cmap=cmap,
                                vmin=vm_range[0], vmax=vm_range[1], s=60, zorder=3,
                                edgecolors="black", linewidths=0.5)
        cax = self.fig.add_axes((0.63, 0.1, 0.015, 0.75))
        self.fig.colorbar(self.buses, cax=cax, label="bus voltage (p.u.; grey: de-energised)")
        self.fig.suptitle(title or net.name or "network", fontsize=10)
        self.state_text = self.fig.text(0.72, 0.88, "", fontsize=7, va="top", ha="left",
                                        family="monospace")
        self.time_text = self.fig.text(0.72, 0.93, "", fontsize=9, va="top", ha="left")
        self._dynamic = [self.buses, self.state_text, self.time_text, *self._lines.values()]
        for artist in self._dynamic:
            artist.set_animated(True)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)

    def frame(self, vm_pu: Sequence[float] | np.ndarray, states: Sequence[str] = (),
              closed: Mapping[str, bool] | None = None, time_label: str = "") -> np.ndarray:
        """An ``(H, W, 3)`` uint8 image: buses coloured by ``vm_pu`` (0 or nan grey),
        the lines of ``closed`` switches solid (open: dashed), ``states`` as text."""
        vm = np.asarray(vm_pu, dtype=float)
        self.buses.set_array(np.ma.masked_invalid(np.where(vm > 0.0, vm, np.nan)))
        for name, k in self.switch_lines.items():
            if closed is not None and name in closed:
                self._lines[k].set_linestyle("-" if closed[name] else "--")
                self._lines[k].set_color("black" if closed[name] else "tab:red")
        self.state_text.set_text("\n".join(states))
        self.time_text.set_text(time_label)
        self.canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.fig.draw_artist(artist)
        self.canvas.blit(self.fig.bbox)
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


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
