"""Federate servers: an address in use is one line, and a feeds federate opens only the
data sets its own command line names (whoever reaches its port cannot make it read
another file)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_faults import REPO_ROOT, free_port, listening, powergrid_run, wait_until

DATA = Path(__file__).resolve().parents[1] / "data" / "powergrid_default.csv.gz"


def test_a_federate_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "simulators.devices", "--remote",
                                 f"127.0.0.1:{port}"], capture_output=True, text=True,
                                cwd=REPO_ROOT, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert lines[-1] == f"devices federate: cannot use 127.0.0.1:{port}: Address already in use"
    assert not any("Traceback" in line for line in lines)


def _feeds_server(*argv: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "simulators.feeds", *argv, "--remote",
                               f"127.0.0.1:{port}"], cwd=REPO_ROOT, stderr=subprocess.PIPE)
    wait_until(lambda: listening(server.pid) or server.poll() is not None, 30, "the feeds")
    return server, port


@pytest.mark.parametrize("named", [False, True])
def test_a_feeds_server_opens_only_the_data_its_command_line_names(tmp_path: Path,
                                                                   named: bool) -> None:
    data = tmp_path / "mine.csv.gz"
    data.write_bytes(DATA.read_bytes())
    server, port = _feeds_server(*(["--data", str(data)] if named else []))
    try:
        run = powergrid_run(tmp_path / "out", "--steps", "3", "--dataset", str(data),
                            "--placement", f"feeds=127.0.0.1:{port}")
        _, err = run.communicate(timeout=300)
    finally:
        server.kill()
        _, server_err = server.communicate(timeout=30)
    if named:
        assert run.returncode == 0, err.decode()[-2000:]
    else:  # the server refuses (and says why on its side); the run fails naming it
        lines = err.decode().strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1, lines
        assert "federate 'feeds' (remote" in lines[0] and "'init'" in lines[0]
        assert "is not named on its command line (start it with --data PATH" \
            in server_err.decode()
        assert not (tmp_path / "out" / "timeseries.csv").exists() or \
            (tmp_path / "out" / "timeseries.csv").read_bytes().count(b"\n") <= 1


def test_a_feeds_subprocess_is_told_the_data_set_it_may_open(tmp_path: Path) -> None:
    data = tmp_path / "mine.csv.gz"
    data.write_bytes(DATA.read_bytes())
    run = powergrid_run(tmp_path / "out", "--steps", "3", "--dataset", str(data),
                        "--placement", "feeds=cmd")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err.decode()[-2000:]


def _recorder_server(*argv: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "simulators.recorder", *argv, "--remote",
                               f"127.0.0.1:{port}"], cwd=REPO_ROOT, stderr=subprocess.PIPE)
    wait_until(lambda: listening(server.pid) or server.poll() is not None, 30,
               "the recorder")
    return server, port


@pytest.mark.parametrize("named", ["none", "another folder", "this folder"])
def test_a_recorder_server_writes_only_into_folders_its_command_line_names(
        tmp_path: Path, named: str) -> None:
    # like the feeds' data sets: whoever reaches a recorder's port names the file it
    # opens for writing ('wb'); only the folders on its command line are accepted
    out, other = tmp_path / "out", tmp_path / "other"
    argv = {"none": [], "another folder": ["--out", str(other)],
            "this folder": ["--out", str(out)]}[named]
    server, port = _recorder_server(*argv)
    try:
        run = powergrid_run(out, "--steps", "3", "--placement", f"recorder=127.0.0.1:{port}")
        _, err = run.communicate(timeout=300)
    finally:
        server.kill()
        _, server_err = server.communicate(timeout=30)
    if named == "this folder":
        assert run.returncode == 0, err.decode()[-2000:]
        assert (out / "timeseries.csv").read_bytes().count(b"\n") == 4
        return
    lines = err.decode().strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, lines
    assert "federate 'recorder' (remote" in lines[0] and "'create'" in lines[0], lines[0]
    assert "is not in a folder named on its command line (start it with --out FOLDER" \
        in lines[0]
    assert "Traceback" not in server_err.decode()
    assert not (out / "timeseries.csv").exists() and not other.exists()


def test_a_recorder_subprocess_writes_into_the_runs_own_folder(tmp_path: Path) -> None:
    # a relative --out: the recorder's process has another working folder (the repo's);
    # it used to write the CSV there, outside the folder the run had locked
    run = subprocess.run([sys.executable, "-m", "powergrid.cli", "run", "ieee13", "--quiet",
                          "--steps", "3", "--placement", "recorder=cmd", "--out", "rel"],
                         cwd=tmp_path, capture_output=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert (tmp_path / "rel" / "timeseries.csv").read_bytes().count(b"\n") == 4
    assert not (REPO_ROOT / "rel").exists()


def test_a_feeds_subprocess_finds_a_relative_data_set(tmp_path: Path) -> None:
    # the feeds subprocess works in the repo's folder: a relative --dataset used to be
    # looked for there ("feeds federate: cannot use 127.0.0.1:...: data set file
    # mine.csv.gz does not exist", which blamed the address)
    (tmp_path / "mine.csv.gz").write_bytes(DATA.read_bytes())
    run = subprocess.run([sys.executable, "-m", "powergrid.cli", "run", "ieee13", "--quiet",
                          "--steps", "3", "--dataset", "mine.csv.gz", "--placement",
                          "feeds=cmd", "--out", "out"],
                         cwd=tmp_path, capture_output=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert (tmp_path / "out" / "timeseries.csv").read_bytes().count(b"\n") == 4
