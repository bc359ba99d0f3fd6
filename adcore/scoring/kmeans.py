"""k-means scoring (Hartigan & Wong 1979), PANDA's cheaper alternative to kNN (paper 001, Sec. 4.2.3:
10 means lose ~1% AUROC on CIFAR-10, 94.9 vs 96.2): squared L2 distance to the nearest of the
means of the training features, clustered by faiss.
"""
from __future__ import annotations


import numpy as np
import torch

from adcore.params import ComponentParams, hparam
from adcore.scoring.base import SCORERS, Scorer
from adcore.scoring.knn import knn_faiss


class KMeansParams(ComponentParams):
    n_means: int = hparam(10, "number of means (PANDA: 10)", low=1, high=1000)
    iterations: int = hparam(20, "Lloyd iterations", low=1, high=300)
    seed: int = hparam(0, "seed of faiss' initialisation, so a trial's scores repeat", low=0, high=2**31 - 1)


@SCORERS.register("kmeans")
class KMeans(Scorer):
    Params = KMeansParams

    def _fit(self, features: torch.Tensor) -> None:
        import faiss

        if len(features) < self.params.n_means:
            raise ValueError(f"kmeans: {self.params.n_means} means asked of {len(features)} training features")
        faiss.omp_set_num_threads(torch.get_num_threads())
        kmeans = faiss.Kmeans(features.shape[1], self.params.n_means, niter=self.params.iterations,
                              seed=self.params.seed, verbose=False)
        kmeans.train(np.ascontiguousarray(features.cpu().numpy(), dtype=np.float32))
        self.means = torch.from_numpy(kmeans.centroids).to(features.device)  # (n_means, D)

    def _score(self, features: torch.Tensor) -> torch.Tensor:
        return knn_faiss(self.means, features, 1).squeeze(1)
