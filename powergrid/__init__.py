"""powergrid: a co-simulation testbed for power-grid control.

The domain core (devices, networks, solvers, costs, safety, data) imports
neither mosaik nor gymnasium. Importing the package registers the Gymnasium
environment ids below by name only (entry points are strings, so nothing of the
co-simulation is imported until an environment is made):

=========================  ==========================================
id                         environment
=========================  ==========================================
``powergrid/IEEE13-v0``    :class:`rl_bridge.env.GridEnv` on ieee13
``powergrid/IEEE34-v0``    ... on ieee34
``powergrid/CIGREMV-v0``   ... on cigre_mv
=========================  ==========================================

Each id also has a native vector entry point (:class:`rl_bridge.vector.GridVectorEnv`):
``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.
"""

__version__ = "0.1.0"

ENV_IDS = {"powergrid/IEEE13-v0": "ieee13", "powergrid/IEEE34-v0": "ieee34",
           "powergrid/CIGREMV-v0": "cigre_mv"}


def _register_envs() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # gymnasium is a dependency; stay importable without it anyway
        return
    for env_id, scenario in ENV_IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point="rl_bridge.env:GridEnv",
                     vector_entry_point="rl_bridge.vector:GridVectorEnv",
                     kwargs={"scenario": scenario}, disable_env_checker=False)


_register_envs()
