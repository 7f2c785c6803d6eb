"""A weighted sum of losses, for the combinations of the DR paper's Table 5 (DR + DB focal,
BCE + C-LSEP, ...).

Each term names a functional loss of this package that takes ``(logits, targets)`` and a
``reduction``; the terms are evaluated on the same logits and added with their weights::

    combined_loss(logits, targets, terms=[
        {"loss": "dr_loss", "weight": 1.0, "kwargs": {"gamma1": 5.0, "gamma2": 7.0}},
        {"loss": "distribution_balanced_loss", "weight": 1.0}],
        class_counts=counts, num_samples=n)

Terms are plain dicts (``loss``; optional ``weight``, default 1, and ``kwargs``), so a
:class:`~mlteach.train.TrainConfig` can hold them in its ``loss_kwargs`` and the run cache can
key them. ``class_counts`` and ``num_samples`` are passed on to the terms that take them (the
distribution-balanced loss); the trainer fills them in for any loss that has these arguments.
Every term keeps its own meaning of "mean" (DR: per class; BCE and DB focal: per entry), as when
the paper's authors add two loss modules.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from . import balanced, baselines, partial, ranking, two_way
from ._checks import check_choice, check_logits_targets, check_settings

__all__ = ["combined_loss", "CombinedLoss"]

#: Arguments a term's ``kwargs`` may not set: the combined loss passes them itself.
PASSED_ARGUMENTS = frozenset({"logits", "targets", "reduction", "class_counts", "num_samples"})
#: Arguments that need a training scheme (Large Loss rate, APL pseudo-targets): such losses
#: cannot be a term.
SCHEME_ARGUMENTS = frozenset({"rate", "threshold", "pseudo_targets"})
TERM_KEYS = frozenset({"loss", "weight", "kwargs"})


def _term_losses() -> dict:
    """Functional losses usable as a term: ``f(logits, targets, ..., reduction)`` with no
    argument that needs a training scheme."""
    found = {}
    for module in (two_way, ranking, balanced, partial, baselines):
        for name in module.__all__:
            function = getattr(module, name)
            if not inspect.isfunction(function):
                continue
            parameters = list(inspect.signature(function).parameters)
            if parameters[:2] == ["logits", "targets"] and "reduction" in parameters \
                    and not SCHEME_ARGUMENTS.intersection(parameters):
                found[name] = function
    return found


TERM_LOSSES = _term_losses()
#: The rules each term's hyper-parameters are checked against (the ones its function uses), so
#: that :class:`CombinedLoss` refuses a bad term setting at construction.
TERM_SETTINGS = {
    "two_way_loss": two_way.TWO_WAY_SETTINGS, "margin_bias_two_way_loss": two_way.MARGIN_BIAS_SETTINGS,
    "lsep_loss": ranking.LSEP_SETTINGS, "zlpr_loss": ranking.ZLPR_SETTINGS, "dr_loss": ranking.DR_SETTINGS,
    "focal_loss": balanced.FOCAL_SETTINGS, "asymmetric_loss": balanced.ASYMMETRIC_SETTINGS,
    "distribution_balanced_loss": balanced.DISTRIBUTION_BALANCED_SETTINGS,
    "assume_negative_loss": partial.REDUCTION_SETTINGS, "down_weight_loss": partial.DOWN_WEIGHT_SETTINGS,
    "label_smoothing_loss": partial.SMOOTHING_SETTINGS, "negative_label_smoothing_loss": partial.SMOOTHING_SETTINGS,
    "entropy_minimization_loss": partial.ENTROPY_MINIMIZATION_SETTINGS, "bce_loss": baselines.REDUCTION_SETTINGS,
    "multilabel_softmax_loss": baselines.REDUCTION_SETTINGS, "warp_loss": baselines.WARP_SETTINGS,
}


def _check_terms(terms: Sequence[Mapping], name: str) -> list[tuple]:
    """``(function, weight, kwargs, takes_class_counts)`` for each term; ``ValueError`` for a
    malformed term."""
    if isinstance(terms, (str, Mapping)) or not isinstance(terms, Sequence) or not terms:
        raise ValueError(f"{name}: terms must be a non-empty list of dicts with keys 'loss', "
                         f"'weight' and 'kwargs', got {terms!r}")
    checked = []
    for term in terms:
        if not isinstance(term, Mapping) or "loss" not in term or set(term) - TERM_KEYS:
            raise ValueError(f"{name}: each term is a dict with 'loss' and optionally 'weight' and "
                             f"'kwargs', got {term!r}")
        loss = term["loss"]
        if loss not in TERM_LOSSES:
            raise ValueError(f"{name}: unknown term loss {loss!r}; choose one of {sorted(TERM_LOSSES)}")
        weight = term.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"{name}: the weight of {loss} must be a finite number >= 0, got {weight!r}")
        kwargs = dict(term.get("kwargs", {}))
        parameters = inspect.signature(TERM_LOSSES[loss]).parameters
        passed = PASSED_ARGUMENTS.intersection(kwargs)
        if passed:
            raise ValueError(f"{name}: the kwargs of {loss} may not set {sorted(passed)}; "
                             "the combined loss passes them")
        unknown = set(kwargs) - set(parameters)
        if unknown:
            raise ValueError(f"{name}: {loss} has no argument(s) {sorted(unknown)}")
        check_settings(f"{name} term {loss}", TERM_SETTINGS[loss], **kwargs)
        checked.append((TERM_LOSSES[loss], float(weight), kwargs, "class_counts" in parameters))
    return checked


def combined_loss(logits: torch.Tensor, targets: torch.Tensor, terms: Sequence[Mapping] = (),
                  class_counts: Sequence[int] | torch.Tensor | None = None, num_samples: int | None = None,
                  reduction: str = "mean") -> torch.Tensor:
    r"""Weighted sum of losses on the same logits: ``sum_t weight_t * loss_t(logits, targets)``.

    ``terms``: a list of dicts ``{"loss": name, "weight": w, "kwargs": {...}}`` (``weight``
    defaults to 1 and must be >= 0; ``kwargs`` to none), each naming a functional loss of
    :mod:`mlteach.losses` that takes ``(logits, targets)`` and ``reduction`` (see
    :data:`TERM_LOSSES`). ``class_counts`` and ``num_samples`` go to the terms that take them
    and are required if one does. ``reduction`` is ``"mean"`` or ``"sum"`` and is applied by
    each term in its own way; ``"none"`` is a ``ValueError`` (the terms' unreduced shapes
    differ: per entry, per sample or per class).

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> from mlteach.losses import bce_loss, dr_loss
    >>> both = combined_loss(logits, targets, terms=[{"loss": "bce_loss"},
    ...                      {"loss": "dr_loss", "weight": 0.5, "kwargs": {"gamma1": 1.0}}])
    >>> torch.allclose(both, bce_loss(logits, targets) + 0.5 * dr_loss(logits, targets, gamma1=1.0))
    True
    """
    name = "combined_loss"
    check_logits_targets(logits, targets, name=name)
    check_choice(reduction, ("mean", "sum"), "reduction", name=name)
    checked = _check_terms(terms, name)
    total = None
    for function, weight, kwargs, takes_class_counts in checked:
        if takes_class_counts:
            if class_counts is None or num_samples is None:
                raise ValueError(f"{name}: the term {function.__name__} needs class_counts and num_samples")
            kwargs = {**kwargs, "class_counts": class_counts, "num_samples": num_samples}
        value = weight * function(logits, targets, reduction=reduction, **kwargs)
        total = value if total is None else total + value
    return total


class CombinedLoss(nn.Module):
    """Module twin of :func:`combined_loss`; holds the terms and the training class counts."""

    def __init__(self, terms: Sequence[Mapping], class_counts: Sequence[int] | torch.Tensor | None = None,
                 num_samples: int | None = None, reduction: str = "mean"):
        super().__init__()
        _check_terms(terms, "CombinedLoss")
        check_choice(reduction, ("mean", "sum"), "reduction", name="CombinedLoss")
        self.terms = [dict(term) for term in terms]
        self.class_counts, self.num_samples, self.reduction = class_counts, num_samples, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return combined_loss(logits, targets, terms=self.terms, class_counts=self.class_counts,
                             num_samples=self.num_samples, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"terms={self.terms}, reduction={self.reduction!r}"
