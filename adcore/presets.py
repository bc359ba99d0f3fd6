"""Named config overlays: the seven arms of paper 000's Table 4 and the methods' usual names.

An arm switches on and off exactly the components Table 4 names, on the same backbone, data and
budget; everything else comes from the trial config it is applied to.
"""
from __future__ import annotations

from typing import Any

from adcore.registry import UnknownNameError

_OE = {"name": "oe_classifier"}
_NO_REG = {"name": "none"}

PRESETS: dict[str, dict[str, Any]] = {
    # a1: eq. (1) from random initialisation, no regularizer
    "a1": {"model": {"pretrained": False, "adapters": False}, "method": _OE, "regularizer": _NO_REG},
    # a2: eq. (1) from the pretrained theta_0, no regularizer
    "a2": {"model": {"pretrained": True, "adapters": False}, "method": _OE, "regularizer": _NO_REG},
    # a3: HSC loss with the L2 pull toward theta_0 that ADIB uses
    "a3": {"model": {"pretrained": True, "adapters": False}, "method": {"name": "hsc"},
           "regularizer": {"name": "l2sp", "alpha": 1e-2}},
    # a4: DOC (compactness + descriptiveness), pretrained, no regularizer
    "a4": {"model": {"pretrained": True, "adapters": False}, "method": {"name": "doc"}, "regularizer": _NO_REG},
    # a5: eq. (2) with EWC, Fisher multiplier 400
    "a5": {"model": {"pretrained": True, "adapters": False}, "method": _OE,
           "regularizer": {"name": "ewc", "lam": 400.0}},
    # a6: ADRA: eq. (1) with residual adapters on the frozen pretrained backbone
    "a6": {"model": {"pretrained": True, "adapters": True}, "method": _OE, "regularizer": _NO_REG},
    # a7: ADIB: eq. (2) with alpha * ||theta - theta_0||^2, alpha = 1e-2
    "a7": {"model": {"pretrained": True, "adapters": False}, "method": _OE,
           "regularizer": {"name": "l2sp", "alpha": 1e-2}},
}
PRESETS.update({
    "adra": PRESETS["a6"],
    "adib": PRESETS["a7"],
    "dsvdd": {"model": {"pretrained": True, "adapters": False}, "method": {"name": "dsvdd"}, "regularizer": _NO_REG},
    "sad": {"model": {"pretrained": True, "adapters": False}, "method": {"name": "sad"}, "regularizer": _NO_REG},
})

TABLE4_ARMS = ("a1", "a2", "a3", "a4", "a5", "a6", "a7")
ARM_LABELS = {
    "a1": "eq. (1), random init", "a2": "eq. (1), pretrained", "a3": "HSC + L2", "a4": "DOC",
    "a5": "eq. (2) + EWC", "a6": "ADRA", "a7": "ADIB",
}


def preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise UnknownNameError(f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
