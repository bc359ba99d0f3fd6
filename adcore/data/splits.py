"""The test split of a source that has only one (mnist5k, digits, a folder without test/, an .npz
without x_test): ``data.test_fraction`` of each class, drawn with the trial seed, never trained on.

How many images of a class go to the test split depends on the class's size alone (``n_test_images``),
so the check before Ray knows the split's make-up without drawing it; which images go is drawn from
a stream of its own, derived from the trial seed, so the draw does not shift the images every other
subsample of the trial takes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from adcore.data.sources.base import Census

if TYPE_CHECKING:
    import torch

SPLIT_STREAM = 0x7E57  # spawn key of the test split's stream


def n_test_images(n: int, fraction: float) -> int:
    """Test images of a class of ``n``: round(fraction * n), at least one, and at least one left to train on."""
    return 0 if n < 2 else min(n - 1, max(1, round(fraction * n)))


def drawn_censuses(whole: Census, fraction: float) -> tuple[Census, Census]:
    """(training, test) make-up of a one-split source once its test split is drawn."""
    test = tuple(n_test_images(n, fraction) for n in whole.counts)
    test_unlabelled = n_test_images(whole.unlabelled, fraction)
    train = tuple(n - k for n, k in zip(whole.counts, test))
    return (Census(whole.class_names, train, whole.unlabelled - test_unlabelled, whole.class_concepts),
            Census(whole.class_names, test, test_unlabelled, whole.class_concepts))


def split_seed(seed: int) -> int:
    """The seed of the test split's stream, derived from the trial seed."""
    import numpy as np

    return int(np.random.SeedSequence([seed, SPLIT_STREAM]).generate_state(1)[0])


def stratified_test_index(labels: "torch.Tensor", fraction: float, seed: int) -> "torch.Tensor":
    """Sorted indices of the test images: ``n_test_images`` of each label value (unlabelled -1 too), seeded."""
    import torch

    generator = torch.Generator().manual_seed(split_seed(seed))
    chosen = []
    for value in torch.unique(labels).tolist():  # ascending: the same order on every machine
        index = torch.nonzero(labels == value, as_tuple=True)[0]
        order = torch.randperm(len(index), generator=generator)
        chosen.append(index[order[: n_test_images(len(index), fraction)]])
    return torch.sort(torch.cat(chosen)).values if chosen else torch.zeros(0, dtype=torch.long)
