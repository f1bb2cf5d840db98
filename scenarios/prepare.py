"""A scenario config made concrete and checked: the net with every device written in,
the series, the load profiles (:func:`prepare`)."""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandapower as pp

from powergrid.data import KINDS, Dataset, load_dataset
from powergrid.devices import RES, Device, DeviceSet, Grid, device_from_config
from powergrid.devices.discrete import PHASES, Transformer, phase_unit_name
from powergrid.networks import build_network
from scenarios.config import ScenarioConfig


@dataclass
class PreparedScenario:
    """A validated scenario: its net with every device written in, and the wiring."""

    config: ScenarioConfig
    net: pp.pandapowerNet
    devices: list[Device]
    pccs: list[Grid]
    load_profiles: dict[str, str]
    series: list[str]
    bus_names: list[str] = field(default_factory=list)
    #: per-agent facts worked out once and reused by every episode's world
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def regulators(self) -> list[Transformer]:
        """The automatic tap changers: the grid settles them within each power flow."""
        return [d for d in self.devices if isinstance(d, Transformer) and d.automatic]

    @property
    def unit_banks(self) -> dict[str, str]:
        """``{phase unit device: its bank}`` of the regulators an agent sets a tap per
        phase of (three-phase physics, :func:`per_phase_regulators`)."""
        return {d.name: d.bank for d in self.devices
                if isinstance(d, Transformer) and d.bank is not None}


def prepare(config: ScenarioConfig) -> PreparedScenario:
    """Build the net, write the devices into it and check that everything fits.

    Every mistake (a device on a bus that does not exist, a series not in the
    data set, an agent naming an unknown device, ...) is a ValueError naming it.
    With a data set of other series names, see :func:`series_for_dataset` (a user's
    data set only: with the shipped default a series name it lacks is a mistake).
    """
    if config.physics == "three_phase":
        require_opendss()
        config = per_phase_regulators(config)
    dataset = load_dataset(config.dataset)
    if config.dataset is not None:
        config = series_for_dataset(config, dataset)
    net = build_network(config.network, **config.network_params)
    devices = [device_from_config(d) for d in config.devices]
    pccs: list[Any] = [device_from_config(d) for d in config.pccs]  # Grid devices
    DeviceSet(devices + pccs)  # unique names
    for device in devices + pccs:
        device.write_to_net(net)
    names = {d.name for d in devices}
    for agent in config.agents:
        unknown = [d for d in agent.devices if d not in names]
        if unknown:
            raise ValueError(f"agent {agent.name!r}: unknown device(s) {unknown}")
    for res in (d for d in devices if isinstance(d, RES)):
        if res.name not in config.profiles:
            raise ValueError(f"device {res.name!r}: no profile series given in 'profiles'")
    unknown = sorted(set(config.profiles) - names)
    if unknown:
        raise ValueError(f"profiles: unknown device(s) {unknown}")
    load_profiles = _resolve_load_profiles(net, config.load_profiles)
    bus_names = [str(n) for n in net.bus["name"]]
    for device in devices:
        reg = getattr(device, "regulated_bus", None)
        if reg is not None and reg not in bus_names:
            raise ValueError(f"device {device.name!r}: regulated bus {reg!r} is not in the"
                             " network")
    _warn_fixed_regulators(net, devices)
    if config.feeds_csv is not None:
        check_feeds_csv(config.feeds_csv, sorted(set(load_profiles.values())
                                                 | set(config.profiles.values())
                                                 | ({config.price} if config.price else set())))
    series = sorted(set(load_profiles.values()) | set(config.profiles.values())
                    | ({config.price} if config.price else set()))
    available = {f"{k}:{n}" for k in KINDS for n in dataset.names(k)}
    missing = [s for s in series if s not in available]
    if missing:
        raise ValueError(f"series {missing} not in the data set"
                         f" ({config.dataset or 'default'}); it has {sorted(available)}")
    return PreparedScenario(config, net, devices, pccs, load_profiles, series, bus_names)


def per_phase_regulators(config: ScenarioConfig) -> ScenarioConfig:
    """With three-phase physics, each agent-controlled Transformer device on a regulator
    bank of the feeder (three single-phase units, a tap each) becomes one device per
    unit, ``<name>.<phase>`` (``bank=<name>``), in its agent's device list in its
    place: the agent sets a tap per phase (a discrete action entry each). Automatic
    banks stay one device (the published per-phase controllers move their units)."""
    from powergrid.networks.three_phase import FEEDERS

    banks = {bank.name for bank in FEEDERS[config.network].regulators}
    units: dict[str, list[str]] = {}
    devices: list[dict[str, Any]] = []
    for device in config.devices:
        built = device_from_config(device)
        if isinstance(built, Transformer) and built.name in banks and not built.automatic \
                and built.bank is None:
            name = built.name
            units[name] = [phase_unit_name(name, phase) for phase in PHASES]
            taps = built.unit_tap_init or {}
            devices += [{**device, "name": unit, "bank": name,
                         "tap_init": taps.get(phase, built.tap_init)}
                        for phase, unit in zip(PHASES, units[name], strict=True)]
        else:
            devices.append(device)
    if not units:
        return config
    agents = [replace(a, devices=[u for d in a.devices for u in units.get(d, [d])])
              for a in config.agents]
    return config.with_(devices=devices, agents=agents)


def collapse_units(prepared: PreparedScenario) -> PreparedScenario:
    """``prepared`` with one device per regulator bank again where
    :func:`per_phase_regulators` made one per phase unit (the bank's device: its first
    unit's parameters under the bank's name): the devices as a model trained on the
    balanced physics knows them. ``prepared`` itself when it has no units."""
    banks = prepared.unit_banks
    if not banks:
        return prepared
    devices: list[Device] = []
    for device in prepared.devices:
        if device.name not in banks:
            devices.append(device)
        elif banks[device.name] not in {d.name for d in devices}:
            devices.append(replace(cast(Transformer, device), name=banks[device.name],
                                   bank=None))
    agents = [replace(a, devices=list(dict.fromkeys(banks.get(d, d) for d in a.devices)))
              for a in prepared.config.agents]
    return replace(prepared, devices=devices, config=prepared.config.with_(agents=agents),
                   cache={})


def require_opendss() -> None:
    """A ValueError (one line naming the extra) unless OpenDSSDirect.py, which the
    three-phase physics solves with, is installed."""
    if importlib.util.find_spec("opendssdirect") is None:
        raise ValueError("physics 'three_phase' needs OpenDSSDirect.py (the OpenDSS engine):"
                         ' pip install "powergrid[three-phase]"')


def check_feeds_csv(path: str, series: list[str]) -> None:
    """A ValueError naming ``path`` unless it is a readable CSV in mosaik-csv's layout
    (a ``Date`` column, then a column for every series in ``series``) whose first row
    holds numbers: mosaik-csv itself fails on anything else without naming the file."""
    where = f"feeds_csv {path!r}"
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline(1 << 20).rstrip("\n").split(",")
            first = f.readline(1 << 20).rstrip("\n").split(",")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ValueError(f"{where}: cannot read ({reason})") from None
    if header[:1] != ["Date"]:
        raise ValueError(f"{where}: not in mosaik-csv's layout (its first column must be"
                         f" 'Date', not {header[0][:40]!r})")
    missing = [s for s in series if s not in header]
    if missing:
        raise ValueError(f"{where}: no column for series {missing}")
    try:
        values = [float(v) for v in first[1:]]
        if len(values) != len(header) - 1 or not all(np.isfinite(values)):
            raise ValueError
    except ValueError:
        raise ValueError(f"{where}: line 2 does not hold {len(header) - 1} finite"
                         " numbers after its date") from None


class UncontrolledRegulatorWarning(UserWarning):
    """The network has voltage regulators that no device of the scenario controls."""


def _warn_fixed_regulators(net: pp.pandapowerNet, devices: list[Device]) -> None:
    """Warn (naming them) about step-voltage regulators -- 1:1 transformers with a tap
    changer -- that no Transformer device controls: their taps stay at the network's base
    position whatever the load, which on a long feeder means voltages far outside the
    band (ieee34 without its regulator devices reaches 1.26 p.u.)."""
    trafo = net.trafo
    if len(trafo) == 0:
        return
    regulators = trafo.index[(trafo.vn_hv_kv == trafo.vn_lv_kv)
                             & trafo.tap_changer_type.apply(lambda v: isinstance(v, str))]
    controlled = {d.transformer for d in devices if isinstance(d, Transformer)}
    fixed = [str(n) for n in trafo.loc[regulators, "name"] if str(n) not in controlled]
    if fixed:
        warnings.warn(f"regulator(s) {fixed} have no Transformer device: their taps stay"
                      " fixed at the network's base position (add a Transformer device,"
                      " automatic with vm_set_pu or agent-controlled)",
                      UncontrolledRegulatorWarning, stacklevel=3)


def series_for_dataset(config: ScenarioConfig, dataset: Dataset) -> ScenarioConfig:
    """The scenario's series renamed for a data set that names its series differently.

    For each kind (load, solar, wind, price) of which the data set holds *none*
    of the series the scenario names, the scenario's series of that kind (sorted)
    are mapped in order onto the data set's (in file order, cycling): a data set
    of other columns runs unchanged. If the data set holds some of a kind's
    series, nothing is renamed and a missing one is an error naming it.
    """
    named = {s for s in (*config.profiles.values(), *config.load_profiles.values(),
                         config.price) if s}
    rename: dict[str, str] = {}
    for kind in KINDS:
        wanted = sorted(s for s in named if s.startswith(f"{kind}:"))
        have = [f"{kind}:{n}" for n in dataset.names(kind)]
        if wanted and have and not set(wanted) & set(have):
            rename.update({s: have[i % len(have)] for i, s in enumerate(wanted)})
    if not rename:
        return config
    return config.with_(
        profiles={d: rename.get(s, s) for d, s in config.profiles.items()},
        load_profiles={k: rename.get(s, s) for k, s in config.load_profiles.items()},
        price=rename.get(config.price, config.price))


def _resolve_load_profiles(net: pp.pandapowerNet, spec: dict[str, str]) -> dict[str, str]:
    names = [str(n) for n in net.load["name"]]
    unknown = sorted(set(spec) - set(names) - {"*"})
    if unknown:
        raise ValueError(f"load_profiles: no load(s) named {unknown} in the network")
    default = spec.get("*")
    out = {n: spec.get(n, default) for n in names}
    return {n: s for n, s in out.items() if s is not None}
