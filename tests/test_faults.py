"""Faults of a co-simulation run, as a user meets them.

- a federate out of process that crashes, hangs or raises mid-run, fails to start, or
  refuses the connection: one clear line naming it, within a bounded time, and no
  process left behind;
- ``powergrid run`` stopped by SIGTERM or killed by SIGKILL: every completed step is in
  a readable ``timeseries.csv`` (never half a line), ``summary.json`` is whole;
- the same seed gives a bit-identical ``timeseries.csv`` across runs, processes (hash
  seeds) and placements of the federates;
- a federate started as a server listens on loopback unless told otherwise.

Everything here is real: mosaik worlds, federate subprocesses, ``powergrid run``
processes; every wait is bounded, so a regression fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from powergrid.results import CsvAppender, read_timeseries, summarize, write_json_atomic
from scenarios import get_config
from scenarios.federation import REPO_ROOT, FederateError
from scenarios.run import run_scenario
from simulators import DEFAULT_PORTS, listen_argv

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process and socket checks read /proc")

FAULTY_DEVICES = Path(__file__).parent / "faulty_federates" / "faulty_devices.py"
STEP_S = 3600  # the ieee13 scenario's step


# --------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (TimeoutError) if the block runs longer than ``seconds``: a test of a
    bounded wait must not itself be able to hang."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the test's block took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped by whoever
    adopted it, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def live_children(pid: int) -> list[int]:
    """Running child processes of ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {seconds} s")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(pid: int) -> list[str]:
    """The addresses process ``pid`` listens on (TCP), as ``"ip:port"``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    out = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # LISTEN
                ip_hex, port_hex = f[1].split(":")
                raw = bytes.fromhex(ip_hex)
                if len(raw) == 4:
                    ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
                else:  # four little-endian 32-bit words
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    ip = socket.inet_ntop(socket.AF_INET6, words)
                out.append(f"{ip}:{int(port_hex, 16)}")
    return out


def faulty_devices(mode: str, at_s: int) -> str:
    """The placement of a devices federate that fails in ``mode`` at ``at_s``."""
    return f"cmd:%(python)s {FAULTY_DEVICES} {mode} {at_s} %(addr)s"


def csv_rows(path: Path) -> int:
    return max(0, path.read_bytes().count(b"\n") - 1)


def powergrid_run(out: Path, *args: str, env: dict[str, str] | None = None,
                  **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "powergrid.cli", "run", "ieee13",
                             "--quiet", "--out", str(out), *args],
                            cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


# ------------------------------------------------------------ federate faults mid-run

FAULTS = {
    # mode: (expected message after the label, federate timeout in s)
    "crash": (r"exited with code 3 during 'step' at t=7200 s", 30.0),
    "kill": (r"was killed by SIGKILL during 'step' at t=7200 s", 30.0),
    "hang": (r"did not answer 'step' at t=7200 s within 2 s", 2.0),
    "raise": (r"failed in 'step' at t=7200 s: ValueError: injected fault at t=7200 s", 30.0),
}


@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_a_subprocess_federate_failing_mid_run_stops_the_run_naming_it(tmp_path, mode):
    expected, timeout_s = FAULTS[mode]
    config = get_config("ieee13", steps=6, placement={"devices": faulty_devices(mode, 7200)},
                        federate_timeout_s=timeout_s)
    t0 = time.monotonic()
    with within(60), pytest.raises(FederateError) as failure:
        run_scenario(config, tmp_path, progress=False, plot=False)
    detected_s = time.monotonic() - t0
    message = str(failure.value)
    assert "\n" not in message
    assert re.fullmatch(rf"federate 'devices' \(subprocess, pid \d+\) {expected}", message)
    # bounded: start-up and two steps, then the fault seen at once (crash, raise) or
    # after the timeout plus the SIGTERM grace of a process that ignores SIGTERM (hang)
    assert detected_s < (timeout_s + 15 if mode == "hang" else 15)
    pid = int(re.search(r"pid (\d+)", message).group(1))
    assert not alive(pid)  # killed and reaped, even the one that ignores SIGTERM
    assert live_children(os.getpid()) == []
    # the steps before the fault are kept, and the summary says what happened
    assert list(read_timeseries(tmp_path / "timeseries.csv")["time"]) == [0, STEP_S]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["completed"] is False and summary["steps"] == 2
    assert summary["error"] == f"FederateError: {message}"


def test_a_federate_that_exits_before_connecting_fails_at_once(tmp_path):
    config = get_config("ieee13", steps=2, federate_timeout_s=30.0, placement={
        "grid": "cmd:%(python)s -c 'import sys; sys.exit(5)' %(addr)s"})
    t0 = time.monotonic()
    with within(30), pytest.raises(FederateError, match=r"^federate 'grid' \(subprocess, pid"
                                   r" \d+\) exited with code 5 before it connected$"):
        run_scenario(config, tmp_path, progress=False, plot=False)
    assert time.monotonic() - t0 < 10  # not the 30 s timeout: the exit is seen
    assert live_children(os.getpid()) == []


def test_a_federate_that_never_connects_times_out_and_is_killed(tmp_path):
    config = get_config("ieee13", steps=2, federate_timeout_s=1.0, placement={
        "grid": "cmd:%(python)s -c 'import time; time.sleep(600)' %(addr)s"})
    t0 = time.monotonic()
    with within(30), pytest.raises(FederateError) as failure:
        run_scenario(config, tmp_path, progress=False, plot=False)
    assert re.fullmatch(r"federate 'grid' \(subprocess, pid \d+\) did not connect within 1 s",
                        str(failure.value))
    assert time.monotonic() - t0 < 10
    assert not alive(int(re.search(r"pid (\d+)", str(failure.value)).group(1)))
    assert live_children(os.getpid()) == []


def test_a_remote_federate_refusing_the_connection_fails_at_once(tmp_path):
    port = free_port()  # nothing listens there
    # the agents federate, a subprocess, starts before the devices federate is reached
    config = get_config("ieee13", steps=2, placement={"agents": "cmd",
                                                      "devices": f"127.0.0.1:{port}"})
    t0 = time.monotonic()
    with within(30), pytest.raises(FederateError) as failure:
        run_scenario(config, tmp_path, progress=False, plot=False)
    assert str(failure.value) == (f"federate 'devices' (remote, 127.0.0.1:{port}): cannot"
                                  " connect (Connection refused)")
    assert time.monotonic() - t0 < 10
    assert live_children(os.getpid()) == []  # the agents subprocess is gone too


# ------------------------------------------------- powergrid run stopped or killed

def _start_and_wait_for_rows(out: Path, rows: int) -> tuple[subprocess.Popen[bytes], int]:
    """A long ``powergrid run`` with the devices federate as a subprocess, once it has
    written ``rows`` rows; returns it and the devices federate's pid."""
    run = powergrid_run(out, "--steps", "1500", "--placement", "devices=cmd")
    csv = out / "timeseries.csv"
    try:
        wait_until(lambda: csv.exists() and csv_rows(csv) >= rows or run.poll() is not None,
                   60, f"{rows} rows")
        assert run.poll() is None, run.communicate()[1].decode()[-2000:]
        (devices,) = live_children(run.pid)
    except BaseException:
        run.kill()
        run.communicate(timeout=30)
        raise
    return run, devices


def test_sigterm_stops_powergrid_run_cleanly(tmp_path):
    run, devices = _start_and_wait_for_rows(tmp_path, 3)
    run.send_signal(signal.SIGTERM)
    try:
        _, err = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 128 + signal.SIGTERM
    assert re.search(r"ieee13 interrupted by SIGTERM after \d+ steps", err.decode())
    assert not alive(devices)
    df = read_timeseries(tmp_path / "timeseries.csv")
    assert (tmp_path / "timeseries.csv").read_bytes().endswith(b"\n")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["completed"] is False and summary["interrupted"] == "SIGTERM"
    assert summary["steps"] == len(df) >= 3 and summary["steps_planned"] == 1500
    assert list(df["time"]) == [k * STEP_S for k in range(len(df))]


def test_sigkill_leaves_every_completed_step_readable(tmp_path):
    run, devices = _start_and_wait_for_rows(tmp_path, 3)
    run.kill()
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    wait_until(lambda: not alive(devices), 10, "the orphaned devices federate's end")
    data = (tmp_path / "timeseries.csv").read_bytes()
    assert data.endswith(b"\n")  # whole lines only
    df = pd.read_csv(tmp_path / "timeseries.csv")
    assert len(df) >= 3 and not df.isna().any().any()
    assert list(df["time"]) == [k * STEP_S for k in range(len(df))]
    assert summarize(tmp_path / "timeseries.csv")["steps"] == len(df)
    # no half file either: the provisional summary the run wrote when it took the folder
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["completed"] is False and summary["status"] == "running"
    assert summary["pid"] == run.pid and summary["steps_planned"] == 1500


def test_a_half_written_last_line_is_left_out_when_reading(tmp_path):
    path = tmp_path / "timeseries.csv"
    writer = CsvAppender(path)
    for k in range(3):
        writer.write({"time": k * STEP_S, "converged": 1, "cost": 1.5, "safety": 0.0})
        # each row is on the file, whole, as soon as write returns
        assert path.read_bytes().count(b"\n") == k + 2 and path.read_bytes().endswith(b"\n")
    writer.close()
    with open(path, "ab") as f:
        f.write(b"10800,1,2.")  # what a writer killed mid-line would leave
    df = read_timeseries(path)
    assert list(df["time"]) == [0, STEP_S, 2 * STEP_S]
    assert summarize(path)["steps"] == 3 and summarize(path)["total_cost"] == 4.5


def test_summary_json_is_never_half_written(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"steps": 1})
    before = path.read_bytes()
    # an object JSON cannot write, met mid-way through the file
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": list(range(10_000)), "z": object()})
    assert path.read_bytes() == before
    # a failure (a signal, a full disk) just before the rename
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "full")))
    with pytest.raises(OSError):
        write_json_atomic(path, {"steps": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temp left


# ------------------------------------------------------------------------ determinism

def test_same_seed_gives_bit_identical_timeseries_across_runs_and_placements(tmp_path):
    args = ("--steps", "24", "--policy", "random", "--seed", "7")
    # two other processes, with other hash seeds; one with three federates out of process
    runs = [powergrid_run(tmp_path / "cli", *args, env={"PYTHONHASHSEED": "1"}),
            powergrid_run(tmp_path / "cmd", *args, "--placement", "devices=cmd",
                          "--placement", "grid=cmd", "--placement", "agents=cmd",
                          env={"PYTHONHASHSEED": "2"})]
    try:
        with within(120):
            run_scenario(get_config("ieee13", steps=24, policy="random", seed=7),
                         tmp_path / "here", progress=False, plot=False)
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err.decode()[-2000:]
    finally:
        for run in runs:
            run.kill()
    here = (tmp_path / "here" / "timeseries.csv").read_bytes()
    assert here.count(b"\n") == 25
    assert (tmp_path / "cli" / "timeseries.csv").read_bytes() == here
    assert (tmp_path / "cmd" / "timeseries.csv").read_bytes() == here


# --------------------------------------------------------------------------- loopback

@pytest.mark.parametrize("address", ["none", ":PORT"])
def test_a_federate_server_listens_on_loopback_unless_told(address):
    if address == "none":
        port = DEFAULT_PORTS["devices"]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.skip(f"port {port} is taken on this machine")
        argv: list[str] = []
    else:
        port = free_port()
        argv = ["--remote", f":{port}"]
    server = subprocess.Popen([sys.executable, "-m", "simulators.devices", *argv],
                              cwd=REPO_ROOT, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: listening(server.pid) or server.poll() is not None, 30,
                   "the federate listening")
        assert listening(server.pid) == [f"127.0.0.1:{port}"]
    finally:
        server.kill()
        _, err = server.communicate(timeout=30)
    assert f"waiting for mosaik on 127.0.0.1:{port}" in err.decode()


def test_an_address_given_is_kept():
    assert listen_argv(["--remote", "0.0.0.0:7000"], 5679) == ["--remote", "0.0.0.0:7000"]
    assert listen_argv(["127.0.0.1:41000"], 5679) == ["127.0.0.1:41000"]  # mosaik's cmd
    assert listen_argv(["-t", "5", "--remote", "7001"], 5679) == ["-t", "5", "--remote",
                                                                 "127.0.0.1:7001"]
