"""CSI's pieces: the score's weights are the inverse training means, NT-Xent prefers aligned views,
the SimCLR augmentations are seeded batched ops that keep images in range."""
from __future__ import annotations

import torch

from adcore.objectives.contrastive import nt_xent
from adcore.scoring.csi import csi_normality, csi_weights, nearest_sum_normality
from adcore.transforms.simclr import simclr_augment


def test_csi_weights_are_the_inverse_training_means() -> None:
    torch.manual_seed(0)
    z = torch.randn(50, 4, 8) * torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1)
    logit = torch.rand(50, 4) + torch.tensor([1.0, 2.0, 3.0, 4.0])
    weight_sim, weight_logit = csi_weights(z, logit)
    for k in range(4):
        assert torch.isclose(weight_sim[k], 1 / z[:, k].norm(dim=1).mean())
        assert torch.isclose(weight_logit[k], 1 / logit[:, k].mean())


def test_csi_score_is_the_weighted_nearest_similarity_plus_logit() -> None:
    torch.manual_seed(1)
    train, z, logit = torch.randn(30, 4, 8), torch.randn(5, 4, 8), torch.randn(5, 4)
    weight_sim, weight_logit = torch.rand(4) + 0.5, torch.rand(4) + 0.5
    score = csi_normality(z, logit, train, weight_sim, weight_logit)
    unit = train / train.norm(dim=2, keepdim=True)
    for b in range(5):
        expected = sum(((unit[:, k] @ z[b, k]).max() * weight_sim[k] + logit[b, k] * weight_logit[k])
                       for k in range(4)) / 4
        assert torch.isclose(score[b], expected, atol=1e-5)


def test_a_training_image_is_its_own_nearest_neighbour() -> None:
    torch.manual_seed(2)
    train = torch.randn(20, 4, 8)
    assert torch.allclose(nearest_sum_normality(train, train), train.norm(dim=2).sum(dim=1), atol=1e-5)


def test_nt_xent_is_lower_for_aligned_views() -> None:
    torch.manual_seed(3)
    z = torch.randn(16, 32)
    aligned = nt_xent(torch.cat([z, z + 0.01 * torch.randn_like(z)]), 0.5)
    unrelated = nt_xent(torch.randn(32, 32), 0.5)
    assert aligned < unrelated


def test_simclr_augmentations_are_seeded_and_stay_in_range() -> None:
    images = torch.rand(8, 3, 16, 16)
    torch.manual_seed(4)
    first = simclr_augment(images)
    torch.manual_seed(4)
    second = simclr_augment(images)
    assert torch.equal(first, second) and first.shape == images.shape
    assert first.min() >= 0 and first.max() <= 1 and not torch.equal(first, images)
