"""The adversarial autoencoder of paper 003 (Yu & Chiu): encoder E, generator G, image discriminator D
and latent discriminator D'. G and D follow the DCGAN-style networks of Miyato et al. (2018) that the
paper names, at a smaller width; E mirrors D (the paper makes E symmetric to G); D' is an MLP.

Images are in the detector's normalised input space; G draws pixels in [0, 1] (tanh rescaled) and
normalises them with the backbone's mean and std, so generated and real images look alike to F.
Sizes: an image side divisible by 8 (three stride-2 stages).
"""
from __future__ import annotations

import torch
from torch import nn

WIDTHS = (64, 128, 256)


def _down(image_side: int, out: int) -> nn.Sequential:
    """(B, 3, S, S) -> (B, out): three stride-2 4x4 convolutions, then a linear map."""
    layers: list[nn.Module] = []
    channels = 3
    for i, width in enumerate(WIDTHS):
        layers.append(nn.Conv2d(channels, width, 4, stride=2, padding=1))
        if i:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU(0.1, inplace=True))
        channels = width
    side = image_side // 8
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(WIDTHS[-1] * side * side, out))


class Generator(nn.Module):
    """h (B, latent) -> normalised images (B, 3, S, S)."""

    def __init__(self, latent_dim: int, image_side: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.side = image_side // 8
        self.project = nn.Linear(latent_dim, WIDTHS[-1] * self.side * self.side)
        layers: list[nn.Module] = []
        for wide, narrow in zip(WIDTHS[:0:-1], WIDTHS[-2::-1]):  # 256 -> 128 -> 64
            layers += [nn.BatchNorm2d(wide), nn.ReLU(inplace=True), nn.ConvTranspose2d(wide, narrow, 4, 2, 1)]
        layers += [nn.BatchNorm2d(WIDTHS[0]), nn.ReLU(inplace=True), nn.ConvTranspose2d(WIDTHS[0], 3, 4, 2, 1),
                   nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.project(h).view(len(h), WIDTHS[-1], self.side, self.side)
        pixels = (self.net(x) + 1.0) / 2.0
        return (pixels - self.mean) / self.std


class AdversarialAutoencoder(nn.Module):
    def __init__(self, latent_dim: int, image_side: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        if image_side % 8:
            raise ValueError(f"the adversarial autoencoder needs an image side divisible by 8, got {image_side}")
        self.encoder = _down(image_side, latent_dim)
        self.generator = Generator(latent_dim, image_side, mean, std)
        self.discriminator = _down(image_side, 1)
        self.latent_discriminator = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.LeakyReLU(0.1, inplace=True),
            nn.Linear(256, 256), nn.LeakyReLU(0.1, inplace=True), nn.Linear(256, 1))
