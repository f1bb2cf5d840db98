"""Peer-to-peer trading: a double auction among microgrids and its settlement at the PCC.

Units: energy in MWh, prices in $/MWh, money in $, time in hours.

**Orders.** Each agent with a non-zero net demand submits one order
(:func:`orders_from_positions`): positive net demand ``d`` MW buys
``d * dt_h`` MWh (a *bid*), negative sells ``-d * dt_h`` MWh (an *offer*). The
limit price is the agent's marginal cost (its value of one MWh, $/MWh) shifted
by ``markup_per_mwh`` in its own favour: a bid at ``mc - markup``, an offer at
``mc + markup``. With markup 0 agents bid truthfully. A natural marginal cost is
what the energy is worth at the agent's PCC (:func:`pcc_marginal_costs`):
a buyer avoids importing at the grid price, a seller forgoes exporting at
``grid price * sell_discount``; the gap between the two (``sell_discount < 1``)
is what makes peer trades worthwhile.

**Clearing** (:func:`clear_double_auction`). Bids are sorted by price, highest
first, offers by price, lowest first; equal prices by agent name (then by
submission order). The best remaining bid is matched with the best remaining
offer while ``bid >= offer + fee_per_mwh``; they trade the smaller of the two
remaining quantities at the **midpoint** ``(bid + offer) / 2`` (so each match
has its own price), and the exhausted order(s) leave the book.

**Fee.** ``fee_per_mwh`` is the total fee per MWh traded, **split equally**:
the buyer pays ``fee/2`` and the seller ``fee/2`` per MWh on top of the trade
price. The matching condition then guarantees that neither side is worse off
than its limit: the buyer pays ``price + fee/2 <= bid`` and the seller receives
``price - fee/2 >= offer``. Money per agent (``+`` = paid):
buyer ``q * price + q * fee / 2``, seller ``-q * price + q * fee / 2``; the sum
over all agents equals the fees collected, ``fee * sum(q)``.

**Settlement** (:func:`settle`). P2P energy still flows physically through the
PCCs, and each PCC is still billed on its metered exchange by
:func:`powergrid.costs.energy_cost` (import at the grid price, export at
``price * sell_discount``). The traded energy is not bought from / sold to the
grid, so each agent's bill is corrected by (``+`` = the agent pays more)::

    adjustment = energy_cost(m - e) - energy_cost(m) + money

with ``m`` its metered import (MWh, export < 0), ``e`` its net P2P energy
(MWh, + bought) and ``money`` its P2P payment including its fee. When the
metered exchange covers the trade (the usual case, and the default when ``m``
is not given) this reduces to

* buyer of ``q``:  ``- q * grid_price + q * trade_price + q * fee / 2``
* seller of ``q``: ``+ q * grid_price * sell_discount - q * trade_price + q * fee / 2``
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from powergrid.costs import energy_cost

Side = Literal["buy", "sell"]
_EPS_MWH = 1e-12


@dataclass(frozen=True)
class Order:
    """A limit order: ``agent`` will ``side`` up to ``quantity_mwh`` (> 0) at ``price_per_mwh``.

    For a bid the price is the highest the buyer pays, for an offer the lowest
    the seller accepts (both $/MWh, before the fee).
    """

    agent: str
    quantity_mwh: float
    price_per_mwh: float
    side: Side

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"order side must be 'buy' or 'sell', not {self.side!r}")
        if not (np.isfinite(self.quantity_mwh) and self.quantity_mwh > 0):
            raise ValueError(f"order quantity must be finite and > 0, got {self.quantity_mwh}")
        if not np.isfinite(self.price_per_mwh):
            raise ValueError(f"order price must be finite, got {self.price_per_mwh}")


class Trade(NamedTuple):
    """One match: ``seller`` delivers ``quantity_mwh`` to ``buyer`` at ``price_per_mwh``."""

    buyer: str
    seller: str
    quantity_mwh: float
    price_per_mwh: float


@dataclass
class ClearingResult:
    """Outcome of :func:`clear_double_auction`.

    ``energy_mwh``, ``payment`` ($, trade value, + paid), ``fees`` ($) and
    ``money`` ($, ``payment + fees``, + paid) have an entry for every agent that
    submitted an order (0 if it did not trade). ``unmatched`` holds what is
    left of each order after clearing (quantities reduced).
    """

    trades: list[Trade]
    energy_mwh: dict[str, float]
    payment: dict[str, float]
    fees: dict[str, float]
    fee_per_mwh: float
    unmatched: list[Order] = field(default_factory=list)

    @property
    def money(self) -> dict[str, float]:
        """Per agent, $ paid for P2P energy including its fee share (negative = received)."""
        return {a: self.payment[a] + self.fees[a] for a in self.payment}

    @property
    def fees_collected(self) -> float:
        """Total fee income of the market operator in $ (= sum of ``money``)."""
        return float(sum(self.fees.values()))

    @property
    def volume_mwh(self) -> float:
        """Total energy traded in MWh."""
        return float(sum(t.quantity_mwh for t in self.trades))


def pcc_marginal_costs(net_demand_mw: Mapping[str, float],
                       grid_price_per_mwh: float | Mapping[str, float],
                       sell_discount: float | Mapping[str, float] = 1.0) -> dict[str, float]:
    """Each agent's value of one MWh at its PCC, in $/MWh.

    A buyer (net demand > 0) would otherwise import at ``grid_price``; a seller
    (< 0) would otherwise export at ``grid_price * sell_discount``. Agents with
    zero net demand get the grid price. Prices and discounts can be per agent.
    """
    out = {}
    for agent, d in net_demand_mw.items():
        price = float(_per_agent(grid_price_per_mwh, agent))
        out[agent] = price * float(_per_agent(sell_discount, agent)) if d < 0 else price
    return out


def orders_from_positions(net_demand_mw: Mapping[str, float],
                          marginal_cost: Mapping[str, float], dt_h: float,
                          markup_per_mwh: float = 0.0,
                          min_quantity_mwh: float = 1e-9) -> list[Order]:
    """One order per agent from its net demand (MW) over ``dt_h`` hours, sorted by agent.

    Net demand ``d > 0`` gives a bid of ``d * dt_h`` MWh at
    ``marginal_cost - markup_per_mwh``; ``d < 0`` an offer of ``-d * dt_h`` MWh at
    ``marginal_cost + markup_per_mwh`` ($/MWh). Quantities below
    ``min_quantity_mwh`` give no order. Every agent with an order needs a
    marginal cost.
    """
    if dt_h <= 0:
        raise ValueError(f"dt_h must be > 0, got {dt_h}")
    orders = []
    for agent in sorted(net_demand_mw):
        energy = float(net_demand_mw[agent]) * dt_h
        if abs(energy) < min_quantity_mwh:
            continue
        if agent not in marginal_cost:
            raise KeyError(f"no marginal cost for agent {agent!r}")
        mc = float(marginal_cost[agent])
        if energy > 0:
            orders.append(Order(agent, energy, mc - markup_per_mwh, "buy"))
        else:
            orders.append(Order(agent, -energy, mc + markup_per_mwh, "sell"))
    return orders


def clear_double_auction(orders: Iterable[Order], fee_per_mwh: float = 0.0) -> ClearingResult:
    """Clear a double auction: best bid meets best offer while ``bid >= offer + fee_per_mwh``.

    Each match trades the smaller remaining quantity at ``(bid + offer) / 2``;
    the fee (total per MWh) is split equally between buyer and seller. Ties in
    price are broken by agent name, then by submission order. An agent may not
    both buy and sell. See the module docstring for the full rule.
    """
    if not (np.isfinite(fee_per_mwh) and fee_per_mwh >= 0):
        raise ValueError(f"fee_per_mwh must be finite and >= 0, got {fee_per_mwh}")
    orders = list(orders)
    buyers = {o.agent for o in orders if o.side == "buy"}
    sellers = {o.agent for o in orders if o.side == "sell"}
    if buyers & sellers:
        raise ValueError(f"agents on both sides of the market: {sorted(buyers & sellers)}")
    bids = sorted((o for o in orders if o.side == "buy"),
                  key=lambda o: (-o.price_per_mwh, o.agent))
    offers = sorted((o for o in orders if o.side == "sell"),
                    key=lambda o: (o.price_per_mwh, o.agent))
    left_bid = [o.quantity_mwh for o in bids]
    left_offer = [o.quantity_mwh for o in offers]

    agents = sorted(buyers | sellers)
    energy = dict.fromkeys(agents, 0.0)
    payment = dict.fromkeys(agents, 0.0)
    fees = dict.fromkeys(agents, 0.0)
    trades: list[Trade] = []
    half_fee = fee_per_mwh / 2.0
    i = j = 0
    while i < len(bids) and j < len(offers):
        bid, offer = bids[i], offers[j]
        if bid.price_per_mwh < offer.price_per_mwh + fee_per_mwh:
            break
        q = min(left_bid[i], left_offer[j])
        price = 0.5 * (bid.price_per_mwh + offer.price_per_mwh)
        trades.append(Trade(bid.agent, offer.agent, q, price))
        energy[bid.agent] += q
        energy[offer.agent] -= q
        payment[bid.agent] += q * price
        payment[offer.agent] -= q * price
        fees[bid.agent] += q * half_fee
        fees[offer.agent] += q * half_fee
        left_bid[i] -= q
        left_offer[j] -= q
        if left_bid[i] <= _EPS_MWH:
            i += 1
        if left_offer[j] <= _EPS_MWH:
            j += 1

    unmatched = [Order(o.agent, q, o.price_per_mwh, o.side)
                 for o, q in zip(bids + offers, left_bid + left_offer, strict=True)
                 if q > _EPS_MWH]
    return ClearingResult(trades, energy, payment, fees, float(fee_per_mwh), unmatched)


def _per_agent(value: float | Mapping[str, float], agent: str) -> float:
    return value[agent] if isinstance(value, Mapping) else value


def settle(result: ClearingResult, grid_price_per_mwh: float | Mapping[str, float],
           sell_discount: float | Mapping[str, float] = 1.0,
           metered_import_mwh: Mapping[str, float] | None = None) -> dict[str, float]:
    """Each agent's cost adjustment in $ against its PCC bill (``+`` = pays more).

    ``adjustment = energy_cost(m - e) - energy_cost(m) + money`` per agent, with
    ``e`` its net P2P energy (MWh, + bought), ``money`` its P2P payment plus
    fee share, and ``m`` its metered PCC import in MWh (export < 0) from
    ``metered_import_mwh``; without it ``m = e`` (the metered exchange covers
    the trade), which gives ``-q*grid_price + q*price + q*fee/2`` for a buyer and
    ``+q*grid_price*sell_discount - q*price + q*fee/2`` for a seller.
    ``grid_price_per_mwh`` ($/MWh) and ``sell_discount`` may be per agent.
    Add the adjustment to the PCC energy cost of the step.
    """
    money = result.money
    out = {}
    for agent, e in result.energy_mwh.items():
        m = e if metered_import_mwh is None else float(metered_import_mwh.get(agent, 0.0))
        price = _per_agent(grid_price_per_mwh, agent)
        disc = _per_agent(sell_discount, agent)
        delta_bill = energy_cost(m - e, price, disc, 1.0) - energy_cost(m, price, disc, 1.0)
        out[agent] = float(delta_bill) + money[agent]
    return out
