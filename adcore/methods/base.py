"""One detector interface for every method: fit (through the shared training loop), then score.

A method owns its new head, its loss and its score. ``score`` is higher for more anomalous
images; it is ``score_features(embed(x))`` so features can be cached and re-scored without
running the network again. What a method can do is declared as class attributes (``trains``,
``uses_oe``, ``needs_class_labels``, ``uses_imagenet_head``), so the loop and the trial ask
instead of guessing.

Resume rules (a trial killed after epoch k restarts from its checkpoint and must end with the
metrics of an uninterrupted run):

1. A resumed trial builds the method afresh on the pretrained network, calls ``setup(ctx)``, then
   loads the checkpoint with ``load_state_dict``. So everything ``load_state_dict`` fills must
   exist after ``setup``: heads whose size depends on the data are created there, not in the
   first training step.
2. Whatever training changes and later training or scoring reads is in ``state_dict()``:
   parameters, buffers (``register_buffer``: centres fixed from theta_0, step counters, per-image
   orders) or, for what is not a tensor (an auxiliary optimiser, SES checkpoints),
   ``get_extra_state`` / ``set_extra_state``.
3. What ``prepare_scoring`` refits before every evaluation (scorers, SVMs, Dirichlets) is never
   saved: it is a function of the saved state.
4. Randomness comes from torch's global RNG or the trial's generator, both of which the
   training loop saves with the checkpoint.

A trained detector is kept and scored again without its training data (``adcore.saved``): its
state dict plus ``fitted_state()``, loaded by ``restore``, which calls neither ``setup`` nor
``prepare_scoring``. A method that builds a module in ``setup`` or fits what is not a buffer in
``prepare_scoring`` (a kNN bank, an SVM) extends both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from adcore.context import FitContext
from adcore.models import Backbone
from adcore.params import ComponentParams
from adcore.registry import Registry


@dataclass
class TrainBatch:
    """One training step's images, normalised and augmented on the training device."""

    normal: torch.Tensor  # (B, 3, S, S)
    oe: torch.Tensor | None = None  # (B, 3, S, S) when the method uses OE
    oe_index: torch.Tensor | None = None  # (B,) positions of those OE images in FitContext.oe
    normal_index: torch.Tensor | None = None  # (B,) positions of the normal images in FitContext.normal


class NotFittedError(RuntimeError):
    """Scoring was asked of a detector whose fitted state (e.g. a centre) does not exist yet."""


class Detector(nn.Module):
    Params: ClassVar[type[ComponentParams]]
    trains: ClassVar[bool] = True  # the training loop takes steps on loss(); False: nothing trains
    uses_oe: ClassVar[bool] = True  # the training loop feeds OE batches to loss()
    needs_class_labels: ClassVar[bool] = False  # setup() reads the class of every training normal
    # it transforms or reads its input images (rotations, pixels) or splits the backbone itself, so it cannot
    # take a frozen prefix's cached outputs instead (model.train_stages)
    needs_images: ClassVar[bool] = False
    uses_imagenet_head: ClassVar[bool] = False  # the backbone's pretrained classifier stays trainable
    metric_names: ClassVar[tuple[str, ...]] = ()  # the keys test_metrics() reports (fixed keys of every row)
    # loss() only launches device work on tensors of fixed shape (no host sync, no data-dependent shape, no host
    # randomness), so the whole training step can be captured in a CUDA graph (runtime.cuda_graph)
    graph_safe: ClassVar[bool] = False

    def __init__(self, backbone: Backbone, params: ComponentParams) -> None:
        super().__init__()
        self.backbone, self.params = backbone, params

    def setup(self, ctx: FitContext) -> None:
        """Called once before training, with the initial (pretrained) network."""

    def prepare_scoring(self, ctx: FitContext) -> None:
        """Called before each evaluation, e.g. to refit a centre on the current features."""

    def epoch_steps(self, default: int) -> int:
        """Minibatches per epoch; ``default`` is one pass over the normal images. A method may train
        a fixed number of minibatches (PANDA's early stopping) or several per pass (GEOM)."""
        return default

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(x)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_features(self.embed(x))

    def variant_names(self) -> list[str]:
        """Names of other scores the method derives from the same features (e.g. other scorers);
        evaluation reports each as ``<split>_auroc_<name>`` beside the main score."""
        return []

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """{name: (B,) scores} for variant_names(), from features as embed() returns them."""
        return {}

    def test_metrics(self, ctx: FitContext, images: torch.Tensor, classes: torch.Tensor) -> dict[str, float]:
        """Metrics of the method's own task on the test images, after the last epoch (``classes``: the
        source class of each image), e.g. a classifier's accuracy on the normal classes; the keys are
        ``metric_names``; none by default."""
        return {}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def fitted_state(self) -> dict[str, Any]:
        """What scoring reads that ``state_dict()`` does not hold, as tensors and plain values (a kept
        detector loads with ``weights_only=True``): what ``setup`` read from the data to shape a module,
        and what ``prepare_scoring`` fitted that is no buffer. Buffers (centres, Dirichlet parameters)
        are in the state dict; none by default."""
        return {}

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        """Load a kept detector (``state_dict()`` and ``fitted_state()`` of a trained one, on this
        detector's device) so that ``score`` runs without the training data. Buffers the data shaped
        (per-image orders, class lists) take their saved shapes; a method whose ``setup`` builds a
        module builds it before calling this, one with a fit outside its buffers restores it after."""
        for name, buffer in list(self.named_buffers()):
            saved = state.get(name)
            if isinstance(saved, torch.Tensor) and saved.shape != buffer.shape:
                owner, _, leaf = name.rpartition(".")
                module = self.get_submodule(owner) if owner else self
                module.register_buffer(leaf, torch.empty(saved.shape, dtype=buffer.dtype, device=buffer.device))
        self.load_state_dict(state)


class FrozenFeatureDetector(Detector):
    """A detector on a frozen network's features: nothing trains, and ``fit(features, ctx)`` is
    called once with the training normals' features (as ``embed`` gives them) before the first
    evaluation. Its fitted state is refitted after a resume, never saved (rule 3)."""

    trains = False
    uses_oe = False

    def __init__(self, backbone: Backbone, params: ComponentParams) -> None:
        super().__init__(backbone, params)
        backbone.requires_grad_(False)
        backbone.eval()
        self.fitted = False

    def train(self, mode: bool = True) -> "FrozenFeatureDetector":
        super().train(mode)
        self.backbone.eval()  # BatchNorm keeps its pretrained statistics
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return []

    def prepare_scoring(self, ctx: FitContext) -> None:
        if not self.fitted:  # the features never change
            self.fit(ctx.forward_batched(self.embed, ctx.normal), ctx)
            self.fitted = True

    def fit(self, features: torch.Tensor, ctx: FitContext) -> None:
        """features: (N, D) of the training normals; ``ctx`` gives what else the fit may use (OE images)."""
        raise NotImplementedError

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        super().restore(state, fitted)
        self.fitted = True  # each subclass restores its fit from ``fitted`` after this


METHODS: Registry[type[Detector]] = Registry("method")


def build_method(params: ComponentParams, backbone: Backbone) -> Detector:
    method = METHODS.get(params.name)(backbone, params)
    if not method.uses_imagenet_head:
        head_names = backbone.head_parameter_names()
        for name, p in backbone.named_parameters():
            if name in head_names:
                p.requires_grad_(False)
    return method
