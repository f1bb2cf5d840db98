"""powergrid: a co-simulation testbed for power-grid control.

The domain core (devices, networks, solvers, costs, safety, data) imports
neither mosaik nor gymnasium. Importing the package registers the Gymnasium
environment ids below by name only (entry points are strings, so nothing of the
co-simulation is imported until an environment is made), and without importing
Gymnasium itself: if it is not loaded yet, the ids are registered the moment it is
(a federate process that imports ``powergrid.devices`` never pays for Gymnasium):

=========================  ==========================================
id                         environment
=========================  ==========================================
``powergrid/IEEE13-v0``    :class:`rl_bridge.env.GridEnv` on ieee13
``powergrid/IEEE34-v0``    ... on ieee34
``powergrid/CIGREMV-v0``   ... on cigre_mv
=========================  ==========================================

Every id has ``spec.max_episode_steps`` = 24 (the environment's ``episode_length``
follows ``gym.make(id, max_episode_steps=N)``, and ``gym.make(id, episode_length=N)``
sets the time limit) and accepts ``render_mode`` (``None``, ``"rgb_array"``,
``"human"``). ``powergrid/IEEE13-Box-v0``, ``powergrid/IEEE34-Box-v0`` and
``powergrid/CIGREMV-Box-v0`` are the same environments with one ``Box(-1, 1)`` action
space (:class:`rl_bridge.wrappers.BoxActionWrapper`): what Stable-Baselines3's PPO, SAC
and A2C take, e.g. ``make_vec_env("powergrid/IEEE13-Box-v0", n_envs=4)``; in worker processes
(``SubprocVecEnv``) write ``"powergrid:powergrid/IEEE13-Box-v0"`` so each worker
imports powergrid, which registers the ids.

Each plain id also has a native vector entry point (:class:`rl_bridge.vector.GridVectorEnv`):
``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.
"""

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

__version__ = "0.1.0"

ENV_IDS = {"powergrid/IEEE13-v0": "ieee13", "powergrid/IEEE34-v0": "ieee34",
           "powergrid/CIGREMV-v0": "cigre_mv"}


#: steps per episode of every registered id (``spec.max_episode_steps``)
MAX_EPISODE_STEPS = 24


def _register_envs() -> None:
    try:
        from gymnasium.envs.registration import WrapperSpec, register, registry
    except ImportError:  # gymnasium is a dependency; stay importable without it anyway
        return
    sync = WrapperSpec("EpisodeLengthFromSpec", "rl_bridge.wrappers:EpisodeLengthFromSpec", {})
    box = WrapperSpec("BoxActionWrapper", "rl_bridge.wrappers:BoxActionWrapper", {})
    for env_id, scenario in ENV_IDS.items():
        # make_vec's vector entry point refuses additional wrappers: the plain ids keep
        # episode_length and the time limit equal in GridEnv.spec's setter instead
        for variant, wrappers in ((env_id, ()),
                                  (env_id.replace("-v0", "-Box-v0"), (sync, box))):
            if variant not in registry:
                register(id=variant, entry_point="rl_bridge.env:GridEnv",
                         vector_entry_point=None if "-Box-" in variant
                         else "rl_bridge.vector:GridVectorEnv",
                         kwargs={"scenario": scenario}, disable_env_checker=False,
                         max_episode_steps=MAX_EPISODE_STEPS, additional_wrappers=wrappers)


_REGISTRY_MODULE = "gymnasium.envs.registration"


class _RegisterWhenGymnasiumLoads(importlib.abc.MetaPathFinder):
    """Registers the ids right after Gymnasium's registry module has been executed (one
    shot: it removes itself on the first look-up of that module)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != _REGISTRY_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_then_register(module: types.ModuleType) -> None:
            execute(module)
            _register_envs()

        spec.loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


if _REGISTRY_MODULE in sys.modules:
    _register_envs()
elif not any(isinstance(f, _RegisterWhenGymnasiumLoads) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenGymnasiumLoads())
