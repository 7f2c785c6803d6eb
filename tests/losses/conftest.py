"""What the loss tests share: random problems with targets in {1, 0, -1}, each element-wise
loss of balanced.py and partial.py as a function of (logits, targets) with the settings the
tests use, the plain-Python helpers of the reference definitions, and the half-precision
check."""

import math

import torch

from mlteach.losses import (
    assume_negative_loss,
    asymmetric_loss,
    bce_loss,
    combined_loss,
    distribution_balanced_loss,
    down_weight_loss,
    dr_loss,
    entropy_maximization_loss,
    entropy_minimization_loss,
    focal_loss,
    label_smoothing_loss,
    large_loss,
    lsep_loss,
    margin_bias_two_way_loss,
    multilabel_softmax_loss,
    negative_label_smoothing_loss,
    two_way_loss,
    warp_loss,
    zlpr_loss,
)

NAN = float("nan")

BALANCED_LOSSES = {
    "focal": lambda x, t: focal_loss(x, t),
    "focal_alpha": lambda x, t: focal_loss(x, t, gamma=0.5, alpha=0.75),
    "asl": lambda x, t: asymmetric_loss(x, t),
    "asl_noclip": lambda x, t: asymmetric_loss(x, t, clip=0.0, gamma_neg=2.0, gamma_pos=1.0),
    "db": lambda x, t: distribution_balanced_loss(x, t, [7] * t.shape[1], 20),
}
PARTIAL_LOSSES = {
    "AN": lambda x, t: assume_negative_loss(x, t),
    "DW": lambda x, t: down_weight_loss(x, t),
    "LS": lambda x, t: label_smoothing_loss(x, t),
    "N-LS": lambda x, t: negative_label_smoothing_loss(x, t),
    "EntMin": lambda x, t: entropy_minimization_loss(x, t),
    "EM": lambda x, t: entropy_maximization_loss(x, t),
    "EM+APL": lambda x, t: entropy_maximization_loss(x, t, pseudo_targets=torch.where(t == -1, 0.2, NAN)),
    "LL-R": lambda x, t: large_loss(x, t, 0.3, "LL-R"),
    "LL-Ct": lambda x, t: large_loss(x, t, 0.3, "LL-Ct"),
}

RANKING_LOSSES = {
    "two-way": lambda x, t: two_way_loss(x, t),
    "two-way sample": lambda x, t: two_way_loss(x, t, mode="sample"),
    "margin-bias": lambda x, t: margin_bias_two_way_loss(x, t),
    "LSEP": lambda x, t: lsep_loss(x, t),
    "C-LSEP": lambda x, t: lsep_loss(x, t, gamma=2.0, class_wise=True),
    "ZLPR": lambda x, t: zlpr_loss(x, t),
    "DR": lambda x, t: dr_loss(x, t),
    "DR both": lambda x, t: dr_loss(x, t, constraint="both"),
}
BASELINE_LOSSES = {
    "BCE": lambda x, t: bce_loss(x, t),
    "softmax": lambda x, t: multilabel_softmax_loss(x, t),
    "WARP": lambda x, t: warp_loss(x, t),
    "BCE + DR": lambda x, t: combined_loss(x, t, terms=[{"loss": "bce_loss"}, {"loss": "dr_loss", "weight": 0.5}]),
}
#: every multi-label loss of the package, as a function of (logits, targets)
ALL_LOSSES = {**RANKING_LOSSES, **BALANCED_LOSSES, **PARTIAL_LOSSES, **BASELINE_LOSSES}


def random_problem(seed, rows, cols, scale=3.0, dtype=torch.float64, unknown_share=None):
    """Logits (normal, times ``scale``) and targets drawn uniformly from {1, 0, -1}; with
    ``unknown_share``, that share of the entries is then hidden (-1) as well."""
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(rows, cols, generator=generator, dtype=torch.float64) * scale).to(dtype)
    targets = torch.randint(-1, 2, (rows, cols), generator=generator).to(torch.float32)
    if unknown_share is not None:
        targets[torch.rand(rows, cols, generator=generator) < unknown_share] = -1.0
    return logits, targets


def sigmoid(z: float) -> float:
    """The logistic function in plain Python (for per-entry references)."""
    return 1.0 / (1.0 + math.exp(-z))


def entries(targets):
    """Every (row, column) index pair of ``targets``."""
    rows, cols = targets.shape
    return [(i, j) for i in range(rows) for j in range(cols)]


def assert_accumulates_in_float32(loss, x: torch.Tensor) -> None:
    """``loss(x)`` for half-precision ``x`` is a finite float32 value equal to the loss of
    ``x`` cast to float32, and its gradient is finite and of ``x``'s dtype."""
    value = loss(x)
    (grad,) = torch.autograd.grad(value, x)
    assert value.dtype == torch.float32 and grad.dtype == x.dtype
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    torch.testing.assert_close(value, loss(x.detach().float()))
