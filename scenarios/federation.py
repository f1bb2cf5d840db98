"""Federates out of process, watched: mosaik's sim config for each placement, starters
and a proxy that turn a federate that does not start, hangs, crashes or exits into one
:class:`FederateError` line, and the end of every federate process.

This is the one module that leans on mosaik's internals (its ``Starter`` and
``RemoteProxy`` classes and their private attributes); ``tests/test_federation.py``
pins the mosaik versions it is written for, so an upgrade fails there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mosaik.async_scenario import MosaikConfig
from mosaik.proxies import RemoteProxy
from mosaik.starters import Starter
from mosaik_api_v3.connection import Channel, RemoteException

from scenarios.config import FEDERATES

REPO_ROOT = Path(__file__).resolve().parents[1]

#: the mosaik and mosaik-api-v3 releases this module is written against (their private
#: members below: ``Channel._receiver_task``/``_writer``, ``RemoteProxy._reader_task``,
#: ``AsyncWorld._proxies``, the API adapters' ``_out``); pyproject.toml admits the same
MOSAIK_RELEASES = ("3.6", "3.7")
MOSAIK_API_RELEASES = ("3.0",)


#: seconds the scenario waits for a federate out of process (its start-up, each reply)
DEFAULT_FEDERATE_TIMEOUT_S = 60.0
#: seconds a federate has to exit after mosaik told it to stop, before it is terminated
STOP_GRACE_S = 2.0


class FederateError(RuntimeError):
    """A federate out of process failed: it did not start, crashed, hung, raised or
    refused the connection. The message is one line naming the federate, its process
    or address and, mid-run, the simulation time."""


def absolute_path(path: str | None) -> str | None:
    """``path`` as an absolute path (``~`` expanded), for a federate whose working folder
    is not this process's (a subprocess starts in the repository)."""
    return None if path is None else os.path.abspath(os.path.expanduser(path))


def sim_config(placement: dict[str, str], feeds_csv: str | None = None,
               learner: bool | str = False,
               timeout_s: float = DEFAULT_FEDERATE_TIMEOUT_S,
               dataset: str | None = None, out_dir: str | None = None) -> dict[str, Any]:
    """mosaik's sim config: in-process by default; ``"cmd"`` starts the federate's module
    as a subprocess, ``"cmd:<command line>"`` starts that command instead (an outside
    federate of the same interface; ``%(addr)s`` is mosaik's address, ``%(python)s`` this
    Python), ``"<host>:<port>"`` connects to a running federate; with ``feeds_csv``
    mosaik-csv stands in for the feeds; with ``learner`` the agents take their actions
    from an RL bridge; a feeds federate started as a subprocess is told (``--data``)
    that it may open ``dataset``, a recorder (``--out``) that it may write into
    ``out_dir``.

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
            data = (f" --data {shlex.quote(absolute_path(dataset) or '')}"
                    if name == "feeds" and dataset else
                    f" --out {shlex.quote(absolute_path(out_dir) or '')}"
                    if name == "recorder" and out_dir else "")
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
