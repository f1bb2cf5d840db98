"""``render()`` of the environments: the feeder's single-line diagram, buses coloured by
their present voltage, with the device states and the time.

The static drawing is made once per environment (:class:`powergrid.plots.
NetworkDiagram`); a frame only recolours it, so recording an episode with Gymnasium's
``RecordVideo`` costs a few milliseconds per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from powergrid.data import load_dataset
from powergrid.plots import NetworkDiagram

#: what every environment declares (``human`` opens a matplotlib window)
RENDER_MODES = ["human", "rgb_array"]
RENDER_FPS = 4


def check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, not"
                         f" {render_mode!r}")
    return render_mode


def _state_line(device: Any, state: dict[str, float]) -> str | None:
    kind = type(device).__name__
    name = device.name[-14:]
    if kind == "ESS":
        return (f"{name:<14} SOC {state.get('soc', 0.0):4.2f}"
                f"  P {state.get('p_mw', 0.0):+6.3f} MW")
    if kind == "Generator":
        on = "on " if state.get("on", 1.0) >= 0.5 else "off"
        return f"{name:<14} {on}      P {state.get('p_mw', 0.0):+6.3f} MW"
    if kind in ("Transformer", "OLTC"):
        return f"{name:<14} tap {state.get('tap_pos', 0.0):+3.0f}"
    if kind == "Shunt":
        return f"{name:<14} step {state.get('step', 0.0):2.0f}"
    return None


class GridRenderer:
    """Frames of one scenario's network from the agents' latest observations."""

    def __init__(self, prepared: Any, split: str, dt_h: float, dataset: str | None) -> None:
        net = prepared.net
        self.prepared = prepared
        row = {i: k for k, i in enumerate(net.line.index)}
        switches = {str(n): row.get(e) for n, e, et in zip(net.switch["name"],
                                                           net.switch["element"],
                                                           net.switch["et"], strict=True)
                    if et == "l"}
        self.switch_names = [d.name for d in prepared.devices
                             if type(d).__name__ == "Switch" and switches.get(d.name) is not None]
        self.diagram = NetworkDiagram(net, title=prepared.config.description or
                                      prepared.config.name,
                                      switch_lines={n: cast(int, switches[n])  # not None
                                                    for n in self.switch_names})
        data = load_dataset(dataset)
        self.times = data.time_utc(split)
        self.stride = max(1, round(dt_h / data.step_h))
        self.dt_h = dt_h
        self.res = [d for d in prepared.devices if type(d).__name__ == "RES"]

    def frame(self, observations: dict[str, Any], step: int, k: int, length: int) -> np.ndarray:
        """``observations``: ``{agent: Observation}`` of the latest step; ``step``: the
        index of the data row in the split; ``k`` of ``length``: the episode step."""
        devices: dict[str, Any] = {}
        vm: Any = None
        for obs in observations.values():
            devices.update(obs.devices)
            if vm is None and obs.grid.get("vm_pu") is not None:
                vm = obs.grid["vm_pu"]
        return self.frame_of(vm, devices, step, k, length)

    def frame_of(self, vm: Any, devices: dict[str, Any], step: int, k: int,
                 length: int) -> np.ndarray:
        """The frame of bus voltages ``vm`` (p.u., ``net.bus`` order; None: all 1) and
        ``devices`` ``{name: {"state": {...}}}``; the rest as :meth:`frame`."""
        vm = np.asarray(vm if vm is not None else np.ones(len(self.prepared.net.bus)), float)
        lines = []
        for d in self.prepared.devices:
            line = _state_line(d, (devices.get(d.name) or {}).get("state") or {})
            if line is not None:
                lines.append(line)
        if self.res:
            p = sum(float(((devices.get(d.name) or {}).get("state") or {}).get("p_mw", 0.0))
                    for d in self.res)
            avail = sum(float(((devices.get(d.name) or {}).get("state") or {})
                              .get("p_avail_mw", 0.0)) for d in self.res)
            lines.append(f"{'PV + wind':<14} {p:6.3f} of {avail:6.3f} MW available")
        closed = {n: bool(((devices.get(n) or {}).get("state") or {}).get("closed", 1.0) >= 0.5)
                  for n in self.switch_names}
        if self.times is not None and len(self.times):
            when = str(self.times[(step * self.stride) % len(self.times)])[:16].replace("T", " ")
            when += " UTC"
        else:
            when = f"{step * self.dt_h:g} h after the data start"
        return self.diagram.frame(vm, lines, closed, f"{when}   step {k}/{length}")


class HumanWindow:
    """A matplotlib window showing frames (``render_mode="human"``); without a display
    (a non-interactive backend) frames are drawn and dropped."""

    def __init__(self) -> None:
        self._fig: Any = None
        self._image: Any = None

    def show(self, frame: np.ndarray) -> None:
        import matplotlib.pyplot as plt

        if self._fig is None:
            self._fig, ax = plt.subplots(figsize=(frame.shape[1] / 80, frame.shape[0] / 80))
            ax.axis("off")
            self._image = ax.imshow(frame)
            self._fig.tight_layout(pad=0)
        else:
            self._image.set_data(frame)
        if plt.get_backend().lower() != "agg":
            plt.pause(1.0 / RENDER_FPS)

    def close(self) -> None:
        if self._fig is not None:
            import matplotlib.pyplot as plt

            plt.close(self._fig)
            self._fig = None


class Renderer:
    """What an environment's ``render()`` does in each mode, for every env kind:
    ``"rgb_array"`` returns the frame of ``frame()``, ``"human"`` shows it in a
    :class:`HumanWindow`, None warns and returns None."""

    def __init__(self, mode: str | None, frame: Callable[[], np.ndarray]) -> None:
        self.mode = mode
        self.frame = frame
        self.window: HumanWindow | None = None

    def render(self) -> np.ndarray | None:
        if self.mode is None:
            import gymnasium

            gymnasium.logger.warn("render() without a render_mode: make the environment"
                                  ' with render_mode="rgb_array" or "human"')
            return None
        frame = self.frame()
        if self.mode == "human":
            self.window = self.window or HumanWindow()
            self.window.show(frame)
            return None
        return frame

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None
