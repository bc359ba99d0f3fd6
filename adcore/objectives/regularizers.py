"""Regularizers Omega(theta) of eq. (2) in paper 000, pulling a transferred backbone toward theta_0.

Each is built after the backbone has its pretrained weights (theta_0 is snapshotted then) and
covers the backbone's *trainable* parameters only; new heads are never regularized.
"""
from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import nn

from adcore.context import FitContext
from adcore.models import Backbone
from adcore.objectives.fisher import diagonal_fisher
from adcore.params import ComponentParams, hparam
from adcore.registry import Registry


class Regularizer:
    """penalty() is added to the method's loss at every step."""

    Params: ClassVar[type[ComponentParams]]
    # penalty() and after_step() only launch device work (no host sync): the training step can be captured
    # in a CUDA graph (runtime.cuda_graph); after_step's lr is captured with it
    graph_safe: ClassVar[bool] = True

    def __init__(self, params: ComponentParams, backbone: Backbone, ctx: FitContext) -> None:
        self.params, self.device = params, ctx.device
        head_names = backbone.head_parameter_names()
        self.named = [(name, p) for name, p in backbone.named_parameters()
                      if p.requires_grad and name not in head_names]
        self.theta0 = {name: p.detach().clone() for name, p in self.named}

    def penalty(self) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self, lr: float) -> None:
        """Called after each optimizer step; proximal regularizers apply themselves here."""

    @torch.no_grad()
    def shift(self) -> tuple[float, float]:
        """How far training moved the regularized weights: ||theta - theta_0|| and that over ||theta_0||,
        so a table shows whether a pull toward theta_0 did anything."""
        zero = torch.zeros((), device=self.device)
        moved = sum(((p - self.theta0[name]).pow(2).sum() for name, p in self.named), start=zero).sqrt().item()
        size = sum((self.theta0[name].pow(2).sum() for name, _ in self.named), start=zero).sqrt().item()
        return moved, moved / size if size > 0 else float("nan")


REGULARIZERS: Registry[type[Regularizer]] = Registry("regularizer")


class NoneParams(ComponentParams):
    """Only the name: this component has no parameters."""


@REGULARIZERS.register("none")
class NoRegularizer(Regularizer):
    Params = NoneParams

    def penalty(self) -> torch.Tensor:
        return torch.zeros((), device=self.device)


class L2SPParams(ComponentParams):
    alpha: float = hparam(1e-2, "weight alpha of the pull toward theta_0 (paper 000: 1e-2)", low=1e-5, high=1.0, log=True)
    form: Literal["squared", "norm"] = hparam(
        "squared", "squared: alpha*||theta-theta_0||^2 over all trained backbone parameters (the paper); "
        "norm: alpha*||theta-theta_0||_2 over conv weights with kernel > 1 (the authors' code)",
        choices=["squared", "norm"])


@REGULARIZERS.register("l2sp")
class L2SP(Regularizer):
    """ADIB's inductive bias. The 'norm' form's gradient is undefined at theta_0 (0/0); it is
    computed as sqrt(s + eps) - sqrt(eps), whose gradient there is exactly zero."""

    Params = L2SPParams
    _EPS = 1e-12

    def __init__(self, params: L2SPParams, backbone: Backbone, ctx: FitContext) -> None:
        super().__init__(params, backbone, ctx)
        if params.form == "norm":
            spatial = {f"{module_name}.weight" for module_name, m in backbone.named_modules()
                       if isinstance(m, nn.Conv2d) and max(m.kernel_size) > 1}
            self.named = [(name, p) for name, p in self.named if name in spatial]

    def penalty(self) -> torch.Tensor:
        squared = sum(((p - self.theta0[name]).pow(2).sum() for name, p in self.named),
                      start=torch.zeros((), device=self.device))
        if self.params.form == "squared":
            return self.params.alpha * squared
        return self.params.alpha * (torch.sqrt(squared + self._EPS) - self._EPS ** 0.5)


class EWCParams(ComponentParams):
    lam: float = hparam(400.0, "Fisher multiplier lambda in lambda/2 * sum F (theta-theta_0)^2 (paper 000: 400; PANDA: 1e4)",
                        low=1.0, high=1e5, log=True)
    fisher_samples: int = hparam(256, "training images the diagonal Fisher is averaged over", low=32, high=4096)
    update: Literal["proximal", "gradient"] = hparam(
        "proximal", "gradient: add the penalty's gradient to SGD's (unstable once lr*lam*F > 2(1+momentum)); "
        "proximal: after each SGD step on the loss, the exact minimiser of the penalty's quadratic, "
        "theta_0 + (theta - theta_0) / (1 + lr*lam*F)", choices=["proximal", "gradient"])


@REGULARIZERS.register("ewc")
class EWC(Regularizer):
    """Elastic weight consolidation (Kirkpatrick et al. 2017) with the Fisher of the pretrained head:
    lam/2 * sum_i F_i (theta_i - theta_0,i)^2, applied as a proximal step by default (see after_step)."""

    Params = EWCParams

    def __init__(self, params: EWCParams, backbone: Backbone, ctx: FitContext) -> None:
        super().__init__(params, backbone, ctx)
        if backbone.num_classes == 0:
            raise ValueError("regularizer ewc needs a backbone with its pretrained classifier head "
                             "(the Fisher is taken from it); this backbone has none")
        images = ctx.normal[: params.fisher_samples]
        self.fisher = diagonal_fisher(backbone, [name for name, _ in self.named], images, ctx)

    def penalty(self) -> torch.Tensor:
        with torch.set_grad_enabled(self.params.update == "gradient"):  # proximal: value only, for the log
            total = sum(((self.fisher[name] * (p - self.theta0[name]).pow(2)).sum() for name, p in self.named),
                        start=torch.zeros((), device=self.device))
        return 0.5 * self.params.lam * total

    @torch.no_grad()
    def after_step(self, lr: float) -> None:
        """Proximal step for lam/2 * F * (theta - theta_0)^2: shrink toward theta_0 by 1 + lr*lam*F.

        With the ImageNet head's Fisher, a few weights have F ~ 30, so at lr 0.1 and lam 400 the
        plain gradient step overshoots by a factor ~1000 and diverges; the proximal step minimises
        the same objective and pins exactly those weights near theta_0, as EWC intends."""
        if self.params.update != "proximal":
            return
        for name, p in self.named:
            theta0 = self.theta0[name]
            p.sub_(theta0).div_(1.0 + lr * self.params.lam * self.fisher[name]).add_(theta0)


def build_regularizer(params: ComponentParams, backbone: Backbone, ctx: FitContext) -> Regularizer:
    return REGULARIZERS.get(params.name)(params, backbone, ctx)
