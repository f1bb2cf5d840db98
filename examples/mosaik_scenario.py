"""A scenario as a plain mosaik script: ``SIM_CONFIG``, ``world.start``,
``world.connect``, ``world.run``.

    python examples/mosaik_scenario.py --scenario ieee13 --steps 168 --out results/mosaik_ieee13
    python examples/mosaik_scenario.py --scenario microgrids --out results/mosaik_microgrids

It writes the same ``timeseries.csv`` as ``powergrid run <scenario> --steps <steps>``,
bit for bit (``tests/test_federates.py``, both scenarios): the five federates, their
entities and every connection are spelled out here, one ``world.connect`` per edge of
the data flow. IEEE 13 has one agent (the operator); the microgrids on the IEEE 34
feeder have three, one per microgrid, and automatic regulators (the DSO's), which take
the tap they settled on from the grid's ``Trafo`` entity of the step before. To put your
own simulator in the place of one of the federates, change its line of ``SIM_CONFIG``
and give it the attributes the connections below use (docs/federates.md has every
federate's table; docs/swap_a_federate.md walks through it).

What comes from the project besides the federates: the scenario's data
(:func:`scenarios.get_config`: devices, profiles, price, agents, step length) made
concrete by :func:`scenarios.prepare.prepare` (the pandapower net with the devices
written in, each load's profile), and the values the time-shifted connections start
with (:func:`scenarios.world.initial_grid_outputs`,
:func:`scenarios.world.initial_device_outputs`: what an agent sees before the first
step). Scenarios with a coordination protocol or a partial view per agent are wired by
``scenarios.world.build_world`` (``powergrid run``), not here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mosaik

from powergrid.devices import device_to_config
from scenarios import get_config
from scenarios.prepare import prepare
from scenarios.world import initial_device_outputs, initial_grid_outputs
from scenarios.zones import agent_zone_facts

SIM_CONFIG = {
    "feeds": {"python": "simulators.feeds:FeedsSim"},        # load, PV, wind, price series
    "agents": {"python": "simulators.agents:AgentsSim"},     # the operator's policy
    "devices": {"python": "simulators.devices:DevicesSim"},  # battery, generator, PV, ...
    "grid": {"python": "simulators.grid:GridSim"},           # the AC power flow
    "recorder": {"python": "simulators.recorder:RecorderSim"},  # timeseries.csv
}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("ieee13", "microgrids"), default="ieee13")
    parser.add_argument("--steps", type=int, default=168, help="hourly steps (default 168)")
    parser.add_argument("--out", default=None, help="default results/mosaik_<scenario>")
    args = parser.parse_args(argv)
    out = Path(args.out or f"results/mosaik_{args.scenario}")
    out.mkdir(parents=True, exist_ok=True)

    scenario = prepare(get_config(args.scenario, steps=args.steps))
    cfg = scenario.config
    step = cfg.step_s  # one mosaik time unit is 1 s; every federate steps hourly
    series = list(scenario.series)  # "load:mv_urban", "price:synthetic", "solar:PV1", ...
    regulators = [r.name for r in scenario.regulators]  # the grid settles their taps

    # no output cache, as powergrid run: with it, mosaik 3.6 warns at the time-shifted
    # connections ("did not produce output on its persistent attribute state")
    world = mosaik.World(SIM_CONFIG, cache=False)
    feeds = world.start("feeds", step_size=step)
    agents = world.start("agents", step_size=step, protocol=cfg.protocol,
                         protocol_params={"profiles": dict(cfg.profiles),
                                          "load_scale": cfg.load_scale})
    devices = world.start("devices", step_size=step, seed=cfg.seed)
    grid_sim = world.start("grid", step_size=step, series=series)
    recorder_sim = world.start("recorder", step_size=step)

    feed = feeds.Feed(split=cfg.split, start_step=cfg.start_step)
    grid = grid_sim.Grid(net=scenario.net, solver=cfg.solver,
                         load_profiles=scenario.load_profiles, load_scale=cfg.load_scale,
                         pccs=[device_to_config(p) for p in scenario.pccs], price=cfg.price,
                         regulators=[device_to_config(r) for r in scenario.regulators])
    element = {child.eid: child for child in grid.children}  # Grid-0.Bus.650, ...
    device_entities = {}
    for device in scenario.devices:  # one entity per device, its model the device's type
        config = device_to_config(device)
        device_entities[device.name] = getattr(devices, config.pop("type"))(config=config)
    agent_entities = {}
    for agent_config in cfg.agents:  # one entity per agent, with its devices and zone
        agent_entities[agent_config.name] = agents.Agent(
            name=agent_config.name,
            devices=[device_to_config(d) for d in scenario.devices
                     if d.name in agent_config.devices],
            policy=agent_config.policy, seed=cfg.seed, price=cfg.price,
            steps_per_day=cfg.steps_per_day, period_steps=agent_config.period_steps,
            coordinator=agent_config.coordinator, **agent_zone_facts(scenario, agent_config))
    recorder = recorder_sim.Recorder(path=str((out / "timeseries.csv").absolute()),
                                     bus_names=scenario.bus_names,
                                     pcc_names=[p.name for p in scenario.pccs],
                                     price=cfg.price, regulator_names=regulators)

    # series: the loads' profiles and the price to the grid, every series to the agents
    world.connect(feed, grid, *sorted(set(scenario.load_profiles.values())), cfg.price)
    for name, profile in cfg.profiles.items():  # PV and wind follow their own series
        world.connect(feed, device_entities[name], (profile, "profile"))
    # every device's injection or position to the grid
    for device in scenario.devices:
        attrs = ("position",) if device.ELEMENT in ("trafo", "shunt", "switch") \
            else ("p_mw", "q_mvar")
        world.connect(device_entities[device.name], grid, *attrs)
    # an automatic regulator adopts the tap the grid settled on, one step later
    for name in regulators:
        world.connect(element[f"{grid.eid}.Trafo.{name}"], device_entities[name],
                      ("tap_pos", "settled_tap_pos"), time_shifted=step,
                      initial_data={"tap_pos": float("nan")})
    initial_grid = initial_grid_outputs(scenario)
    initial_devices = initial_device_outputs(scenario.devices, cfg.seed)
    for agent_config in cfg.agents:
        agent = agent_entities[agent_config.name]
        world.connect(feed, agent, *series)
        # the agent's setpoints to its devices, its tariffs (if it sets any) to the grid
        for name in agent_config.devices:
            world.connect(agent, device_entities[name], "setpoints")
        # the loop closes one step later: the agent sees the grid and the devices of t - 1
        world.connect(grid, agent, ("state", "grid.state"), time_shifted=step,
                      initial_data={"state": initial_grid})
        for name, entity in device_entities.items():
            world.connect(entity, agent, ("report", "device.report"), time_shifted=step,
                          initial_data={"report": initial_devices[name]})
    for agent in agent_entities.values():
        world.connect(agent, grid, "tariffs")
    # everything to the recorder
    world.connect(feed, recorder, *series)
    world.connect(grid, recorder, ("state", "grid.state"))
    for entity in device_entities.values():
        world.connect(entity, recorder, ("report", "device.report"))
    for agent in agent_entities.values():
        world.connect(agent, recorder, ("settlement", "agent.settlement"))

    world.run(until=args.steps * step)
    print(f"wrote {out / 'timeseries.csv'}")
    return out / "timeseries.csv"


if __name__ == "__main__":
    main()
