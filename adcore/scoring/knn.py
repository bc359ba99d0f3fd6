"""kNN scoring (Eskin et al. 2002; the score of PANDA, paper 001, and of Bergman's kNN-AD): the sum
of squared L2 distances to the k nearest training features, as PANDA's code sums faiss' squared
distances. k = 2 in PANDA. Exact search on faiss (IndexFlatL2), or brute force in torch, which is
what runs on a GPU machine without faiss.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from adcore.params import ComponentParams, hparam
from adcore.scoring.base import SCORERS, Scorer


class KNNParams(ComponentParams):
    k: int = hparam(2, "neighbours whose squared L2 distances are summed (PANDA: 2)", low=1, high=64)
    backend: Literal["faiss", "torch"] = Field(
        "faiss", description="faiss: exact IndexFlatL2 on the CPU; torch: brute force on the features' device")


def knn_faiss(gallery: torch.Tensor, queries: torch.Tensor, k: int) -> torch.Tensor:
    """(N, D) gallery, (M, D) queries -> (M, k) squared L2 distances, nearest first (faiss, exact)."""
    import faiss

    faiss.omp_set_num_threads(torch.get_num_threads())  # follow runtime.threads, as torch does
    index = faiss.IndexFlatL2(gallery.shape[1])
    index.add(np.ascontiguousarray(gallery.cpu().numpy(), dtype=np.float32))
    distances, _ = index.search(np.ascontiguousarray(queries.cpu().numpy(), dtype=np.float32), k)
    return torch.from_numpy(distances).to(queries.device)


def knn_torch(gallery: torch.Tensor, queries: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """The same by brute force: ||q||^2 + ||g||^2 - 2 q.g in float64 chunks of queries."""
    g = gallery.to(queries.device).double()
    g_sq = g.pow(2).sum(dim=1)  # (N,)
    out = []
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk].double()
        d = (q.pow(2).sum(dim=1, keepdim=True) + g_sq - 2.0 * q @ g.T).clamp_min_(0.0)  # (m, N)
        out.append(d.topk(k, dim=1, largest=False).values.float())
    return torch.cat(out)


@SCORERS.register("knn")
class KNN(Scorer):
    Params = KNNParams

    def _fit(self, features: torch.Tensor) -> None:
        if len(features) < self.params.k:
            raise ValueError(f"knn: k={self.params.k} neighbours asked of {len(features)} training features")
        self.gallery = features

    def _score(self, features: torch.Tensor) -> torch.Tensor:
        search = knn_faiss if self.params.backend == "faiss" else knn_torch
        return search(self.gallery, features, self.params.k).sum(dim=1)
