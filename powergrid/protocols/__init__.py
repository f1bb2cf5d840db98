"""Coordination protocols as pure domain functions (numpy only; no mosaik, gymnasium or messaging).

=====================  =====================================================================
module                 what it computes
=====================  =====================================================================
``price_signal``       a coordinator's retail price from the market price and its action
``setpoint``           one total power command split into feasible device setpoints
``p2p``                orders from net positions, double-auction clearing, PCC settlement
``consensus``          neighbour-averaging consensus on a common value
=====================  =====================================================================

Who sends what to whom, and when, is up to the co-simulation; these functions
only take and return numbers, arrays and small dataclasses.
"""

from powergrid.protocols.consensus import (
    ConsensusResult,
    average_consensus,
    complete_adjacency,
    consensus_step,
    default_step,
    error_bound,
    is_connected,
    laplacian,
    local_update,
    ring_adjacency,
)
from powergrid.protocols.p2p import (
    ClearingResult,
    Order,
    Trade,
    clear_double_auction,
    orders_from_positions,
    pcc_marginal_costs,
    settle,
)
from powergrid.protocols.price_signal import (
    Tariff,
    adder_from_action,
    price_from_action,
    retail_price,
    tariff_from_action,
)
from powergrid.protocols.setpoint import achievable_range, split_setpoint

__all__ = [
    "ClearingResult",
    "ConsensusResult",
    "Order",
    "Tariff",
    "Trade",
    "achievable_range",
    "adder_from_action",
    "average_consensus",
    "clear_double_auction",
    "complete_adjacency",
    "consensus_step",
    "default_step",
    "error_bound",
    "is_connected",
    "laplacian",
    "local_update",
    "orders_from_positions",
    "pcc_marginal_costs",
    "price_from_action",
    "retail_price",
    "ring_adjacency",
    "settle",
    "split_setpoint",
    "tariff_from_action",
]
