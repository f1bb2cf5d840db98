"""Where episodes start in the data: random days for training, consecutive ones for testing."""

from __future__ import annotations

import numpy as np

from powergrid.data import load_dataset


class EpisodeStarts:
    """Start indices (in scenario steps) of episodes of ``episode_length`` steps.

    * training: a random day start such that the whole episode lies in one
      contiguous block of the split (the shipped data's splits are made of
      week-long blocks); if no block is long enough, any day start;
    * testing: episode ``k`` starts ``k * episode_length`` steps into the split,
      wrapping at its end (the feeds wrap too, so no index ever runs out).
    """

    def __init__(self, split: str, step_h: float, episode_length: int,
                 dataset: str | None = None) -> None:
        data = load_dataset(dataset)
        stride = step_h / data.step_h
        self.n_steps = int(np.ceil(data.n_steps(split) / stride))
        self.steps_per_day = max(1, round(24.0 / step_h))
        self.episode_length = int(episode_length)
        starts: list[int] = []
        for lo, hi in data.contiguous_ranges(split):
            first = int(np.ceil(lo / stride / self.steps_per_day)) * self.steps_per_day
            last = int(hi / stride) - self.episode_length
            starts.extend(range(first, last + 1, self.steps_per_day))
        if not starts:
            starts = list(range(0, max(self.n_steps - 1, 1), self.steps_per_day))
        self.train_starts = np.array(starts, dtype=np.int64)

    def train(self, rng: np.random.Generator) -> int:
        """A random start for a training episode."""
        return int(rng.choice(self.train_starts))

    def test(self, k: int) -> int:
        """The start of the ``k``-th consecutive test episode (wrapping)."""
        return int((k * self.episode_length) % self.n_steps)
