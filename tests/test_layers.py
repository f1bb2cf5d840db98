"""The packages are layers, each importing only those below it, and nothing imports in a
circle (issue 15). From the bottom:

==============  ==================================================  =====================
layer           modules                                             may also import
==============  ==================================================  =====================
domain          ``powergrid.*`` but the front modules                numpy, pandas,
                                                                    pandapower, ...
federates       ``simulators.*``                                    mosaik_api_v3
worlds          ``scenarios.*``                                     mosaik
environments    ``rl_bridge.*``                                     gymnasium, pettingzoo
front           ``powergrid`` itself (its ``__init__`` registers     anything
                the Gymnasium ids, by name, when Gymnasium loads),
                ``powergrid.cli``, ``powergrid.envs.*`` (the
                classic import paths), ``benchmarks.*``
==============  ==================================================  =====================

Every import counts, at module level or inside a function (a late import is still a
dependency). The graph is read from the source (``ast``), so the test needs nothing
installed beyond the project itself.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("powergrid", "simulators", "scenarios", "rl_bridge", "benchmarks")
FRONT = ("powergrid.cli", "powergrid.envs")
LAYERS = ("domain", "federates", "worlds", "environments", "front")
#: third-party packages a layer may not import (nor may any layer below it)
FORBIDDEN = {"domain": {"mosaik", "mosaik_api_v3", "gymnasium", "pettingzoo"},
             "federates": {"mosaik", "gymnasium", "pettingzoo"},
             "worlds": {"gymnasium", "pettingzoo"}, "environments": set(), "front": set()}


def layer(module: str) -> str:
    if module == "powergrid" or module.startswith(FRONT) or module.startswith("benchmarks"):
        return "front"
    return {"powergrid": "domain", "simulators": "federates", "scenarios": "worlds",
            "rl_bridge": "environments"}[module.split(".")[0]]


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``({module: project modules it imports}, {module: third-party top names})``."""
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = defaultdict(set)
    external: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base
                                                                            else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                target = resolve(name)
                if target is None:
                    external[module].add(name.split(".")[0])
                elif target != module:
                    edges[module].add(target)
    return edges, external


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_in_a_circle():
    edges, _ = import_graph()
    assert cycles(edges) == []


def test_every_import_goes_down_the_layers():
    edges, external = import_graph()
    upward = sorted(f"{a} ({layer(a)}) imports {b} ({layer(b)})"
                    for a, targets in edges.items() for b in targets
                    if LAYERS.index(layer(b)) > LAYERS.index(layer(a)))
    assert upward == []
    forbidden = sorted(f"{m} ({layer(m)}) imports {name}" for m, names in external.items()
                       for name in names if name in FORBIDDEN[layer(m)])
    assert forbidden == []


def test_the_checks_catch_what_they_are_for():
    # the walker sees late imports and relative ones, and the two checks fail on them
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    edges, _ = import_graph()
    assert "scenarios.world" in edges["scenarios.run"]          # module level
    assert "benchmarks.suite" in edges["powergrid.cli"]         # inside a function
    assert "powergrid.solvers.base" in edges["powergrid.solvers"]


@pytest.mark.parametrize("module", ["powergrid.devices", "powergrid.gridmodel",
                                    "powergrid.networks", "powergrid.solvers",
                                    "powergrid.observation", "powergrid.protocols"])
def test_the_domain_loads_without_the_upper_layers(module):
    code = (f"import sys, {module}\n"
            "up = sorted({m.split('.')[0] for m in sys.modules} & {'mosaik', 'mosaik_api_v3',"
            " 'gymnasium', 'pettingzoo', 'simulators', 'scenarios', 'rl_bridge'})\n"
            "print(','.join(up))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


def test_importing_powergrid_registers_the_ids_whenever_gymnasium_loads():
    # before and after: the ids are there either way, and Gymnasium is not imported by
    # powergrid itself
    for code in ("import powergrid, sys; assert 'gymnasium' not in sys.modules;"
                 " import gymnasium as gym; print(gym.spec('powergrid/IEEE13-v0').id)",
                 "import gymnasium as gym, powergrid;"
                 " print(gym.spec('powergrid/IEEE34-Box-v0').id)"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        assert out.stdout.strip().startswith("powergrid/")


def test_listing_scenarios_loads_no_simulator():
    # `powergrid list` and `--help` import only what they need: no pandapower, mosaik or
    # gymnasium (seconds of imports), so a newcomer's first command answers at once
    code = ("import sys; from powergrid.cli import main; main(['list']);"
            " heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pandapower',"
            " 'mosaik', 'gymnasium', 'lightsim2grid', 'matplotlib'});"
            " print('HEAVY', ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert "ieee13" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY"


def test_a_run_does_not_load_grid2op(tmp_path):
    """lightsim2grid imports grid2op (2.4 s) for its grid2op backend whenever grid2op is
    installed (the bench extra); `powergrid run` never uses it, so it is kept out."""
    import importlib.util

    if importlib.util.find_spec("grid2op") is None:
        pytest.skip("grid2op is not installed (the bench extra): nothing to keep out")
    code = ("import sys; from powergrid.cli import main;"
            f" code = main(['run', 'ieee13', '--steps', '2', '--out', {str(tmp_path)!r}]);"
            " print('CODE', code, 'grid2op' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "CODE 0 False"


@pytest.mark.parametrize(("solver", "loaded"), [("lightsim2grid", False), ("pandapower", True)])
def test_a_run_loads_numba_only_for_pandapowers_power_flow(tmp_path, solver, loaded):
    """pandapower imports numba when it is installed, for its own power flows; a run on
    the fast backend never solves with pandapower, so numba is kept out (and the run
    writes the same results); with ``--solver pandapower`` pandapower has it."""
    import importlib.util

    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed: nothing to keep out")
    code = ("import sys; from powergrid.cli import main;"
            f" code = main(['run', 'ieee13', '--steps', '2', '--solver', {solver!r},"
            f" '--quiet', '--out', {str(tmp_path)!r}]);"
            " print('CODE', code, sys.modules.get('numba') is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == f"CODE 0 {loaded}"
