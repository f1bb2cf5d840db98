"""``scenarios/federation.py`` is the one module that leans on mosaik's internals; this
pins the releases it is written against and the private members it uses, so a mosaik
upgrade fails here, by name, instead of somewhere in a run."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import mosaik.adapters
import mosaik.async_scenario
import mosaik.proxies
import mosaik_api_v3.connection

from scenarios.federation import MOSAIK_API_RELEASES, MOSAIK_RELEASES


def _release(package: str) -> str:
    return ".".join(version(package).split(".")[:2])


def test_the_installed_mosaik_is_a_supported_release():
    assert _release("mosaik") in MOSAIK_RELEASES, (
        f"mosaik {version('mosaik')}: scenarios/federation.py is written for"
        f" {MOSAIK_RELEASES}; check its private members (this file), then add the release")
    assert _release("mosaik-api-v3") in MOSAIK_API_RELEASES, version("mosaik-api-v3")


def test_the_private_members_federation_uses_are_there():
    uses = {mosaik_api_v3.connection.Channel: ("self._receiver_task", "self._writer"),
            mosaik.proxies.RemoteProxy: ("self._reader_task",),
            mosaik.async_scenario.AsyncWorld: ("self._proxies",)}
    for cls, members in uses.items():
        source = inspect.getsource(cls)
        for member in members:
            assert member in source, f"{cls.__qualname__} no longer sets {member}"
    assert "self._out" in inspect.getsource(mosaik.adapters)
