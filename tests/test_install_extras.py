"""Every extra the project tells a user to install exists under the name they type.

pip 23 (the one Python 3.11 brings) matches a requested extra against the package's
metadata without normalising it: ``pip install -e ".[three_phase]"`` found no extra
(the metadata spells it ``three-phase``, PEP 685), printed a warning and installed
nothing, so a newcomer following the README had no OpenDSS. Extras are therefore spelled
in ``pyproject.toml`` in their normal form, and every install command in the README, the
docs, the CI script and the project's messages names one of them exactly.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ``.[a,b]`` or ``powergrid[a,b]`` in an install command or message
_REQUEST = re.compile(r"(?:\.|powergrid)\[([A-Za-z0-9_.,\- ]+)\]")


def _extras() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return set(tomllib.load(f)["project"]["optional-dependencies"])


def _sources() -> list[Path]:
    files = [ROOT / "README.md", ROOT / ".ci" / "run", *sorted((ROOT / "docs").glob("*.md"))]
    for package in ("powergrid", "rl_bridge", "scenarios", "simulators", "benchmarks",
                    "examples", "tests"):
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if f.name != Path(__file__).name]


def test_every_extra_is_spelled_in_its_normal_form() -> None:
    for name in _extras():
        assert name == re.sub(r"[-_.]+", "-", name).lower(), name


def test_every_install_command_names_an_extra_as_it_is_spelled() -> None:
    extras = _extras()
    requested: dict[str, str] = {}
    for path in _sources():
        for match in _REQUEST.finditer(path.read_text(encoding="utf-8")):
            for name in match.group(1).split(","):
                requested.setdefault(name.strip(), str(path.relative_to(ROOT)))
    # the README's and CI's own commands are among them
    assert {"dev", "three-phase", "rl", "ecosystem"} <= set(requested)
    # and the one-line errors naming the extra a missing package comes with
    from powergrid.cli import OPTIONAL_PACKAGES

    for package, (_, _, extra) in OPTIONAL_PACKAGES.items():
        requested.setdefault(extra, f"powergrid.cli.OPTIONAL_PACKAGES[{package!r}]")
    unknown = {name: where for name, where in requested.items() if name not in extras}
    assert not unknown, f"install commands name extras pyproject.toml does not: {unknown}"
