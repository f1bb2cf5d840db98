"""Configuration that used to run silently (or hang, or write outside ``results/``):
every numeric field has a range, every string that becomes a path is checked, every
loop a bound. Each case is one line on stderr and exit 2 from ``powergrid run``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rl_bridge import microgrids_v0
from rl_bridge.env import GridEnv
from scenarios import get_config
from scenarios.config import ScenarioConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


def _config_file(tmp_path: Path, **changes: object) -> Path:
    data = get_config("ieee13").to_dict()
    data.update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "powergrid.cli", "run", *args, "--quiet"],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def _device(name: str, **changes: object) -> list[dict]:
    return [{**d, **changes} if d["name"] == name else d for d in get_config("ieee13").devices]


CASES = {
    "load_scale NaN": ({"load_scale": float("nan")}, r"'load_scale' must be a number in"),
    "start_step -5": ({"start_step": -5}, r"'start_step' must be a number in \[0, "),
    "period_steps 0": ({"agents": [{"name": "operator", "devices": ["ess1"],
                                    "period_steps": 0}]}, r"period_steps must be"),
    "period_steps -1": ({"agents": [{"name": "operator", "devices": ["ess1"],
                                     "period_steps": -1}]}, r"period_steps must be"),
    "tap 10^6": ({"devices": _device("reg1", tap_init=10**6, tap_max=10**6)},
                 r"device 'reg1': tap_max = 1000000.0 is outside \[-256, 256\]"),
    "unit_tap_init phase d": ({"devices": _device("reg1", unit_tap_init={"d": 1})},
                              r"transformer 'reg1': unit_tap_init 'd': 1 is not a phase"),
    "unit_tap_init tap 99": ({"devices": _device("reg1", unit_tap_init={"a": 99})},
                             r"transformer 'reg1': unit_tap_init 'a': 99 is not a phase of"
                             r" \('a', 'b', 'c'\) with a tap in tap_min\.\.tap_max"),
    "p_max_mw 1e308": ({"devices": _device("ess1", p_max_mw=1e308)},
                       r"device 'ess1': p_max_mw = 1e\+308 is outside"),
    "scenario name with a path": ({"name": "../../../x"}, r"scenario name '\.\./\.\./\.\./x'"),
    "consensus without bounds": ({"protocol": "consensus",
                                  "protocol_params": {"max_iterations": 10**9}},
                                 r"protocol 'consensus': max_iterations must be a number"),
    "consensus tolerance -1": ({"protocol": "consensus", "protocol_params": {"tolerance": -1}},
                               r"protocol 'consensus': tolerance must be a number"),
    "feeds_csv /etc/passwd": ({"feeds_csv": "/etc/passwd"},
                              r"feeds_csv '/etc/passwd': not in mosaik-csv's layout"),
    "seed -1": ({"seed": -1}, r"'seed' must be a number in \[0, 4.29497e\+09\]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_config_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    changes, message = CASES[case]
    result = _run("--config", str(_config_file(tmp_path, **changes)), "--out",
                  str(tmp_path / "out"), cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, lines
    assert lines[0].startswith("powergrid: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()  # nothing written
    assert not (tmp_path.parent / "x").exists()


def test_a_deeply_nested_config_is_refused_without_recursing(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = _run("--config", str(path), cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "nested 100000 levels deep" in lines[0]


def test_the_scenario_name_cannot_lead_out_of_the_results_folder() -> None:
    with pytest.raises(ValueError, match="must be 1-64 letters"):
        get_config("ieee13").with_(name="../x")  # with_ checks like from_dict
    with pytest.raises(ValueError, match="must be 1-64 letters"):
        ScenarioConfig.from_dict({**get_config("ieee13").to_dict(), "name": "/tmp/x"})


def test_an_episode_longer_than_the_data_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"episode_length 1000000000 is longer than the train"
                                         r" split \(7104 steps of 1 h\)"):
        GridEnv(episode_length=10**9)
    with pytest.raises(ValueError, match="episode_length must be a whole number"):
        GridEnv(episode_length=2.5)


def test_consensus_rounds_are_bounded_in_the_environment_too() -> None:
    with pytest.raises(ValueError, match="max_iterations must be a number in"):
        microgrids_v0.parallel_env(protocol="consensus",
                                   protocol_params={"max_iterations": 10**9})


def test_the_learnability_options_are_checked_in_the_environment_too() -> None:
    with pytest.raises(ValueError, match=r"price_forecast_steps must be a whole number of"
                                         r" steps in \[0, 168\], not -1"):
        GridEnv(price_forecast_steps=-1)
    with pytest.raises(ValueError, match="reward_baseline must be one of 'none',"
                                         " 'exogenous_bill', not 'idle'"):
        GridEnv({"reward_baseline": "idle"})
