"""NT-Xent, SimCLR's contrastive loss (Chen et al. 2020), as CSI and paper 003 use it (tau = 0.5)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """z (2M, D): rows i and i + M are two views of one instance, every other row is a negative.
    Mean over both directions of -log softmax of the positive's cosine similarity / temperature."""
    m = len(z) // 2
    z = F.normalize(z.float(), dim=1)
    logits = z @ z.T / temperature  # (2M, 2M)
    logits.fill_diagonal_(float("-inf"))  # an instance is not its own negative
    positives = torch.cat([torch.arange(m, 2 * m), torch.arange(m)]).to(z.device)
    return F.cross_entropy(logits, positives)
