"""Checks a scenario gets when it is prepared, beyond the one-line errors of bad input."""

from __future__ import annotations

import warnings

import pytest

from scenarios import SCENARIOS, get_config
from scenarios.prepare import UncontrolledRegulatorWarning, prepare


def test_a_regulator_without_a_device_is_named_in_a_warning() -> None:
    config = get_config("ieee34")
    bare = config.with_(devices=[d for d in config.devices if d["type"] != "Transformer"])
    with pytest.warns(UncontrolledRegulatorWarning, match=r"\['reg1', 'reg2'\]"):
        prepare(bare)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_shipped_scenarios_control_every_regulator(scenario: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncontrolledRegulatorWarning)
        prepare(get_config(scenario))
