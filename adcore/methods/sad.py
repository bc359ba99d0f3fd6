"""SAD (Deep SAD, Ruff et al. 2020) with the OE corpus as labelled anomalies: DSVDD's pull toward
the fixed centre for normal images plus eta / ||z - c||^2 pushing OE images away. Paper 000's
one-class baseline that differs from DSVDD only by using OE (and from ADIB with alpha = 0 only in
its loss)."""
from __future__ import annotations


import torch

from adcore.methods.base import METHODS, TrainBatch
from adcore.methods.dsvdd import DSVDD
from adcore.objectives.losses import sad
from adcore.params import ComponentParams, hparam


class SADParams(ComponentParams):
    rep_dim: int = hparam(128, "width of the bias-free head's output z", low=1, high=1024)
    eta: float = hparam(1.0, "weight of the OE term", low=0.01, high=100.0, log=True)


@METHODS.register("sad")
class SAD(DSVDD):
    Params = SADParams
    uses_oe = True

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        assert batch.oe is not None
        z = self._z(torch.cat([batch.normal, batch.oe]))
        return sad(z[: len(batch.normal)], z[len(batch.normal) :], self.center, self.params.eta)
