"""Scenario configuration: which network, which devices where, which data, how long.

A :class:`ScenarioConfig` is plain data (JSON-clean), so a scenario can be
stored, diffed and sent to another process. ``ScenarioConfig.from_dict``
checks every key and names the offending one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from powergrid.devices.base import check_field_types
from powergrid.jsontext import json_depth

#: federates of a scenario and the class that implements each
FEDERATES = {
    "feeds": "simulators.feeds:FeedsSim",
    "agents": "simulators.agents:AgentsSim",
    "devices": "simulators.devices:DevicesSim",
    "grid": "simulators.grid:GridSim",
    "recorder": "simulators.recorder:RecorderSim",
}


#: a scenario's name: it becomes a folder name (``results/<name>``), so no path in it
NAME_PATTERN = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,63}")
#: the numeric keys of a scenario and their ranges, inclusive: whatever is outside is a
#: mistake (a unit slip, a sign, a typo of zeros) that would otherwise run silently
RANGES: dict[str, tuple[float, float]] = {
    "step_s": (1, 7 * 86400),             # a second to a week
    "steps": (1, 10**9),                  # a batched RL world runs 10^9 steps: "forever"
    "start_step": (0, 10_000_000),
    "seed": (0, 2**32 - 1),               # numpy's seed range
    "load_scale": (0.0, 100.0),           # 0 = no load; 100 x the feeder's own load
    "message_delay_steps": (1, 10_000),
    "federate_timeout_s": (0.001, 86_400.0),
}
#: the physics a scenario's grid is solved with: the balanced (positive-sequence)
#: pandapower model, or the three-phase OpenDSS model of the same feeder (issue 18)
PHYSICS = ("balanced", "three_phase")
#: an agent acts every 1 .. 10,000 steps
PERIOD_STEPS_RANGE = (1, 10_000)
#: nesting a config file may have (a scenario needs 4)
MAX_JSON_DEPTH = 32
#: size a config file may have
MAX_JSON_BYTES = 16 * 2**20


def check_range(what: str, value: Any, low: float, high: float) -> None:
    """A ValueError naming ``what`` unless ``value`` is a finite number in [low, high]."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value) and low <= value <= high
    if not ok:
        raise ValueError(f"{what} must be a number in [{low:g}, {high:g}], not {value!r}")


def check_physics(physics: Any, network: str) -> None:
    """A ValueError (one line) unless ``physics`` is one of :data:`PHYSICS` and, for
    ``"three_phase"``, ``network`` has a three-phase model."""
    if physics not in PHYSICS:
        raise ValueError(f"scenario config: 'physics' must be one of"
                         f" {', '.join(map(repr, PHYSICS))}, not {physics!r}")
    if physics == "three_phase":
        from powergrid.networks.three_phase import FEEDERS

        if network not in FEEDERS:
            raise ValueError(f"physics 'three_phase': network {network!r} has no three-phase"
                             f" model yet (available: {', '.join(sorted(FEEDERS))})")


@dataclass
class AgentConfig:
    """A control agent: its name, the devices it controls, its policy, how often it acts
    (every ``period_steps`` steps), and for a coordinator (no devices of its own) its
    zone."""

    name: str
    devices: list[str] = field(default_factory=list)
    policy: str = "rule"
    period_steps: int = 1
    coordinator: bool = False
    zone: str | None = None


@dataclass
class ScenarioConfig:
    """Everything that defines a scenario.

    ===================  ==============================================================
    key                  meaning
    ===================  ==============================================================
    ``name``             scenario name
    ``network``          network name for :func:`powergrid.networks.build_network`
    ``network_params``   keyword arguments of that builder
    ``devices``          device configs (``{"type": "ESS", "name": ..., "bus": ...}``)
    ``profiles``         ``{RES device: series}`` (e.g. ``"solar:PV1"``)
    ``load_profiles``    ``{load name: series}``; key ``"*"`` for every other load
    ``price``            the price series ($/MWh)
    ``pccs``             Grid (PCC) device configs, settled by the grid federate
    ``agents``           :class:`AgentConfig` list
    ``step_s``           step length in seconds
    ``steps``            number of steps to run
    ``split``            data split, ``"train"`` or ``"test"``
    ``start_step``       first step's index in the split (in scenario steps)
    ``seed``             seed of every random choice in the run
    ``solver``           power-flow backend (``"lightsim2grid"`` or ``"pandapower"``) of
                         the balanced physics
    ``physics``          ``"balanced"`` (default: the pandapower net, one voltage per
                         bus) or ``"three_phase"`` (the feeder's OpenDSS circuit, a
                         voltage per bus-phase; networks with a three-phase model only,
                         :data:`powergrid.networks.three_phase.FEEDERS`;
                         :mod:`powergrid.phase_gridmodel`)
    ``load_scale``       multiplies every profiled load
    ``dataset``          data-set path (None: the shipped default)
    ``placement``        ``{federate: "python" | "cmd" | "cmd:<command line>" |
                         "<host>:<port>"}`` (:func:`scenarios.federation.sim_config`)
    ``feeds_csv``        a CSV in mosaik-csv's layout: mosaik-csv serves the series
                         in place of the feeds federate
    ``protocol``         coordination: ``none``, ``price_signal``, ``setpoint``, ``p2p``,
                         ``consensus`` (:mod:`powergrid.protocols.coordination`)
    ``protocol_params``  the protocol's parameters (``band_per_mwh``, ``fee_per_mwh``,
                         ``tolerance``, ``max_iterations``)
    ``centralized``      agents observe the whole grid (True) or their own zone only
    ``message_broker``   ``"in_memory"`` or a ``redis://`` URL
    ``broker_password``  the Redis password (kept out of the URL and of every log)
    ``message_delay_steps``  steps a message takes between two agents
    ``route_delays``     ``{"<sender>-><receiver>": steps}`` for routes that differ
    ``policy``           if set, every agent's policy
    ``federate_timeout_s``  seconds to wait for a federate out of process (its start,
                         each reply) before the run fails naming it
    ===================  ==============================================================
    """

    name: str
    network: str
    description: str = ""
    network_params: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    load_profiles: dict[str, str] = field(default_factory=dict)
    price: str = "price:synthetic"
    pccs: list[dict[str, Any]] = field(default_factory=lambda: [{"type": "Grid", "name": "pcc"}])
    agents: list[AgentConfig] = field(default_factory=list)
    step_s: int = 3600
    steps: int = 24 * 7
    split: str = "test"
    start_step: int = 0
    seed: int = 0
    solver: str = "lightsim2grid"
    physics: str = "balanced"
    load_scale: float = 1.0
    dataset: str | None = None
    placement: dict[str, str] = field(default_factory=dict)
    feeds_csv: str | None = None
    protocol: str = "none"
    protocol_params: dict[str, Any] = field(default_factory=dict)
    centralized: bool = True
    message_broker: str = "in_memory"
    broker_password: str | None = field(default=None, repr=False)
    message_delay_steps: int = 1
    route_delays: dict[str, int] = field(default_factory=dict)
    policy: str | None = None
    federate_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        self.agents = [a if isinstance(a, AgentConfig) else _agent_from_dict(a)
                       for a in self.agents]
        if not NAME_PATTERN.fullmatch(str(self.name)):
            raise ValueError(f"scenario name {self.name!r} must be 1-64 letters, digits, '_',"
                             " '-' or '.', not starting with '.' (it names the results"
                             " folder)")
        bad = sorted(set(self.placement) - set(FEDERATES))
        if bad:
            raise ValueError(f"placement: unknown federate(s) {bad} (valid: {sorted(FEDERATES)})")
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {self.split!r}")
        check_physics(self.physics, self.network)
        for key, (low, high) in RANGES.items():
            check_range(f"scenario config: {key!r}", getattr(self, key), low, high)
        for route, delay in self.route_delays.items():
            check_range(f"route_delays[{route!r}]", delay, *RANGES["message_delay_steps"])
        from powergrid.protocols.coordination import PROTOCOLS

        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r} (valid: {sorted(PROTOCOLS)})")
        PROTOCOLS[self.protocol].check_params(self.protocol_params)
        for agent in self.agents:
            check_range(f"agent {agent.name!r}: period_steps", agent.period_steps,
                        *PERIOD_STEPS_RANGE)

    @property
    def dt_h(self) -> float:
        return self.step_s / 3600.0

    @property
    def steps_per_day(self) -> int:
        return max(1, round(86400 / self.step_s))

    def with_(self, **changes: Any) -> ScenarioConfig:
        """A copy with ``changes`` applied (unknown keys raise ValueError)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"unknown scenario key(s) {unknown}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioConfig:
        """Build from plain data; unknown keys raise a ValueError naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"a scenario config must be a mapping, not {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown scenario key(s) {unknown}")
        check_field_types(cls, data, "scenario config")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"scenario config: {exc}") from None

    @classmethod
    def from_json(cls, path: str | Path) -> ScenarioConfig:
        """Read a config file; a malformed file gives one line naming it and the position."""
        try:
            if Path(path).stat().st_size > MAX_JSON_BYTES:
                raise ValueError(f"{path}: larger than {MAX_JSON_BYTES // 2**20} MiB; a"
                                 " scenario config is a few kB")
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None
        depth = json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"{path}: nested {depth} levels deep; a scenario config needs"
                             f" a few (at most {MAX_JSON_DEPTH})")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno},"
                             f" column {exc.colno})") from None
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


def _agent_from_dict(data: Any) -> AgentConfig:
    if not isinstance(data, dict):
        raise ValueError(f"an agent config must be a mapping, not {data!r}")
    unknown = sorted(set(data) - {f.name for f in fields(AgentConfig)})
    if unknown:
        raise ValueError(f"agent {data.get('name', '?')!r}: unknown key(s) {unknown}")
    check_field_types(AgentConfig, data, f"agent {data.get('name', '?')!r}")
    try:
        return AgentConfig(**data)
    except TypeError as exc:
        raise ValueError(f"agent config: {exc}") from None
