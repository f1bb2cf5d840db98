"""Average consensus: agents agree on a common value by repeatedly averaging with neighbours.

Each agent ``i`` holds a value ``x_i`` (or a vector of values) and, in each
round, exchanges it with its neighbours in a symmetric 0/1 graph ``A`` and
updates::

    x_i <- x_i + eps * sum_j a_ij * (x_j - x_i)

i.e. ``x <- x - eps * L x`` with the graph Laplacian ``L = diag(deg) - A``. For
``0 < eps < 1 / max_degree`` (default ``1 / (max_degree + 1)``) the sum of
the values is preserved and, on a **connected** graph, every ``x_i`` converges
to the average of the initial values. On a disconnected graph each connected
component converges to its own average, so agents do not reach the global
mean (the mean over all agents is still preserved).

**Stopping rule.** Iterate until the largest change of one round,
``max_i |Δx_i|``, is below ``tolerance`` (``converged=True``) or
``max_iterations`` rounds have run. A small change does not by itself mean a
small error on a slowly mixing graph (a long ring): the distance to the
average is bounded by ``sqrt(n) * tolerance / (eps * λ2)`` with ``λ2`` the
smallest non-zero Laplacian eigenvalue (:func:`error_bound`). ``spread``
(max - min of the final values) tells how far apart the agents still are.

**Using the agreed value as a control.** Each agent starts from its own
proposal *in per unit of its rating* (e.g. the reactive power it would like to
deliver, ``q_i / q_max_i``) and, after consensus, applies its own final value
``values[i]`` — the quantity it can compute locally — scaled back to its
rating, e.g. ``q_mvar_i = clip(values[i], -1, 1) * q_max_mvar_i``; with all
agents at (nearly) the same value, they share the reactive burden in
proportion to their ratings. ``value`` (the mean of the finals) is what a
central observer would report.

For a distributed run over messages, each agent applies :func:`local_update`
once per round with its neighbours' latest values; :func:`consensus_step` is
the same round for all agents at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class ConsensusResult:
    """Outcome of :func:`average_consensus`.

    ``values``: final value per agent (shape of the input); ``value``: mean of
    the finals over agents; ``iterations``: rounds run; ``converged``: stopped
    because the last change was below tolerance; ``spread``: max - min of the
    finals over agents (per column for vector values).
    """

    values: np.ndarray
    value: float | np.ndarray
    iterations: int
    converged: bool
    spread: float | np.ndarray


def ring_adjacency(n: int) -> np.ndarray:
    """Adjacency of a ring of ``n`` agents (``i`` linked to ``i ± 1 mod n``)."""
    a = np.zeros((n, n))
    if n >= 2:
        idx = np.arange(n)
        a[idx, (idx + 1) % n] = 1.0
        a[(idx + 1) % n, idx] = 1.0
    return a


def complete_adjacency(n: int) -> np.ndarray:
    """Adjacency of the complete graph on ``n`` agents (everyone linked to everyone)."""
    return np.ones((n, n)) - np.eye(n)


def check_adjacency(adjacency: ArrayLike) -> np.ndarray:
    """Validated adjacency as floats: square, symmetric, entries 0/1, zero diagonal."""
    a = np.asarray(adjacency, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {a.shape}")
    if not np.array_equal(a, a.T):
        raise ValueError("adjacency must be symmetric")
    if not np.all((a == 0) | (a == 1)):
        raise ValueError("adjacency entries must be 0 or 1")
    if np.any(np.diag(a) != 0):
        raise ValueError("adjacency must have a zero diagonal (no self-loops)")
    return a


def laplacian(adjacency: ArrayLike) -> np.ndarray:
    """Graph Laplacian ``diag(degree) - A``."""
    a = check_adjacency(adjacency)
    return np.diag(a.sum(axis=1)) - a


def is_connected(adjacency: ArrayLike) -> bool:
    """Whether every agent can reach every other (an empty or 1-agent graph is connected)."""
    a = check_adjacency(adjacency)
    n = a.shape[0]
    if n <= 1:
        return True
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        frontier = (a[frontier].sum(axis=0) > 0) & ~seen
        seen |= frontier
    return bool(seen.all())


def default_step(adjacency: ArrayLike) -> float:
    """``1 / (max_degree + 1)``: always inside the stable range ``(0, 1 / max_degree)``."""
    return 1.0 / (check_adjacency(adjacency).sum(axis=1).max(initial=0.0) + 1.0)


def _step_for(a: np.ndarray, step: float | None) -> float:
    max_deg = a.sum(axis=1).max(initial=0.0)
    if step is None:
        return 1.0 / (max_deg + 1.0)
    if not (step > 0 and (max_deg == 0 or step < 1.0 / max_deg)):
        raise ValueError(f"step must be in (0, 1/max_degree) = (0, {1.0 / max(max_deg, 1)}),"
                         f" got {step}")
    return float(step)


def consensus_step(values: ArrayLike, adjacency: ArrayLike, step: float | None = None
                   ) -> np.ndarray:
    """One round for all agents: ``x + step * (A x - deg * x)``."""
    a = check_adjacency(adjacency)
    x = np.asarray(values, dtype=float)
    eps = _step_for(a, step)
    deg = a.sum(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
    return x + eps * (a @ x - deg * x)


def local_update(own_value: ArrayLike, neighbour_values: ArrayLike, step: float
                 ) -> float | np.ndarray:
    """One agent's round: ``own + step * sum_j (neighbour_j - own)``.

    ``neighbour_values`` has one row per neighbour. ``step`` must be the same
    for all agents and below ``1 / max_degree`` (``1 / n_agents`` is always safe).
    """
    own = np.asarray(own_value, dtype=float)
    nb = np.asarray(neighbour_values, dtype=float).reshape((-1,) + own.shape)
    new = own + step * (nb - own).sum(axis=0)
    return float(new) if new.ndim == 0 else new


def error_bound(adjacency: ArrayLike, tolerance: float, step: float | None = None) -> float:
    """Bound on ``max_i |x_i - mean|`` once a round changed no value by ``tolerance`` or more.

    ``sqrt(n) * tolerance / (step * λ2)``, with ``λ2`` the algebraic connectivity
    (smallest non-zero Laplacian eigenvalue); ``inf`` on a disconnected graph.
    """
    a = check_adjacency(adjacency)
    n = a.shape[0]
    if n <= 1:
        return 0.0
    eigs = np.linalg.eigvalsh(laplacian(a))
    lam2 = eigs[1]
    if lam2 <= 1e-12 * max(eigs[-1], 1.0):
        return float("inf")
    return float(np.sqrt(n) * tolerance / (_step_for(a, step) * lam2))


def average_consensus(values: ArrayLike, adjacency: ArrayLike, tolerance: float = 1e-3,
                      max_iterations: int = 50, step: float | None = None) -> ConsensusResult:
    """Iterate neighbour averaging until ``max |change| < tolerance`` or ``max_iterations``.

    ``values``: shape ``(n,)`` or ``(n, k)`` (``k`` quantities agreed on at once);
    ``adjacency``: ``(n, n)`` symmetric 0/1; ``step``: ``eps`` in
    ``(0, 1/max_degree)``, default ``1/(max_degree + 1)``. See the module
    docstring for the update, convergence and how to use the result.
    """
    a = check_adjacency(adjacency)
    x = np.array(values, dtype=float)
    if x.ndim == 0 or x.shape[0] != a.shape[0]:
        raise ValueError(f"values need one row per agent ({a.shape[0]}), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("consensus values must be finite")
    if tolerance <= 0 or max_iterations < 0:
        raise ValueError("tolerance must be > 0 and max_iterations >= 0")
    eps = _step_for(a, step)
    deg = a.sum(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
    converged = False
    iterations = 0
    while iterations < max_iterations:
        change = eps * (a @ x - deg * x)
        x = x + change
        iterations += 1
        if np.max(np.abs(change), initial=0.0) < tolerance:
            converged = True
            break
    mean = x.mean(axis=0)
    spread = x.max(axis=0) - x.min(axis=0) if x.shape[0] else np.zeros(x.shape[1:])
    return ConsensusResult(x, _scalar(mean), iterations, converged, _scalar(spread))


def _scalar(v: np.ndarray) -> float | np.ndarray:
    return float(v) if np.ndim(v) == 0 else v
