"""Which samples each step trains on: a deterministic plan over global sample positions, the same for
any number of ranks and loader workers, so that a resumed run (also on another number of GPUs) sees
exactly the samples an uninterrupted one sees, in the same order.

Each source (one mixed set, or `real` and `synthetic` with fixed shares of every batch, as
`train-shards fit --share` does) is a sequence of epochs; every epoch is a seeded permutation of all
its samples. Step t takes, from each source s, the positions [t·c_s, (t + 1)·c_s) of that sequence (c_s:
the source's samples per global batch), so the data position after t steps is t·c_s per source: it is
recorded in every checkpoint and checked on resume. Rank r of R takes the r-th of R equal slices of
each source's positions; loader worker w of W builds the steps t ≡ w (mod W) of its rank, which
PyTorch's DataLoader returns in step order. Every rank takes the same number of steps and the same
number of samples per source: no DDP rank waits for another that ran out of data.
"""
import bisect
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .seeds import derive
from .shards import sample_counts


class PlanError(ValueError):
    """A plan that cannot be run as asked (the message says why and what to change)."""


@dataclass
class Source:
    name: str
    shards: list
    counts: list = field(default=None)

    def __post_init__(self):
        if self.counts is None:
            self.counts = sample_counts(self.shards)
        self.starts = np.cumsum([0] + list(self.counts)).tolist()
        self.total = self.starts[-1]
        if self.total == 0:
            raise PlanError(f"source {self.name}: its shards hold no sample ({', '.join(self.shards)})")
        self._orders = {}

    def order(self, epoch, seed):
        """The permutation of all samples this source uses in `epoch` (the last few are cached)."""
        if epoch not in self._orders:
            if len(self._orders) > 2:
                self._orders.pop(min(self._orders))
            self._orders[epoch] = np.random.default_rng(derive(seed, "epoch-order:" + self.name, epoch)).permutation(self.total)
        return self._orders[epoch]

    def locate(self, position, seed):
        """(epoch, shard path, index in the shard, the shard's sample count) of global position `position`."""
        epoch, within = divmod(position, self.total)
        sample = int(self.order(epoch, seed)[within])
        shard = bisect.bisect_right(self.starts, sample) - 1
        return epoch, self.shards[shard], sample - self.starts[shard], self.counts[shard]

    def description(self):
        return {"name": self.name, "shards": [os.path.basename(s) for s in self.shards], "samples": self.total}


def split_batch(global_batch, shares, names):
    """Samples per global batch for each source: exact shares of the batch (`--share real=0.5`), the last
    source taking the rest; a share that is not a whole number of samples is an error, not a rounding."""
    if len(names) == 1:
        if shares:
            raise PlanError("--share needs two or more named --train sources")
        return [global_batch]
    unknown = sorted(set(shares) - set(names))
    if unknown:
        raise PlanError(f"--share names {', '.join(unknown)}, which no --train source is called (sources: {', '.join(names)})")
    unset = [n for n in names if n not in shares]
    if len(unset) != 1:
        raise PlanError(f"--share must leave exactly one source to take the rest of the batch (sources: {', '.join(names)})")
    counts = []
    for name in names:
        if name in shares:
            exact = shares[name] * global_batch
            if not (0 < shares[name] < 1) or abs(exact - round(exact)) > 1e-9:
                raise PlanError(f"--share {name}={shares[name]} of a global batch of {global_batch} is {exact:g} samples: "
                                "give a share in (0, 1) that is a whole number of samples")
            counts.append(int(round(exact)))
        else:
            counts.append(None)
    rest = global_batch - sum(c for c in counts if c is not None)
    if rest <= 0:
        raise PlanError(f"the shares leave no sample of the batch for {unset[0]}")
    return [rest if c is None else c for c in counts]


class DataPlan:
    def __init__(self, sources, per_step, seed):
        self.sources, self.per_step, self.seed = list(sources), list(per_step), seed
        self.global_batch = sum(self.per_step)

    def check_world(self, world):
        """Every rank must take an equal slice of every source."""
        uneven = [f"{s.name}: {c}" for s, c in zip(self.sources, self.per_step) if c % world]
        if uneven:
            raise PlanError(f"samples per step ({', '.join(uneven)}) do not split evenly over {world} ranks: "
                            "choose --batch and --share so that each source's count per step is a multiple of the ranks")

    def positions(self, step, rank=0, world=1):
        """[(source index, global position)] rank `rank` trains on at `step` (0-based), source by source."""
        chosen = []
        for index, count in enumerate(self.per_step):
            mine = count // world
            first = step * count + rank * mine
            chosen += [(index, p) for p in range(first, first + mine)]
        return chosen

    def in_plan_order(self, per_rank):
        """Items of one step gathered from every rank (rank order) -> the order of `positions(step)` on one rank."""
        world, ordered, start = len(per_rank), [], 0
        for count in self.per_step:
            mine = count // world
            for items in per_rank:
                ordered += items[start:start + mine]
            start += mine
        return ordered

    def state(self, steps_done):
        """The data position after `steps_done` steps, as checkpoints record it."""
        return {"seed": self.seed, "global_batch": self.global_batch, "steps": steps_done,
                "sources": [dict(s.description(), per_step=c, consumed=steps_done * c, epoch=(steps_done * c) // s.total)
                            for s, c in zip(self.sources, self.per_step)]}

    def differences(self, state, steps_done):
        """What differs between a checkpoint's data position and this plan's at `steps_done` (empty: none)."""
        mine = self.state(steps_done)
        found = []
        for key in ("seed", "global_batch", "steps"):
            if state.get(key) != mine[key]:
                found.append(f"{key}: checkpoint {state.get(key)!r}, now {mine[key]!r}")
        theirs = state.get("sources") or []
        if [s.get("name") for s in theirs] != [s["name"] for s in mine["sources"]]:
            found.append(f"sources: checkpoint {[s.get('name') for s in theirs]}, now {[s['name'] for s in mine['sources']]}")
        else:
            for old, new in zip(theirs, mine["sources"]):
                for key in ("shards", "samples", "per_step", "consumed"):
                    if old.get(key) != new[key]:
                        found.append(f"source {new['name']} {key}: checkpoint {old.get(key)!r}, now {new[key]!r}")
        return found


def epochs_to_steps(epochs, plan):
    """Steps for `epochs` passes over the first source (the real one, when shares are given)."""
    return math.ceil(epochs * plan.sources[0].total / plan.per_step[0])
