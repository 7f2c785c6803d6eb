"""Five ways to compute a loss wrongly, each beside the log-space form the book uses.

The naive forms below are written to be *shown*, never used for training: each is the way a
formula reads on paper, and each breaks at some logit scale or in some dtype.

========================  ===========================================  ===========================
pattern                   naive form                                   log-space form
========================  ===========================================  ===========================
epsilon inside a log      ``-log(sigmoid(x) + eps)``                   ``softplus(-x)``
exp before log            ``log(1 + exp(-x))``                         ``softplus(-x)``
large-constant mask       ``logsumexp(x - (1 - m) * K)``               ``logsumexp`` over ``-inf``
                                                                       outside the set
mean over an empty set    ``sum(m * l) / sum(m)``                      ``sum(m * l) / max(sum(m), 1)``
half precision            ``-log(1 - sigmoid(x))``                     ``softplus(x)``
========================  ===========================================  ===========================

(``-log sigma(x) = softplus(-x)`` is the BCE of a positive, ``-log(1 - sigma(x)) = softplus(x)``
that of a negative.) :func:`error_sweep` measures every pattern against a float64 reference
over a range of logit scales in float32, float16 and bfloat16; :func:`failure_table` runs the
failures reported against the papers' code next to what :mod:`mlteach.losses` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .losses import asymmetric_loss, entropy_maximization_loss, two_way_loss

__all__ = ["DTYPES", "PATTERNS", "Pattern", "error_sweep", "gradient_errors", "failure_table", "loss_curves",
           "log_with_epsilon", "log_of_exp", "constant_masked_logsumexp", "masked_logsumexp",
           "mean_over_set", "naive_mean_over_set", "negative_log_of_complement", "dtype_limits"]

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


# ------------------------------------------------------------------------------ naive forms
def log_with_epsilon(logits: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Naive BCE of a positive, ``-log(sigma(x) + eps)``: the loss stops growing below
    ``x = log(eps)`` and its gradient vanishes there; in float16 ``eps = 1e-8`` rounds to 0."""
    return -torch.log(torch.sigmoid(logits) + eps)


def log_of_exp(logits: torch.Tensor) -> torch.Tensor:
    """Naive BCE of a positive, ``log(1 + exp(-x))``: ``exp`` overflows for ``-x`` above
    88.7 in float32 (11.1 in float16) and the loss becomes ``inf``."""
    return torch.log(1 + torch.exp(-logits))


def constant_masked_logsumexp(values: torch.Tensor, member: torch.Tensor, constant: float = 100.0,
                              dim: int = -1) -> torch.Tensor:
    """Naive LSE over a set: entries outside it (``member == 0``) are pushed down by a large
    ``constant`` K held as a tensor of the values' dtype (a buffer of a model cast to half
    precision), ``LSE(v - (1 - m) K)``. Wrong once the set's values fall more than about K
    below the others, and for an empty set, whose LSE should be ``-inf``; a K beyond the dtype's
    range (1e12 in float16) is ``inf``, and ``0 * inf = NaN`` on the members."""
    return torch.logsumexp(values - (1 - member) * torch.tensor(constant, dtype=values.dtype), dim=dim)


def naive_mean_over_set(losses: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """Naive mean of ``losses`` over a set, ``sum(m l) / sum(m)``: 0 / 0 = NaN when the set is
    empty (a batch without positives), and the NaN reaches every weight through backward."""
    return (losses * member).sum() / member.sum()


def negative_log_of_complement(logits: torch.Tensor) -> torch.Tensor:
    """Naive BCE of a negative, ``-log(1 - sigma(x))``: ``sigma(x)`` rounds to 1 from
    x = 5.5 in bfloat16, 8.3 in float16 and 16.6 in float32, and the loss becomes ``inf``."""
    return -torch.log(1 - torch.sigmoid(logits))


# ------------------------------------------------------------------------------ log-space forms
def masked_logsumexp(values: torch.Tensor, member: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """LSE over the set ``member == 1`` along ``dim``: ``-inf`` outside the set, and an empty
    set gives ``-inf`` with a zero (not NaN) gradient. :func:`mlteach.losses` computes the same
    in one pass with a closed-form gradient (``mlteach.losses._label_sets``)."""
    masked = torch.where(member.bool(), values, -math.inf)
    empty = ~member.bool().any(dim=dim, keepdim=True)
    safe = torch.logsumexp(torch.where(empty, 0.0, masked), dim=dim)  # no -inf - (-inf) in backward
    return torch.where(empty.squeeze(dim), -math.inf, safe)


def mean_over_set(losses: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """Mean of ``losses`` over a set, 0 (still connected to ``losses``) when the set is empty."""
    return (losses * member).sum() / member.sum().clamp(min=1)


# ------------------------------------------------------------------------------ the patterns
class Pattern(NamedTuple):
    """A naive and a log-space form of one computation on a line of logits ``[n]``, with the
    float64 reference (the log-space form in float64)."""

    name: str
    naive_label: str
    naive: Callable[[torch.Tensor], torch.Tensor]
    log_space_label: str
    log_space: Callable[[torch.Tensor], torch.Tensor]


def _set_of_lowest(logits: torch.Tensor) -> torch.Tensor:
    """The set of the three lowest entries of the line (a confident positive's view: LSE of
    the values of its set lies far below the others)."""
    member = torch.zeros_like(logits)
    member[logits.argsort()[:3]] = 1
    return member


def _empty_set_mean(naive: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    def mean(logits):
        losses, member = F.softplus(-logits), torch.zeros_like(logits)  # a batch without positives
        return (naive_mean_over_set if naive else mean_over_set)(losses, member).reshape(1)
    return mean


PATTERNS = (
    Pattern("epsilon inside a log", "-log(σ(x) + 1e-8)", log_with_epsilon,
            "softplus(-x)", lambda x: F.softplus(-x)),
    Pattern("exp before log", "log(1 + exp(-x))", log_of_exp, "softplus(-x)", lambda x: F.softplus(-x)),
    Pattern("large-constant mask", "LSE(x - 100 (1 - m))",
            lambda x: constant_masked_logsumexp(x, _set_of_lowest(x)).reshape(1),
            "LSE over the set (-inf outside)", lambda x: masked_logsumexp(x, _set_of_lowest(x)).reshape(1)),
    Pattern("mask constant 1e12", "LSE(x - 1e12 (1 - m))",
            lambda x: constant_masked_logsumexp(x, _set_of_lowest(x), constant=1e12).reshape(1),
            "LSE over the set (-inf outside)", lambda x: masked_logsumexp(x, _set_of_lowest(x)).reshape(1)),
    Pattern("mean over an empty set", "sum(m ℓ) / sum(m)", _empty_set_mean(naive=True),
            "sum(m ℓ) / max(sum(m), 1)", _empty_set_mean(naive=False)),
    Pattern("half precision", "-log(1 - σ(x))", negative_log_of_complement, "softplus(x)", F.softplus),
)


def _line(scale: float, dtype: torch.dtype, points: int) -> torch.Tensor:
    return (scale * torch.linspace(-1.0, 1.0, points, dtype=torch.float64)).to(dtype)


def _error(values: torch.Tensor, reference: torch.Tensor) -> tuple[float, bool]:
    """(largest error relative to 1 + |reference|, whether some value is NaN or infinite where
    the reference is finite)."""
    values = values.to(torch.float64)
    finite = torch.isfinite(reference)
    broken = bool((~torch.isfinite(values) & finite).any())
    both = finite & torch.isfinite(values)
    wrong_inf = bool(((values != reference) & ~finite).any())
    gap = ((values - reference).abs() / (1 + reference.abs()))[both]
    return (float(gap.max()) if gap.numel() else 0.0), broken or wrong_inf


def error_sweep(scales: Sequence[float] = tuple(np.logspace(0, 4, 33)), dtypes: Sequence[str] = tuple(DTYPES),
                points: int = 41) -> pd.DataFrame:
    """Every pattern's naive and log-space form on the line ``scale * linspace(-1, 1, points)``
    in each dtype, against the float64 reference: one row per (pattern, form, dtype, scale) with
    ``error`` (largest ``|value - reference| / (1 + |reference|)`` over the finite entries) and
    ``broken`` (a NaN or infinity where the reference has none, or a wrong infinity)."""
    rows = []
    for pattern in PATTERNS:
        for scale in scales:
            reference = pattern.log_space(_line(scale, torch.float64, points))
            for dtype in dtypes:
                logits = _line(scale, DTYPES[dtype], points)
                for form, fn in (("naive", pattern.naive), ("log-space", pattern.log_space)):
                    with torch.no_grad():
                        error, broken = _error(fn(logits), reference)
                    rows.append({"pattern": pattern.name, "form": form, "dtype": dtype, "scale": float(scale),
                                 "error": error, "broken": broken})
    return pd.DataFrame(rows)


def gradient_errors(scale: float = 30.0, dtypes: Sequence[str] = tuple(DTYPES), points: int = 41) -> pd.DataFrame:
    """What one training step would receive: the gradient of each pattern's summed values with
    respect to the logits ``scale * linspace(-1, 1, points)``, naive and log-space, in each
    dtype, against the float64 gradient of the log-space form. One row per (pattern, dtype)
    with the error of each form's gradient (as in :func:`error_sweep`; ``inf`` when it holds a
    NaN or infinity, which a step would write into the weights)."""
    rows = []
    for pattern in PATTERNS:
        exact = _line(scale, torch.float64, points).requires_grad_()
        pattern.log_space(exact).sum().backward()
        reference = exact.grad
        row = {"pattern": pattern.name}
        for dtype in dtypes:
            for form, fn in (("naive", pattern.naive), ("log-space", pattern.log_space)):
                logits = _line(scale, DTYPES[dtype], points).requires_grad_()
                fn(logits).sum().backward()
                error, broken = _error(logits.grad, reference)
                row[(dtype, form)] = math.inf if broken else error
        rows.append(row)
    table = pd.DataFrame(rows).set_index("pattern")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["dtype", "form"])
    return table


def loss_curves(scale: float, dtype: str, points: int = 61) -> dict[str, np.ndarray]:
    """The BCE of a positive, ``-log sigma(x)``, divided by ``scale``, on ``x = scale * u`` for
    ``u`` in [-1, 1], computed four ways in ``dtype``: exactly (float64), in log space, with an
    epsilon inside the log, with exp before log. NaN and infinities are kept (a gap in a plot)."""
    exact = F.softplus(-_line(scale, torch.float64, points))
    logits = _line(scale, DTYPES[dtype], points)
    curves = {"exact (float64)": exact,
              "softplus(-x) (log space)": F.softplus(-logits),
              "-log(σ(x) + 1e-8)": log_with_epsilon(logits),
              "log(1 + exp(-x))": log_of_exp(logits)}
    return {name: (values.to(torch.float64) / scale).numpy() for name, values in curves.items()}


def dtype_limits() -> pd.DataFrame:
    """Range and resolution of each dtype: the largest finite number, the smallest normal
    number, the gap between 1 and the next number (machine epsilon), and the logits where
    ``exp`` overflows and where ``sigma(x)`` rounds to 1."""
    rows = []
    for name, dtype in DTYPES.items():
        info = torch.finfo(dtype)
        grid = torch.linspace(0, 100, 100_001, dtype=torch.float64)
        rounds_to_one = grid[torch.sigmoid(grid.to(dtype)) == 1]
        rows.append({"dtype": name, "largest": info.max, "smallest normal": info.tiny, "epsilon": info.eps,
                     "exp overflows at x >": math.log(info.max),
                     "σ(x) rounds to 1 at x ≥": float(rounds_to_one[0]) if len(rounds_to_one) else math.inf})
    return pd.DataFrame(rows).set_index("dtype")


# ------------------------------------------------------------------------------ reported failures
def failure_table() -> pd.DataFrame:
    """Failures reported against the papers' code, each reproduced with the naive form and
    computed again with :mod:`mlteach.losses`: columns failure, cause, naive result, mlteach
    result (every result is computed here, none is typed)."""
    half_logits = torch.tensor([[12.0, -3.0, 9.0, 2.0]], dtype=torch.float16)
    targets = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    member = (targets == 1).to(torch.float16)

    def naive_asl_half():  # ASL's negative term with its clamp(min=eps) in float16
        p = torch.sigmoid(half_logits)
        return float((-(1 - targets.half()) * torch.log((1 - p).clamp(min=1e-8))).sum())

    def entropy_with_epsilon():  # the EM code's entropy of a confident unknown, log(p + 1e-5)
        p = torch.tensor(1.0)
        return float(-(p * torch.log(p + 1e-5) + (1 - p) * torch.log(1 - p + 1e-5)))

    def naive_nan_gradient():
        logits = torch.randn(4, 3, requires_grad=True)
        naive_mean_over_set(F.softplus(-logits), torch.zeros(4, 3)).backward()
        return f"gradient NaN: {bool(torch.isnan(logits.grad).all())}"

    def mlteach_empty_batch():
        logits = torch.randn(4, 3, requires_grad=True)
        loss = two_way_loss(logits, torch.zeros(4, 3))
        loss.backward()
        return f"loss {float(loss.detach()):g}, gradient finite: {bool(torch.isfinite(logits.grad).all())}"

    rows = [
        ("NaN loss on a batch without positives", "mean over an empty set (0 / 0)",
         naive_nan_gradient(), "two_way_loss: " + mlteach_empty_batch()),
        ("masks of 1e12 overflow half precision", "large-constant mask: 1e12 is inf in float16, 0 * inf = NaN",
         f"{float(constant_masked_logsumexp(half_logits[0], member[0], constant=1e12)):g}",
         f"two_way_loss: {float(two_way_loss(half_logits, targets)):.4g}"),
        ("ASL NaN under mixed precision", "epsilon inside a log: 1e-8 rounds to 0 in float16, log(0) = -inf",
         f"{naive_asl_half():g}", f"asymmetric_loss: {float(asymmetric_loss(half_logits, targets)):.4g}"),
        ("a negative EM loss", "the term -αH(p) is <= 0 by design; log(p + 1e-5) also makes H(1) < 0",
         f"H(1) = {entropy_with_epsilon():.3g}",
         f"entropy_maximization_loss, all unknown at x = 30: "
         f"{float(entropy_maximization_loss(torch.full((1, 2), 30.0), torch.full((1, 2), -1.0))):.3g}"),
    ]
    return pd.DataFrame(rows, columns=["failure", "cause", "naive result", "mlteach result"])
