"""Paper 003 (Yu & Chiu, "Boosting semi-supervised anomaly detection via contrasting synthetic
images"): CSI whose contrastive set also holds samples of an adversarial autoencoder trained on the
normals, Algorithm 1. Every batch F takes a CSI step on X; every N-th batch (N = 5) the generative
model first trains, each update with its own Adam (lr 2e-4, betas 0.9, 0.999):

1. D on L_D = log D(x) + log(1 - D(G(h))) + log(1 - D(G(E(x)))), then G and E against it
   (non-saturating form);
2. G on L_CSI(G(h)) through F (F itself is not stepped);
3. D' on L_LD = log D'(h) + log(1 - D'(E(x))), then E against it;
4. G and E on L_REC = 100 ||x - G(E(x))||^2 - sim(F(T1(x)), F(T2(G(E(x))))) (pixel mean squared error in
   [0, 1], cosine similarity of the projections of two SimCLR views);
5. E on L_LREC = ||E(G(h)) - h||^2;

and F's step on that batch is on L_CSI(X) + L_JOINT = L_CSI(X) + L_CSI(X u G(h)), one step on the
sum where Algorithm 1 takes two in a row. The generative optimisers' states are part of the
method's state, so a resumed run continues them. Published CIFAR-10 mean AUROC: 95.1 (CSI: 94.3).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from adcore.context import FitContext
from adcore.methods.aae import AdversarialAutoencoder
from adcore.methods.base import METHODS, TrainBatch
from adcore.methods.csi import CSI, CSIParams
from adcore.models import Backbone
from adcore.params import hparam
from adcore.transforms.simclr import simclr_augment

ADAM_BETAS = (0.9, 0.999)


class CSIGenParams(CSIParams):
    every: int = hparam(5, "N: the generative model trains every N-th batch", low=1, high=20)
    latent_dim: int = Field(128, ge=1, description="width of the autoencoder's latent code h")
    reconstruction_weight: float = hparam(100.0, "lambda of L_REC's pixel term", low=1.0, high=1000.0, log=True)
    generator_lr: float = hparam(2e-4, "Adam learning rate of E, G, D and D'", low=1e-5, high=1e-3, log=True)


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def _step(loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for optimizer in optimizers:
        optimizer.step()


@METHODS.register("csi_gen")
class CSIGen(CSI):
    Params = CSIGenParams

    def __init__(self, backbone: Backbone, params: CSIGenParams) -> None:
        super().__init__(backbone, params)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.aae: AdversarialAutoencoder | None = None  # its size follows the images, known at setup
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    def setup(self, ctx: FitContext) -> None:
        self._build(ctx.normal.shape[-1], ctx.device)

    def _build(self, image_side: int, device: torch.device) -> None:
        """The autoencoder for images of this side, and an Adam for each of its parts."""
        p = self.params
        self.aae = AdversarialAutoencoder(p.latent_dim, image_side, self.backbone.input_mean,
                                          self.backbone.input_std).to(device)
        parts = {"encoder": self.aae.encoder, "generator": self.aae.generator,
                 "discriminator": self.aae.discriminator, "latent_discriminator": self.aae.latent_discriminator}
        self.optimizers = {name: torch.optim.Adam(module.parameters(), lr=p.generator_lr, betas=ADAM_BETAS)
                           for name, module in parts.items()}

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Only F (backbone and heads) takes the training loop's steps; the autoencoder has its own."""
        return [p for module in (self.backbone, self.net) for p in module.parameters() if p.requires_grad]

    def fitted_state(self) -> dict[str, Any]:
        assert self.aae is not None
        return {**super().fitted_state(), "image_side": 8 * self.aae.generator.side}

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        self._build(fitted["image_side"], self.mean.device)
        super().restore(state, fitted)

    def get_extra_state(self) -> dict[str, Any]:
        return {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state[name])

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        self.step += 1
        x = batch.normal
        if int(self.step) % self.params.every:
            return self.csi_loss(x)
        generated = self.train_generative_model(x)
        return self.csi_loss(x) + self.csi_loss(torch.cat([x, generated]))

    def _projection(self, x: torch.Tensor) -> torch.Tensor:
        views = self.to_input(simclr_augment(self.to_pixels(x)))
        return self.net.heads(self.backbone.forward_features(views))[0].float()

    def train_generative_model(self, x: torch.Tensor) -> torch.Tensor:
        """Algorithm 1's inner updates on one batch of normalised normals; returns fresh samples G(h)."""
        assert self.aae is not None
        aae, opt, p = self.aae, self.optimizers, self.params
        h = torch.randn(len(x), p.latent_dim).to(x.device)
        encode, generate, judge = aae.encoder, aae.generator, aae.discriminator

        fake, recon = generate(h), generate(encode(x))
        _step(_bce(judge(x), True) + _bce(judge(fake.detach()), False) + _bce(judge(recon.detach()), False),
              opt["discriminator"])
        _step(_bce(judge(generate(h)), True) + _bce(judge(generate(encode(x))), True), opt["generator"], opt["encoder"])
        _step(self.csi_loss(generate(h)), opt["generator"])
        _step(_bce(aae.latent_discriminator(h), True) + _bce(aae.latent_discriminator(encode(x).detach()), False),
              opt["latent_discriminator"])
        _step(_bce(aae.latent_discriminator(encode(x)), True), opt["encoder"])
        recon = generate(encode(x))
        pixel_error = F.mse_loss(self.to_pixels(recon).float(), self.to_pixels(x).float())
        similarity = F.cosine_similarity(self._projection(x), self._projection(recon), dim=1).mean()
        _step(p.reconstruction_weight * pixel_error - similarity, opt["generator"], opt["encoder"])
        _step(F.mse_loss(encode(generate(h)).float(), h), opt["encoder"])
        with torch.no_grad():
            return generate(h)
