"""Turn a :class:`ScenarioConfig` into a mosaik world: federates, entities, connections.

Data flow of one step at time t (step length ``step_s``)::

    feeds --series(t)--> agents --setpoints(t)--> devices --P/Q, position(t)--> grid
      |                    ^                         |                            |
      +--series(t)---------|---- profile(t) ---------+                            |
      +--loads, price(t)---|------------------------------------------------------+
                           +-- grid outputs(t-1), device outputs(t-1) (time-shifted)
    grid, devices, feeds --(t)--> recorder

The time-shifted edges close the control loop: the action an agent sends at t
is applied and judged at t; the agent sees its effect at t + 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp
from mosaik.async_scenario import MosaikConfig
from mosaik.proxies import RemoteProxy
from mosaik.starters import Starter
from mosaik_api_v3.connection import Channel, RemoteException

from powergrid.data import KINDS, Dataset, load_dataset
from powergrid.devices import RES, Device, DeviceSet, Grid, device_from_config, device_to_config
from powergrid.devices.discrete import PositionFleet, Transformer
from powergrid.networks import build_network
from powergrid.protocols.coordination import AgentRole
from scenarios.config import FEDERATES, AgentConfig, ScenarioConfig

REPO_ROOT = Path(__file__).resolve().parents[1]



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


def prepare(config: ScenarioConfig) -> PreparedScenario:
    """Build the net, write the devices into it and check that everything fits.

    Every mistake (a device on a bus that does not exist, a series not in the
    data set, an agent naming an unknown device, ...) is a ValueError naming it.
    With a data set of other series names, see :func:`series_for_dataset` (a user's
    data set only: with the shipped default a series name it lacks is a mistake).
    """
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
    controlled = {d.name for d in devices if isinstance(d, Transformer)}
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


#: the start time written into (and read from) a mosaik-csv feeds file
FEEDS_CSV_START = "2020-01-01 00:00:00"


#: seconds the scenario waits for a federate out of process (its start-up, each reply)
DEFAULT_FEDERATE_TIMEOUT_S = 60.0
#: seconds a federate has to exit after mosaik told it to stop, before it is terminated
STOP_GRACE_S = 2.0


class FederateError(RuntimeError):
    """A federate out of process failed: it did not start, crashed, hung, raised or
    refused the connection. The message is one line naming the federate, its process
    or address and, mid-run, the simulation time."""


def sim_config(placement: dict[str, str], feeds_csv: str | None = None,
               learner: bool | str = False,
               timeout_s: float = DEFAULT_FEDERATE_TIMEOUT_S,
               dataset: str | None = None) -> dict[str, Any]:
    """mosaik's sim config: in-process by default; ``"cmd"`` starts the federate's module
    as a subprocess, ``"cmd:<command line>"`` starts that command instead (an outside
    federate of the same interface; ``%(addr)s`` is mosaik's address, ``%(python)s`` this
    Python), ``"<host>:<port>"`` connects to a running federate; with ``feeds_csv``
    mosaik-csv stands in for the feeds; with ``learner`` the agents take their actions
    from an RL bridge; a feeds federate started as a subprocess is told (``--data``)
    that it may open ``dataset``.

    A federate out of process that does not connect, answer a request within
    ``timeout_s`` seconds, or exits, raises :class:`FederateError`; its process is
    killed then, and at the world's shutdown in any case.
    """
    out: dict[str, Any] = {}
    for name, cls in FEDERATES.items():
        where = placement.get(name, "python")
        if where == "python":
            out[name] = {"python": cls}
        elif where == "cmd" or where.startswith("cmd:"):
            data = (f" --data {shlex.quote(dataset)}" if name == "feeds" and dataset else "")
            cmd = (f"%(python)s -m simulators.{name}{data} %(addr)s" if where == "cmd"
                   else where[len("cmd:"):].strip())
            if not cmd:
                raise ValueError(f"placement of {name!r}: 'cmd:' needs a command line")
            out[name] = GuardedCmdStarter(name, cmd, str(REPO_ROOT), timeout_s)
        else:
            host, _, port = where.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"placement of {name!r}: {where!r} is not 'python', 'cmd',"
                                 " 'cmd:<command line>' or '<host>:<port>'")
            out[name] = GuardedConnectStarter(name, host.strip("[]"), int(port), timeout_s)
    if feeds_csv is not None:
        out["feeds"] = {"python": "mosaik_csv:CSV"}
    if learner == "batch":
        out["agents"] = {"python": "simulators.agents:BatchLearnerSim"}
    elif learner:
        out["agents"] = {"python": "simulators.agents:LearnerAgentsSim"}
    return out


def mosaik_config(timeout_s: float = DEFAULT_FEDERATE_TIMEOUT_S) -> MosaikConfig:
    """The ``mosaik_config`` of a world whose federates ``sim_config`` guards: mosaik
    listens on loopback only, and its own start-up timeout (which ends the process
    with SystemExit) stays behind the guard's."""
    return {"addr": ("127.0.0.1", None), "start_timeout": 2.0 * timeout_s + 5.0,
            "stop_timeout": timeout_s}


class GuardedCmdStarter(Starter):
    """Starts a federate as a subprocess (mosaik's ``cmd``), watching it: a process that
    exits before it connects, or does not connect within ``timeout_s`` seconds, is a
    :class:`FederateError` (and is killed); its connection is a :class:`GuardedProxy`."""

    def __init__(self, name: str, cmd: str, cwd: str, timeout_s: float) -> None:
        self.name = name
        self.cmd = cmd
        self.cwd = cwd
        self.timeout_s = float(timeout_s)
        self.api_version = None

    async def start(self, sim_id: str, mosaik_remote: Any, mosaik_config: Any) -> Any:
        loop = asyncio.get_running_loop()
        connected: asyncio.Future[Channel] = loop.create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if connected.done():
                writer.close()  # one federate, one connection
            else:
                connected.set_result(Channel(reader, writer, name=sim_id))

        server = await asyncio.start_server(on_connect, *mosaik_config["addr"])
        proc: subprocess.Popen[bytes] | None = None
        try:
            host, port = server.sockets[0].getsockname()[:2]
            cmd = self.cmd % {"addr": f"{host}:{port}", "python": shlex.quote(sys.executable)}
            try:
                proc = subprocess.Popen(shlex.split(cmd), cwd=self.cwd, stdin=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=_die_with_parent())
            except OSError as exc:
                raise FederateError(f"federate {self.name!r}: cannot start {cmd!r}"
                                    f" ({exc.strerror or exc})") from None
            label = f"federate {self.name!r} (subprocess, pid {proc.pid})"
            deadline = loop.time() + self.timeout_s
            while not connected.done():
                code = proc.poll()
                if code is not None:
                    raise FederateError(f"{label} {_exit_text(code)} before it connected")
                if loop.time() > deadline:
                    raise FederateError(f"{label} did not connect within {self.timeout_s:g} s")
                await asyncio.wait([connected], timeout=0.05)
            init_timeout = min(self.timeout_s, 0.9 * float(mosaik_config["start_timeout"]))
            return GuardedProxy(connected.result(), mosaik_remote, label, self.timeout_s,
                                process=proc, init_timeout_s=init_timeout)
        except BaseException:
            if proc is not None:
                await _end_process(proc, grace_s=0.0)
            raise
        finally:
            server.close()

    @classmethod
    def from_starter_config(cls, starter_config: Any) -> None:
        return None  # built by sim_config only


class GuardedConnectStarter(Starter):
    """Connects to a running federate (mosaik's ``connect``) within ``timeout_s`` seconds;
    a refused or unanswered connection is a :class:`FederateError` naming the address."""

    def __init__(self, name: str, host: str, port: int, timeout_s: float) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.timeout_s = float(timeout_s)
        self.api_version = None

    async def start(self, sim_id: str, mosaik_remote: Any, mosaik_config: Any) -> Any:
        label = f"federate {self.name!r} (remote, {self.host}:{self.port})"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s)
        except TimeoutError:
            raise FederateError(f"{label} did not accept the connection within"
                                f" {self.timeout_s:g} s") from None
        except OSError as exc:
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            raise FederateError(f"{label}: cannot connect ({why})") from None
        init_timeout = min(self.timeout_s, 0.9 * float(mosaik_config["start_timeout"]))
        return GuardedProxy(Channel(reader, writer, name=sim_id), mosaik_remote, label,
                            self.timeout_s, init_timeout_s=init_timeout)

    @classmethod
    def from_starter_config(cls, starter_config: Any) -> None:
        return None  # built by sim_config only


class GuardedProxy(RemoteProxy):
    """mosaik's proxy of a federate out of process, with every request bounded.

    A request not answered within ``timeout_s`` seconds (``init_timeout_s`` for
    ``init``), a connection that breaks (the process died) and an exception raised in
    the federate each become a one-line :class:`FederateError`; the federate's process
    is killed at once then. :meth:`stop` ends the process in any case (told to stop,
    then SIGTERM, then SIGKILL), so none outlives the world.
    """

    def __init__(self, channel: Channel, mosaik_remote: Any, label: str, timeout_s: float,
                 process: subprocess.Popen[bytes] | None = None,
                 init_timeout_s: float | None = None) -> None:
        super().__init__(channel, mosaik_remote)
        self.label = label
        self.timeout_s = timeout_s
        self.init_timeout_s = timeout_s if init_timeout_s is None else init_timeout_s
        self.proc = process
        self.time_resolution_s = 1.0
        self.last_step: float | None = None
        self.failed = False
        self.stopped = False

    async def init(self, sid: str, **kwargs: Any) -> list[int]:
        self.time_resolution_s = float(kwargs.get("time_resolution", 1.0))
        return await super().init(sid, **kwargs)

    async def send(self, request: Any) -> Any:
        func = str(request[0])
        if func == "step":
            self.last_step = float(request[1][0]) * self.time_resolution_s
        when = ("during start-up" if self.last_step is None
                else f"at t={self.last_step:g} s")
        timeout = self.init_timeout_s if func == "init" else self.timeout_s
        # the reply, or the end of the connection's reader (it ends without failing the
        # pending requests when the connection is reset rather than closed), or the time
        reply = asyncio.ensure_future(self._channel.send(request))
        try:
            done, _ = await asyncio.wait({reply, self._channel._receiver_task},
                                         timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if reply in done:
                return reply.result()
            if not done:
                raise TimeoutError
            raise ConnectionResetError
        except TimeoutError:
            message = f"{self.label} did not answer {func!r} {when} within {timeout:g} s"
        except (asyncio.IncompleteReadError, ConnectionError):
            code = await self._exit_code()
            message = (f"{self.label} closed its connection during {func!r} {when}"
                       if code is None else f"{self.label} {_exit_text(code)} during"
                       f" {func!r} {when}")
        except RemoteException as exc:
            first = (str(exc.remote_msg).strip().splitlines() or [""])[0]
            message = f"{self.label} failed in {func!r} {when}: {exc.remote_type}: {first}"
        finally:
            if not reply.done():
                reply.cancel()
        self.failed = True
        await self._shut(grace_s=0.0)
        raise FederateError(message)

    async def _exit_code(self, wait_s: float = 2.0) -> int | None:
        """The process's exit code once it has exited (None: still running, or remote)."""
        if self.proc is None:
            return None
        deadline = asyncio.get_running_loop().time() + wait_s
        while self.proc.poll() is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        return self.proc.poll()

    async def stop(self) -> None:
        if self.stopped:
            return
        if not self.failed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._channel.send(["stop", [], {}]), 0.1)
        await self._shut(grace_s=0.0 if self.failed else STOP_GRACE_S)

    async def _shut(self, grace_s: float) -> None:
        """Close the connection and end the process (``grace_s`` to exit by itself)."""
        if self.stopped:
            return
        self.stopped = True
        if self.proc is not None and grace_s <= 0.0:
            await _end_process(self.proc, grace_s=0.0)
        writer = self._channel._writer
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        for task in (self._channel._receiver_task, self._reader_task):
            task.cancel()
        await asyncio.gather(self._channel._receiver_task, self._reader_task,
                             return_exceptions=True)
        if self.proc is not None:
            await _end_process(self.proc, grace_s=grace_s)


def end_federate_processes(world: Any) -> None:
    """SIGKILL and reap every federate subprocess of ``world`` still running: the safety
    net after ``world.shutdown()`` (which may itself have failed or been cut short)."""
    for proxy in getattr(world, "_proxies", {}).values():
        while not isinstance(proxy, GuardedProxy) and hasattr(proxy, "_out"):
            proxy = proxy._out  # mosaik's API-version adapters wrap the proxy
        proc = proxy.proc if isinstance(proxy, GuardedProxy) else None
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5.0)


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` (Linux) by which a child process is killed when the process that
    started it dies, even by SIGKILL, so a federate cannot outlive its scenario (None
    elsewhere: there a federate ends when its connection closes)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


async def _end_process(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """Wait up to ``grace_s`` seconds for ``proc`` to exit, then SIGTERM it, then (after
    1 s) SIGKILL it; reap it in every case."""
    loop = asyncio.get_running_loop()
    for sig, wait_s in ((None, grace_s), (signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        if sig is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        deadline = loop.time() + wait_s
        while proc.poll() is None and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if proc.returncode is not None:
            return


def _exit_text(code: int) -> str:
    """How a process ended, from its return code (negative: killed by that signal)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def export_feeds_csv(prepared: PreparedScenario, path: str | Path) -> Path:
    """Write the series a scenario reads, over its run, in mosaik-csv's layout."""
    from powergrid.data import series_at_step

    cfg = prepared.config
    columns = [series_at_step(s, cfg.split, cfg.dt_h, cfg.dataset) for s in prepared.series]
    start = datetime.fromisoformat(FEEDS_CSV_START)
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write("Date," + ",".join(prepared.series) + "\n")
        for k in range(cfg.steps):
            stamp = (start + timedelta(seconds=k * cfg.step_s)).strftime("%Y-%m-%d %H:%M:%S")
            values = (repr(float(c[(cfg.start_step + k) % len(c)])) for c in columns)
            f.write(stamp + "," + ",".join(values) + "\n")
    return path


@dataclass
class WorldEntities:
    """The entities of a built world, by role."""

    feed: Any
    grid: Any
    devices: dict[str, Any]
    agents: dict[str, Any]
    recorder: Any | None


async def build_world(world: Any, prepared: PreparedScenario, out_dir: Path | None = None,
                      policies: dict[str, Any] | None = None,
                      bridge: Any = None, grid_model: Any = None) -> WorldEntities:
    """Start the federates in ``world`` (a mosaik AsyncWorld) and connect them.

    ``policies`` overrides agents' policies by agent name (callables or policy
    objects; in-process agents only). With ``out_dir`` a recorder writes
    ``out_dir/timeseries.csv``. With ``bridge`` the agents federate is a
    :class:`~simulators.agents.LearnerAgentsSim` (``sim_config(learner=True)``)
    that hands observations to ``bridge`` and takes its actions. A ready
    ``grid_model`` (:class:`~powergrid.gridmodel.GridModel` of this scenario) is reset
    and reused by an in-process grid federate instead of building a new one.
    """
    cfg = prepared.config
    step = cfg.step_s
    remote = {k for k, v in cfg.placement.items() if v != "python"}
    if cfg.feeds_csv is None:
        feeds = await world.start("feeds", step_size=step, dataset=cfg.dataset)
        feed = (await feeds.Feed.create(1, split=cfg.split, start_step=cfg.start_step))[0]
    else:
        feeds = await world.start("feeds", sim_start=FEEDS_CSV_START, datafile=cfg.feeds_csv)
        feed = (await feeds.Data.create(1))[0]
    agents_sim = await world.start(
        "agents", step_size=step, protocol=cfg.protocol,
        protocol_params={"profiles": dict(cfg.profiles), "load_scale": cfg.load_scale,
                         **cfg.protocol_params},
        broker=cfg.message_broker, broker_password=cfg.broker_password,
        **({"bridge": bridge} if bridge is not None else {}))
    devices_sim = await world.start("devices", step_size=step, seed=cfg.seed)
    grid_sim = await world.start("grid", step_size=step)

    if "grid" in remote:
        from simulators.grid import net_float_columns

        # pandapower's JSON keeps 15 digits: the exact floats travel next to it, so the
        # grid out of process solves bit-identically to the grid in process
        net_arg: dict[str, Any] = {"net_json": pp.to_json(prepared.net),
                                   "net_floats": net_float_columns(prepared.net)}
    elif grid_model is not None:
        net_arg = {"grid_model": grid_model}
    else:
        net_arg = {"net": prepared.net}
    grid = (await grid_sim.Grid.create(
        1, solver=cfg.solver, load_profiles=prepared.load_profiles, load_scale=cfg.load_scale,
        pccs=[device_to_config(p) for p in prepared.pccs], price=cfg.price,
        regulators=[device_to_config(r) for r in prepared.regulators], **net_arg))[0]
    device_entities: dict[str, Any] = {}
    for device in prepared.devices:
        config = device_to_config(device)
        kind = config.pop("type")
        device_entities[device.name] = (await getattr(devices_sim, kind).create(
            1, config=config))[0]
    by_name = {d.name: d for d in prepared.devices}
    agent_entities: dict[str, Any] = {}
    for agent in cfg.agents:
        policy = (policies or {}).get(agent.name, cfg.policy or agent.policy)
        agent_entities[agent.name] = (await agents_sim.Agent.create(
            1, name=agent.name, devices=[device_to_config(by_name[d]) for d in agent.devices],
            policy=policy, seed=cfg.seed, price=cfg.price, steps_per_day=cfg.steps_per_day,
            period_steps=agent.period_steps, coordinator=agent.coordinator,
            **agent_zone_facts(prepared, agent)))[0]

    load_series = sorted(set(prepared.load_profiles.values()))
    world.connect(feed, grid, *load_series, *([cfg.price] if cfg.price else []))
    for name, series in cfg.profiles.items():
        world.connect(feed, device_entities[name], (series, "profile"))
    for device in prepared.devices:
        attrs = (("position",) if issubclass(device.fleet_class(), PositionFleet)
                 else ("p_mw", "q_mvar"))
        world.connect(device_entities[device.name], grid, *attrs)

    # the grid settles the automatic tap changers within its power flow; each adopts its
    # settled tap at its next step (where it books the wear)
    for k, regulator in enumerate(prepared.regulators):
        world.connect(grid, device_entities[regulator.name],
                      ("regulator_tap_pos", "settled_tap_pos"), time_shifted=step,
                      initial_data={"regulator_tap_pos": float("nan")}, transform=_Pick(k))

    initial_grid = _initial_grid_outputs(prepared)
    initial_devices = _initial_device_outputs(prepared.devices, cfg.seed)
    for agent in cfg.agents:
        ent = agent_entities[agent.name]
        world.connect(feed, ent, *prepared.series)
        for name in agent.devices:
            world.connect(ent, device_entities[name], "setpoints")
        # the grid's and each device's outputs travel as one bundle each ("state",
        # "report"): one connection instead of a dozen, which mosaik pays for every step
        seen = visible_to(prepared, agent)
        mask = seen.get("grid")
        world.connect(grid, ent, ("state", "grid.state"), time_shifted=step,
                      initial_data={"state": initial_grid if mask is None
                                    else mask(initial_grid)},
                      **({} if mask is None else {"transform": mask}))
        for name, dev_ent in device_entities.items():
            if seen.get("devices") is None or name in seen["devices"]:
                world.connect(dev_ent, ent, ("report", "device.report"), time_shifted=step,
                              initial_data={"report": initial_devices[name]})

    for agent in cfg.agents:
        world.connect(agent_entities[agent.name], grid, "tariffs")
    if cfg.protocol != "none":  # message routes between every two agents, with their delays
        for sender in cfg.agents:
            for receiver in cfg.agents:
                if sender.name != receiver.name:
                    delay = cfg.route_delays.get(f"{sender.name}->{receiver.name}",
                                                 cfg.message_delay_steps)
                    world.connect(agent_entities[sender.name], agent_entities[receiver.name],
                                  ("outbox", "inbox"), time_shifted=int(delay) * step,
                                  initial_data={"outbox": []})

    recorder = None
    if out_dir is not None:
        rec_sim = await world.start("recorder", step_size=step)
        recorder = (await rec_sim.Recorder.create(
            1, path=str(Path(out_dir) / "timeseries.csv"), bus_names=prepared.bus_names,
            pcc_names=[p.name for p in prepared.pccs], price=cfg.price,
            regulator_names=[r.name for r in prepared.regulators]))[0]
        world.connect(feed, recorder, *prepared.series)
        world.connect(grid, recorder, ("state", "grid.state"))
        for dev_ent in device_entities.values():
            world.connect(dev_ent, recorder, ("report", "device.report"))
        for ent in agent_entities.values():
            world.connect(ent, recorder, ("settlement", "agent.settlement"))
    return WorldEntities(feed, grid, device_entities, agent_entities, recorder)


async def build_batch_world(world: Any, prepared: PreparedScenario, n_copies: int, bridge: Any,
                            grid_model: Any, starts: list[int], seeds: list[int],
                            features: list[tuple[str, Any]]) -> None:
    """A world of ``n_copies`` copies of a single-agent scenario, one batch entity per
    federate (in-process; see :class:`simulators.agents.BatchLearnerSim`).

    ``grid_model`` is the scenario's :class:`~powergrid.gridmodel.BatchGridModel`;
    ``starts``/``seeds`` each copy's first step in the split and device seed;
    ``features`` the ``(device, Feature)`` the learner observes.
    """
    from powergrid.devices.batch import DeviceBatch

    cfg = prepared.config
    step = cfg.step_s
    (agent,) = cfg.agents
    feeds = await world.start("feeds", step_size=step, dataset=cfg.dataset)
    learner_sim = await world.start("agents", step_size=step, bridge=bridge)
    devices_sim = await world.start("devices", step_size=step)
    grid_sim = await world.start("grid", step_size=step)
    series = list(prepared.series)
    feed = (await feeds.FeedBatch.create(1, split=cfg.split, series=series, starts=starts))[0]
    learner = (await learner_sim.AgentBatch.create(1))[0]
    regulated = [r.name for r in prepared.regulators]
    spec = [[name, f.key, f.scale, f.offset] for name, f in features]
    devices = (await devices_sim.DeviceBatch.create(
        1, devices=[device_to_config(d) for d in prepared.devices], controlled=agent.devices,
        n_copies=n_copies, series=series, profiles=dict(cfg.profiles), regulated=regulated,
        features=spec, seeds=seeds))[0]
    grid = (await grid_sim.GridBatch.create(1, grid_model=grid_model, series=series,
                                            price=cfg.price, load_scale=cfg.load_scale))[0]
    world.connect(feed, learner, "values")
    world.connect(learner, devices, "actions", "resets", ("step_values", "values"))
    world.connect(learner, grid, "resets", ("step_values", "values"))
    world.connect(learner, feed, ("feed_resets", "resets"), time_shifted=step,
                  initial_data={"feed_resets": []})
    world.connect(devices, grid, "injections")
    initial = DeviceBatch(prepared.devices, n_copies, agent.devices, series,
                          dict(cfg.profiles), regulated)
    initial.reset(list(range(n_copies)), [np.random.default_rng(s) for s in seeds])
    zero = np.zeros(n_copies)
    report = {"features": initial.features(features), "cost": zero, "safety": zero.copy(),
              "cost_terms": {}, "safety_terms": {}}
    world.connect(devices, learner, "report", time_shifted=step, initial_data={"report": report})
    fresh = grid_model.initial_state(n_copies)
    world.connect(grid, learner, ("state", "grid"), time_shifted=step,
                  initial_data={"state": fresh})
    if regulated:
        world.connect(grid, devices, ("state", "grid"), time_shifted=step,
                      initial_data={"state": {"regulator_tap_pos": fresh["regulator_tap_pos"]}})


def agent_zone_facts(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    """What the coordination protocols know of an agent's zone (no reference to the net):
    its devices, nominal load and the series it follows, its PCC and the rows of its
    buses. An agent whose devices span several zones (or none) has no zone facts."""
    key = ("zone_facts", agent.name)
    if key not in prepared.cache:
        prepared.cache[key] = _zone_facts(prepared, agent)
    return prepared.cache[key]


def _zone_facts(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    net = prepared.net
    zone = agent_zone_name(prepared, agent)
    if zone is None:
        return {}
    in_zone = net.bus["zone"].astype(str).to_numpy() == zone
    zone_buses = {str(n) for n, z in zip(net.bus["name"], in_zone, strict=True) if z}
    loads = net.load[net.load.bus.map(dict(zip(net.bus.index, in_zone, strict=True)))]
    series = [prepared.load_profiles.get(str(n)) for n in loads["name"]]
    series = [s for s in series if s]
    pcc = next((p for p in prepared.pccs if p.name.startswith(f"{zone}.")), None)
    return {"zone_devices": [device_to_config(d) for d in prepared.devices
                             if getattr(d, "bus", "") in zone_buses],
            "load_mw": float((loads.p_mw * loads.scaling).sum()),
            "load_series": max(set(series), key=series.count) if series else None,
            "pcc": pcc.name if pcc is not None else None,
            "sell_discount": float(getattr(pcc, "sell_discount", 1.0)),
            "bus_positions": [int(k) for k in np.flatnonzero(in_zone)]}


def agent_roles(prepared: PreparedScenario) -> list[AgentRole]:
    """Every agent's :class:`AgentRole`, as the agents federate builds them."""
    by_name = {d.name: d for d in prepared.devices}
    roles = []
    for agent in prepared.config.agents:
        facts = agent_zone_facts(prepared, agent)
        roles.append(AgentRole(
            agent.name, agent.coordinator, tuple(by_name[d] for d in agent.devices),
            tuple(device_from_config(c) for c in facts.get("zone_devices", [])),
            facts.get("load_mw", 0.0), facts.get("load_series"), facts.get("pcc"),
            facts.get("sell_discount", 1.0), tuple(facts.get("bus_positions", ()))))
    return roles


class _Mask:
    """A connection transform that blanks (nan) the entries of the grid's lists an agent
    may not see (``{attr: keep mask}``; the other entries of the bundle pass)."""

    def __init__(self, keep: dict[str, np.ndarray]) -> None:
        self.keep = keep

    def __call__(self, state: Any) -> Any:
        if not isinstance(state, dict):
            return state
        out = dict(state)
        for attr, keep in self.keep.items():
            if isinstance(out.get(attr), list):
                out[attr] = [v if k else float("nan")
                             for v, k in zip(out[attr], keep, strict=False)]
        return out


def visible_to(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    """What of the grid and the devices reaches an agent: everything when the scenario
    is centralized; otherwise only its zone's buses, lines, transformers, PCCs and
    devices (the other entries of the grid's lists arrive as nan), plus messages."""
    cfg = prepared.config
    if cfg.centralized:
        return {}
    key = ("visible", agent.name)
    if key not in prepared.cache:
        prepared.cache[key] = _visible(prepared, agent)
    return prepared.cache[key]


def _visible(prepared: PreparedScenario, agent: AgentConfig) -> dict[str, Any]:
    facts = agent_zone_facts(prepared, agent)
    net = prepared.net
    zone = agent_zone_name(prepared, agent)
    in_zone = (net.bus["zone"].astype(str) == zone).to_numpy()
    bus_in = dict(zip(net.bus.index, in_zone, strict=True))
    lines = np.array([bus_in[f] and bus_in[t] for f, t in zip(net.line.from_bus,
                                                              net.line.to_bus, strict=True)])
    trafos = np.array([bus_in[h] or bus_in[lo] for h, lo in zip(net.trafo.hv_bus,
                                                                net.trafo.lv_bus, strict=True)])
    pccs = np.array([p.name.startswith(f"{zone}.") for p in prepared.pccs])
    zone_devices = {d["name"] for d in facts.get("zone_devices", [])} | set(agent.devices)
    # a coordinator collects the other zones' bills: it sees what it bills, not their flows
    billed = np.ones(len(pccs), dtype=bool) if agent.coordinator else pccs
    grid_mask = _Mask({"vm_pu": in_zone, "va_degree": in_zone, "line_loading_percent": lines,
                       "trafo_loading_percent": trafos, "pcc_p_mw": pccs, "pcc_q_mvar": pccs,
                       "pcc_cost": billed})
    return {"grid": grid_mask, "devices": zone_devices}


def agent_zone_name(prepared: PreparedScenario, agent: AgentConfig) -> str | None:
    """The zone of an agent's devices (None if they span several zones or none)."""
    net = prepared.net
    zone_of = dict(zip(net.bus["name"].astype(str), net.bus["zone"].astype(str), strict=True))
    by_name = {d.name: d for d in prepared.devices}
    zones = {zone_of.get(getattr(by_name[d], "bus", ""), "") for d in agent.devices} - {""}
    return agent.zone or (zones.pop() if len(zones) == 1 else None)


class _Pick:
    """A connection transform that picks one item out of the grid's list (one
    regulator's settled tap)."""

    def __init__(self, position: int) -> None:
        self.position = position

    def __call__(self, values: Any) -> Any:
        return values[self.position] if isinstance(values, list) else values


def _initial_grid_outputs(prepared: PreparedScenario) -> dict[str, Any]:
    net = prepared.net
    n_pcc = len(prepared.pccs)
    return {"converged": True, "vm_pu": [1.0] * len(net.bus), "va_degree": [0.0] * len(net.bus),
            "line_loading_percent": [0.0] * len(net.line),
            "trafo_loading_percent": [0.0] * len(net.trafo), "pcc_p_mw": [0.0] * n_pcc,
            "pcc_q_mvar": [0.0] * n_pcc, "pcc_cost": [0.0] * n_pcc, "cost": 0.0, "safety": 0.0,
            "cost_terms": {}, "safety_terms": {}}


def _initial_device_outputs(devices: list[Device], seed: int) -> dict[str, dict[str, Any]]:
    # a device's "report" before its first step
    """The devices' outputs before the first step (the devices federate draws the
    same initial states from the same seed)."""
    initial = DeviceSet(devices)
    initial.reset(np.random.default_rng(seed))
    return {d.name: {"state": initial.state_of(d.name), "cost": 0.0, "safety": 0.0,
                     "cost_terms": {}, "safety_terms": {}} for d in devices}
