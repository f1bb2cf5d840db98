"""Faults and bad input at the user's entry points (issue 9, items 2, 3 and 7).

* Physics faults: a power flow that diverges is recorded (``converged`` 0), carries the
  nonconvergence penalty, and the run goes on; a switch that cuts a feeder off its
  slack leaves an island whose buses read 0 p.u. and whose lost load is a safety term.
* Bad data and configuration: every input mistake reaches the user as one line naming
  the offending item (``powergrid: error: ...``, exit code 2), never a traceback.
* Security: a data set never runs code from its file; broker passwords stay out of
  every output.

Everything runs the real parts: ``powergrid.cli.main`` (in process, or the installed
``powergrid`` command where the whole stderr matters), ``run_scenario``, ``get_config``,
``ScenarioConfig.from_json``, ``gym.make`` and ``load_dataset``.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import powergrid  # noqa: F401  (registers the environments)
from powergrid.cli import main
from powergrid.data import load_dataset
from powergrid.gridmodel import GridModel
from powergrid.networks import build_network
from powergrid.safety import NONCONVERGENCE_SAFETY
from scenarios import get_config
from scenarios.config import AgentConfig, ScenarioConfig
from scenarios.run import run_scenario

#: a load profile value (p.u. of each load's rating) no feeder can carry: the power
#: flow diverges
EXTREME_LOAD = 60.0
#: the breaker that feeds CIGRE MV's second feeder (buses 12-14) from the HV bus
BREAKER = "CB Trafo 0-12 @Bus 0"
FEEDER_2 = ("Bus 12", "Bus 13", "Bus 14")


# -- helpers ----------------------------------------------------------------------------

def write_data(path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
               days: int = 3) -> Path:
    """An hourly data set with the series the IEEE 13 scenario names: the last day is
    the test split. Load and solar/wind in p.u. of rating, price in $/MWh."""
    n = 24 * days
    hour = np.arange(n) % 24
    daylight = np.clip(np.sin((hour - 6) / 12 * np.pi), 0.0, None)
    frame = pd.DataFrame({
        "time_utc": pd.date_range("2023-01-01", periods=n, freq="h", tz="UTC")
                      .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "split": np.where(np.arange(n) < 24 * (days - 1), "train", "test"),
        "load:mv_urban": 0.5 + 0.3 * np.sin(hour / 24 * 2 * np.pi),
        "solar:PV1": daylight,
        "solar:PV4": daylight,
        "wind:WP1": 0.4 + 0.2 * np.cos(hour / 24 * 2 * np.pi),
        "price:synthetic": 40.0 + 10.0 * np.sin(hour / 24 * 2 * np.pi),
    })
    (edit or (lambda f: f))(frame).to_csv(path, index=False)
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``powergrid ARGV`` in process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *names: str) -> str:
    """Exit code 2, stderr one ``powergrid: error:`` line naming every one of ``names``."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("powergrid: error: "), err
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    return lines[0]


def config_file(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- 2. physics faults ----------------------------------------------------------------

def test_a_diverging_step_is_recorded_penalised_and_the_run_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the test day's load jumps to EXTREME_LOAD p.u. for two hours, then comes back
    def spike(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[49:50, "load:mv_urban"] = EXTREME_LOAD
        return frame

    data = write_data(tmp_path / "spike.csv", spike)
    out = tmp_path / "run"
    code, stdout, err = cli(capsys, "run", "ieee13", "--dataset", str(data), "--steps", "5",
                            "--policy", "idle", "--quiet", "--out", str(out))
    assert code == 0, err
    df = pd.read_csv(out / "timeseries.csv")
    assert df["load:mv_urban"].tolist()[1:3] == [EXTREME_LOAD, EXTREME_LOAD]
    assert df["converged"].tolist() == [1, 0, 0, 1, 1]
    failed, fine = df.iloc[[1, 2]], df.iloc[[0, 3, 4]]
    assert (failed["safety"] >= NONCONVERGENCE_SAFETY).all()
    assert (fine["safety"] < NONCONVERGENCE_SAFETY).all()
    # after the spike the grid is solved afresh, not held at the last solution
    vm = df[[c for c in df.columns if c.startswith("vm_pu:")]].to_numpy()
    assert np.all((vm[3:] > 0.9) & (vm[3:] < 1.1))
    assert not np.allclose(vm[3], vm[2])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 5 and summary["nonconverged_steps"] == 2
    assert "ieee13: 5 steps" in stdout


def test_the_env_penalises_a_diverging_step_and_recovers(tmp_path: Path) -> None:
    def spike(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[49:50, "load:mv_urban"] = EXTREME_LOAD
        return frame

    data = write_data(tmp_path / "spike.csv", spike)
    env = gym.make("powergrid/IEEE13-v0", dataset_path=str(data), train=False,
                   episode_length=5).unwrapped
    try:
        env.reset(seed=0)
        spec = env.scenario.specs[env.agent]
        action = {"continuous": np.clip(np.zeros(spec.dim_c), spec.low, spec.high)
                  .astype(np.float32), "discrete": spec.nvec // 2}
        infos, rewards = [], []
        for _ in range(5):
            obs, reward, terminated, truncated, info = env.step(action)
            assert not terminated and env.observation_space.contains(obs)
            infos.append(info)
            rewards.append(reward)
        assert truncated
    finally:
        env.close()
    assert [i["converged"] for i in infos] == [True, False, False, True, True]
    max_penalty = env.scenario.options["max_penalty"]
    for k in (1, 2):
        assert infos[k]["safety_terms"]["nonconvergence"] == NONCONVERGENCE_SAFETY
        assert rewards[k] <= -max_penalty
    for k in (3, 4):
        assert infos[k]["safety_terms"]["nonconvergence"] == 0.0
        assert rewards[k] > -max_penalty


class _BreakerSchedule:
    """Opens the breaker during steps 1 and 2 of an hourly run, closed otherwise
    (category 0 open, 1 closed)."""

    def act(self, obs: object) -> tuple[np.ndarray, np.ndarray]:
        hour = obs.time_s // 3600  # type: ignore[attr-defined]
        return np.zeros(0), np.array([0 if hour in (1, 2) else 1])


def _feeder_2_share(net: object) -> float:
    """Feeder 2's share of CIGRE MV's nominal load (every load follows one profile)."""
    load = net.load  # type: ignore[attr-defined]
    bus_name = net.bus.loc[load.bus, "name"].to_numpy()  # type: ignore[attr-defined]
    p = (load.p_mw * load.scaling).to_numpy()
    return float(p[np.isin(bus_name, FEEDER_2)].sum() / p.sum())


def test_a_switch_that_islands_a_feeder_is_reported_and_the_run_goes_on(
        tmp_path: Path) -> None:
    config = get_config("cigre_mv", steps=5, policy="idle")
    config = config.with_(
        devices=[*config.devices, {"type": "Switch", "name": BREAKER}],
        agents=[*config.agents, AgentConfig(name="breaker", devices=[BREAKER])])
    summary = run_scenario(config, tmp_path, progress=False, plot=False,
                           policies={"breaker": _BreakerSchedule()})
    df = pd.read_csv(tmp_path / "timeseries.csv")
    assert summary["steps"] == 5 and summary["nonconverged_steps"] == 0
    assert df[f"closed:{BREAKER}"].tolist() == [1, 0, 0, 1, 1]
    assert df["converged"].tolist() == [1] * 5
    island = df[[f"vm_pu:{b}" for b in FEEDER_2]].to_numpy()
    rest = df[[c for c in df.columns if c.startswith("vm_pu:")
               and c[len("vm_pu:"):] not in FEEDER_2]].to_numpy()
    assert (island[[1, 2]] == 0.0).all()            # not energised: 0 p.u.
    assert (island[[0, 3, 4]] > 0.95).all()         # back on supply
    assert ((rest > 0.95) & (rest < 1.05)).all()    # the energised part is unaffected
    # the lost load is the safety term unsupplied_load (share of the demand)
    share = _feeder_2_share(build_network("cigre_mv"))
    assert 0.1 < share < 0.9
    assert df["safety"].tolist() == pytest.approx([0.0, share, share, 0.0, 0.0], abs=1e-9)
    # the island's zeros do not count as voltage violations
    assert summary["min_vm_pu"] > 0.95 and summary["voltage_violations"] == 0


def test_both_backends_report_the_island_alike() -> None:
    net = build_network("cigre_mv")
    results = {}
    for solver in ("lightsim2grid", "pandapower"):
        grid = GridModel(net, solver)
        grid.set_positions({BREAKER: 0.0})
        results[solver] = result = grid.solve(price_per_mwh=50.0)
        buses = [grid.bus_names.index(b) for b in FEEDER_2]
        assert result.converged
        assert (result.vm_pu[buses] == 0.0).all()
        assert np.delete(result.vm_pu, buses).min() > 0.9
        assert result.safety_terms["unsupplied_load"] == pytest.approx(_feeder_2_share(net))
    fast, reference = results["lightsim2grid"], results["pandapower"]
    np.testing.assert_allclose(fast.vm_pu, reference.vm_pu, atol=1e-8)
    assert fast.safety_terms == pytest.approx(reference.safety_terms)


# -- 3. bad data and configuration ------------------------------------------------------

def _drop_price(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(columns=["price:synthetic"])


def _misname_pv4(f: pd.DataFrame) -> pd.DataFrame:
    return f.rename(columns={"solar:PV4": "solar:PV_4"})


def _bad_prefix(f: pd.DataFrame) -> pd.DataFrame:
    return f.rename(columns={"load:mv_urban": "lod:mv_urban"})


def _nan(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[30, "load:mv_urban"] = np.nan
    return f


def _half_day(f: pd.DataFrame) -> pd.DataFrame:
    return f.iloc[:12]


@pytest.mark.parametrize("edit, steps, names", [
    (_drop_price, 3, ["'price:synthetic'", "not in the data set"]),
    (_misname_pv4, 3, ["'solar:PV4'", "solar:PV_4"]),
    (_bad_prefix, 3, ["'lod:mv_urban'", "kind prefix"]),
    (_nan, 3, ["'load:mv_urban'", "NaN", "line 32"]),
    (_half_day, 3, ["too short", "12 rows"]),
    (None, 48, ["test split holds 24 steps", "48"]),   # fewer rows than steps asked for
], ids=["missing-column", "misnamed-column", "unknown-kind", "nan", "less-than-a-day",
        "fewer-than-the-steps"])
def test_a_bad_data_set_is_one_line_naming_the_culprit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        edit: Callable[[pd.DataFrame], pd.DataFrame] | None, steps: int,
        names: list[str]) -> None:
    data = write_data(tmp_path / "data.csv", edit)
    code, _, err = cli(capsys, "run", "ieee13", "--dataset", str(data), "--steps", str(steps),
                       "--quiet", "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, *names)
    assert not (tmp_path / "run" / "timeseries.csv").exists()


def test_the_env_reports_a_bad_data_set_in_one_line(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data.csv", _nan)
    with pytest.raises(ValueError) as info:
        gym.make("powergrid/IEEE13-v0", dataset_path=str(data))
    message = str(info.value)
    assert "\n" not in message and "'load:mv_urban'" in message and "line 32" in message


def _ieee13_dict(**changes: object) -> dict[str, object]:
    return {**get_config("ieee13", steps=2).to_dict(), **changes}


def _bus_999() -> dict[str, object]:
    data = _ieee13_dict()
    data["devices"][0]["bus"] = "999"  # type: ignore[index]
    return data


@pytest.mark.parametrize("content, names", [
    (lambda: _bus_999(), ["device 'ess1'", "bus '999'", "not in the network"]),
    (lambda: _ieee13_dict(lod_scale=2.0), ["unknown scenario key", "'lod_scale'"]),
    (lambda: _ieee13_dict(steps="ten"), ["'steps'", "int", "'ten'"]),
    (lambda: _ieee13_dict(devices=[5]), ["'devices'"]),
    (lambda: _ieee13_dict(network_params={"size": 3}), ["network 'ieee13'", "'size'"]),
    (lambda: _ieee13_dict(price="price:DA"), ["'price:DA'", "not in the data set"]),
    (lambda: [1, 2], ["must be a mapping"]),
    (lambda: _ieee13_dict(steps=0), ["'steps'", "scenario.json", "in [1, ", "not 0"]),
    (lambda: _ieee13_dict(seed=-1), ["'seed'", "scenario.json", "in [0, ", "not -1"]),
], ids=["device-bus", "unknown-key", "wrong-type", "device-not-a-mapping",
        "network-option", "unknown-series", "not-a-mapping", "steps-0", "seed-negative"])
def test_a_bad_config_file_is_one_line_naming_the_culprit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        content: Callable[[], object], names: list[str]) -> None:
    path = config_file(tmp_path / "scenario.json", content())
    code, _, err = cli(capsys, "run", "--config", str(path), "--quiet",
                       "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, *names)


def test_a_malformed_config_file_names_the_file_and_the_place(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenario.json"
    path.write_text('{"name": "x",\n "network": "ieee13",\n "steps": 3,,\n}', encoding="utf-8")
    code, _, err = cli(capsys, "run", "--config", str(path), "--quiet")
    assert_one_line_error(code, err, str(path), "not valid JSON", "line 3")
    code, _, err = cli(capsys, "run", "--config", str(tmp_path / "nosuch.json"), "--quiet")
    assert_one_line_error(code, err, "nosuch.json", "cannot read")
    with pytest.raises(ValueError, match="not valid JSON"):
        ScenarioConfig.from_json(path)


def test_a_config_file_runs_and_the_options_override_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_file(tmp_path / "scenario.json", _ieee13_dict(steps=50, seed=7))
    out = tmp_path / "run"
    code, stdout, err = cli(capsys, "run", "--config", str(path), "--steps", "2", "--quiet",
                            "--out", str(out))
    assert code == 0, err
    assert "ieee13: 2 steps" in stdout
    assert len(pd.read_csv(out / "timeseries.csv")) == 2
    code, _, err = cli(capsys, "run", "ieee13", "--config", str(path), "--quiet")
    assert_one_line_error(code, err, "not both")


def test_an_output_folder_that_is_a_file_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    code, _, err = cli(capsys, "run", "ieee13", "--steps", "1", "--quiet",
                       "--out", str(tmp_path / "taken"))
    assert_one_line_error(code, err, str(tmp_path / "taken"))


def test_unknown_names_in_python_are_one_line_value_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown scenario 'nosuch' \(valid: ieee13"):
        get_config("nosuch")
    with pytest.raises(ValueError, match=r"unknown scenario key\(s\) \['lod_scale'\]"):
        get_config("ieee13", lod_scale=2.0)
    with pytest.raises(ValueError, match="agent 'op': 'period_steps' must be int"):
        ScenarioConfig.from_dict({"name": "x", "network": "ieee13",
                                  "agents": [{"name": "op", "period_steps": "2"}]})


def test_an_unknown_scenario_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "powergrid.cli", "run", "nosuch"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert_one_line_error(done.returncode, done.stderr, "'nosuch'", "ieee13")
    assert done.stdout == ""


@pytest.mark.parametrize("argv, names", [
    (["run", "ieee13", "--steps", "0"], ["--steps must be a positive number of steps, not 0"]),
    (["run", "ieee13", "--steps", "-3"], ["--steps", "not -3"]),
    (["run", "ieee13", "--seed", "-1"], ["--seed must be a non-negative integer, not -1"]),
    (["evaluate", "ieee13", "--policy", "idle", "--days", "0"],
     ["--days must be a positive number of days, not 0"]),
], ids=["steps-0", "steps-negative", "seed-negative", "days-0"])
def test_a_count_out_of_range_is_one_line_naming_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        names: list[str]) -> None:
    code, stdout, err = cli(capsys, *argv, "--out", str(tmp_path / "run"),
                            *(["--quiet"] if argv[0] == "run" else []))
    assert_one_line_error(code, err, *names)
    assert stdout == "" and not (tmp_path / "run").exists()


def _without(package: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``powergrid ARGV`` in a fresh interpreter in which ``package`` cannot be imported
    (as on a machine without it: ``sys.modules[package] = None`` makes every import of it
    raise ModuleNotFoundError)."""
    code = (f"import sys; sys.modules[{package!r}] = None; from powergrid.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_without_redis_py_the_redis_broker_is_one_line_naming_the_extra(
        tmp_path: Path) -> None:
    done = _without("redis", "run", "microgrids", "--protocol", "p2p", "--distributed",
                    "--message-broker", "redis://127.0.0.1:6379/0", "--steps", "2",
                    "--quiet", "--out", str(tmp_path / "run"), cwd=tmp_path)
    line = assert_one_line_error(done.returncode, done.stderr, "the Redis broker",
                                 "'redis' package", 'pip install "powergrid[redis]"')
    assert line == ('powergrid: error: the Redis broker needs the \'redis\' package:'
                    ' pip install "powergrid[redis]"')


def test_without_stable_baselines3_a_model_policy_is_one_line_naming_the_extra(
        tmp_path: Path) -> None:
    done = _without("stable_baselines3", "evaluate", "ieee13", "--policy",
                    str(tmp_path / "model.zip"), "--days", "1", cwd=tmp_path)
    assert_one_line_error(done.returncode, done.stderr, "trained model",
                          "'stable-baselines3' package", 'pip install "powergrid[rl]"')


def test_only_absent_optional_packages_are_named() -> None:
    from powergrid.cli import missing_optional_package

    try:
        try:
            import redis_that_is_not_there  # type: ignore[import-not-found]  # noqa: F401
        except ModuleNotFoundError as exc:
            exc.name = "redis"  # as raised for ``import redis`` without redis-py
            raise ImportError("RedisBroker needs redis-py") from exc
    except ImportError as wrapped:
        assert "powergrid[redis]" in (missing_optional_package(wrapped) or "")
    assert "powergrid[rllib]" in (missing_optional_package(
        ModuleNotFoundError("No module named 'ray'", name="ray")) or "")
    # a core dependency or a name missing from an installed package is a real fault
    assert missing_optional_package(ModuleNotFoundError("x", name="numpy")) is None
    assert missing_optional_package(ImportError("cannot import name 'X'", name="redis")) is None


# -- 7. security ------------------------------------------------------------------------

class _RunsCode:
    """Unpickling this would call ``function(argument)``."""

    def __init__(self, function: Callable[[str], object], argument: str) -> None:
        self.function, self.argument = function, argument

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return self.function, (self.argument,)


def _evil_pickle(path: Path, function: Callable[[str], object], argument: str) -> Path:
    series = {"load": {"a": _RunsCode(function, argument)}}
    path.write_bytes(pickle.dumps({"train": series, "test": series}))
    return path


def test_a_malicious_data_set_is_never_run(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / f"pwned_{uuid.uuid4().hex}"
    shell = _evil_pickle(tmp_path / "shell.pkl", os.system, f"touch {marker}")
    code, _, err = cli(capsys, "run", "ieee13", "--dataset", str(shell), "--steps", "2",
                       "--quiet", "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, "refused to unpickle", "os.system", "shell.pkl")
    python = _evil_pickle(tmp_path / "exec.pkl", exec, f"open({str(marker)!r}, 'w')")
    with pytest.raises(ValueError, match=r"refused to unpickle global 'builtins\.exec'"):
        gym.make("powergrid/IEEE13-v0", dataset_path=str(python))
    with pytest.raises(ValueError, match="nothing from the file was run"):
        load_dataset(python)
    assert not marker.exists()


def test_broker_passwords_never_reach_the_output(tmp_path: Path) -> None:
    in_url, in_env = f"url-{uuid.uuid4().hex}", f"env-{uuid.uuid4().hex}"
    env = {**os.environ, "POWERGRID_BROKER_PASSWORD": in_env}
    # port 1: nothing listens; the progress bar is on (no --quiet)
    done = subprocess.run(
        [sys.executable, "-m", "powergrid.cli", "run", "ieee13", "--steps", "2",
         "--message-broker", f"redis://:{in_url}@127.0.0.1:1/0", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    for secret in (in_url, in_env):
        assert secret not in done.stdout and secret not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("powergrid: error: ") and "redis://:***@127.0.0.1:1/0" in last
    assert "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server to run")
def test_a_run_through_a_password_protected_broker_keeps_the_password_out(
        tmp_path: Path) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", password, "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        out = tmp_path / "run"
        done = subprocess.run(
            [sys.executable, "-m", "powergrid.cli", "run", "microgrids", "--steps", "2",
             "--distributed", "--protocol", "p2p",
             "--message-broker", f"redis://127.0.0.1:{port}/0",
             "--out", str(out)],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "POWERGRID_BROKER_PASSWORD": password})
        assert done.returncode == 0, done.stderr[-500:]
        assert password not in done.stdout + done.stderr
        for path in out.iterdir():
            if path.suffix in (".csv", ".json"):
                assert password not in path.read_text(encoding="utf-8"), path
    finally:
        server.terminate()
        server.wait(timeout=10)
