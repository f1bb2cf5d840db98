"""Misuse of an environment gets a clear answer, never a hang or an internal error."""

from __future__ import annotations

import threading
import time

import gymnasium as gym
import numpy as np

import powergrid  # noqa: F401 - registers the ids
from rl_bridge.bridge import ConcurrentUseError


def test_reset_after_close_starts_over_as_a_fresh_env() -> None:
    env = gym.make("powergrid/IEEE13-v0", episode_length=4)
    first, _ = env.reset(seed=5)
    env.step(env.action_space.sample())
    env.close()
    again, _ = env.reset(seed=5)  # was: RuntimeError('Event loop is closed')
    np.testing.assert_array_equal(first, again)
    env.step(env.action_space.sample())
    env.close()


def test_a_second_thread_stepping_the_same_env_gets_an_error_not_a_hang() -> None:
    env = gym.make("powergrid/IEEE13-v0", episode_length=7_000)
    env.reset(seed=0)
    action = env.action_space.sample()
    errors: list[BaseException] = []
    steps = [0, 0]

    def hammer(k: int) -> None:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not errors:
            try:
                env.step(action)
                steps[k] += 1
            except ConcurrentUseError as exc:
                errors.append(exc)
            except BaseException as exc:  # anything else is a failure of the test
                errors.append(exc)
                raise

    threads = [threading.Thread(target=hammer, args=(k,), daemon=True) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    assert errors and all(isinstance(e, ConcurrentUseError) for e in errors), errors
    assert "already being stepped by another thread" in str(errors[0])
    env.step(action)  # the env is still usable from one thread
    env.close()
