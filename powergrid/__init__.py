"""powergrid: a co-simulation testbed for power-grid control.

The domain core (devices, networks, solvers, costs, safety, data) imports
neither mosaik nor gymnasium.
"""

__version__ = "0.1.0"
