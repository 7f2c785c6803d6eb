"""Checkers of chapter 6 (group softmax): the two-class type II loss to derive, the
discriminative grouping to implement.

- :func:`check_two_class_type_two_loss`: the type II loss of a two-class problem with G = 3
  groups, as a function of the group margins m_1, m_2, m_3 (SymPy);
- :func:`check_discriminative_groups`: ``my_groups(features, weight, targets, groups)``, the
  group ids ``[B, D]`` of eq. A.13, against :func:`mlteach.losses.discriminative_groups`.
"""

from __future__ import annotations

import sympy as sp
import torch

from mlteach.losses import discriminative_groups
from mlteach.symbolic.functions import softplus

from .feedback import CheckResult, Failure, call, run_cases
from .symbolic import check_expression

__all__ = ["check_two_class_type_two_loss", "margin_symbols", "check_discriminative_groups", "wrong_groups"]


def margin_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """The exercise's symbols: the group margins ``m_1, m_2, m_3`` (real)."""
    return sp.symbols("m_1 m_2 m_3", real=True)


def check_two_class_type_two_loss(expr) -> CheckResult:
    """Check a SymPy expression for the type II group softmax loss of a two-class problem with
    three groups, in terms of the margins m_i = zbar^i_y - zbar^i_other."""
    margins = margin_symbols()
    reference = sp.Add(*[softplus(-m) for m in margins])
    count = len(margins)
    mistakes = [
        (softplus(-sp.Add(*margins)),
         "that is the ordinary softmax loss of the summed logits (one group); type II applies a softmax to "
         "each group's logits and adds the G losses."),
        (sp.Add(*[softplus(-count * m) for m in margins]) / count,
         "that is type I (each group's logits scaled by G, the sum divided by G); type II takes the group "
         "logits as they are."),
        (sp.Add(*[softplus(m) for m in margins]),
         "the loss of group i is -log softmax(zbar^i)_y = log(1 + exp(-m_i)): it falls as the margin grows; "
         "check the sign inside the exponential."),
    ]
    return check_expression(expr, reference, list(margins), exercise="two-class type II loss", mistakes=mistakes)


def wrong_groups(features: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, groups: int, *,
                 score: str = "discriminative", descending: bool = False, rank_confusion: bool = False,
                 first_class: bool = False) -> torch.Tensor:
    """The discriminative grouping with one rule changed (the defaults give the right one):
    ``score`` ``"discriminative"`` (lambda_j), ``"true class"`` (z_jy alone) or ``"weights"``
    (lambda_j without the feature value); ``descending`` sort; ``rank_confusion``: the sorted
    order read as ranks; ``first_class``: the first sample's class for every sample."""
    classes = weight.shape[1]
    labels = targets[:1].expand_as(targets) if first_class else targets
    true_class = weight.T[labels]  # [B, D]: W_jy
    others = (weight.sum(1) - true_class) / (classes - 1)
    if score == "true class":
        scores = features * true_class
    elif score == "weights":
        scores = true_class - others
    else:
        scores = features * (true_class - others)
    order = scores.argsort(dim=1, descending=descending, stable=True)
    size = features.shape[1] // groups
    if rank_confusion:
        return order.div(size, rounding_mode="floor")
    ids = torch.arange(features.shape[1]).div(size, rounding_mode="floor").expand_as(order)
    return torch.empty_like(order).scatter_(1, order, ids)


_MISTAKES = (
    ({"descending": True}, "your groups are in reverse order: group 0 holds the lowest scores lambda_j (sort in "
                           "ascending order)."),
    ({"score": "true class"}, "you sorted by z_jy alone; lambda_j = z_jy - (1 / (C - 1)) sum_{c != y} z_jc also "
                              "subtracts the mean over the other classes."),
    ({"score": "weights"}, "z_jc = x_j W_jc: multiply the weight difference by the feature value x_j."),
    ({"rank_confusion": True}, "you used argsort's output (the elements in sorted order) as if it were each "
                               "element's rank; scatter the group ids back to the elements "
                               "(ids.scatter_(1, order, ...)) or take argsort twice."),
    ({"first_class": True}, "each sample uses its own true class y_b: index the weight columns with the "
                            "whole targets vector."),
)


def _batch(batch: int, dim: int, classes: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    weight = torch.randn(dim, classes, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, classes, (batch,), generator=generator)
    return features, weight, targets


def _compare(fn, features, weight, targets, groups, hint: str) -> str:
    expected = discriminative_groups(features, weight, targets, groups)  # before the submission runs
    ids = call(fn, features, weight, targets, groups,
               on_error="your function must accept (features, weight, targets, groups) and return the group id "
                        "of every feature element; read the traceback of a call on these inputs.")
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.shape != features.shape:
        described = (f"a {ids.dtype} tensor of shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor)
                     else f"a {type(ids).__name__}")
        raise Failure(f"returned {described}",
                      f"return an int64 tensor of shape {tuple(features.shape)} (the features' shape): the group "
                      "id in [0, G) of every element of every sample.")
    sizes = torch.stack([(ids == i).sum(1) for i in range(groups)], dim=1)
    if not bool((sizes == features.shape[1] // groups).all()):
        raise Failure(f"group sizes {sizes[0].tolist()} in the first sample",
                      f"each group must hold exactly D / G = {features.shape[1] // groups} elements of every "
                      "sample.")
    if not torch.equal(ids, expected):
        for changes, mistake_hint in _MISTAKES:
            wrong = wrong_groups(features, weight, targets, groups, **changes)
            if torch.equal(ids, wrong) and not torch.equal(wrong, expected):
                hint = mistake_hint
                break
        raise Failure(f"{int((ids != expected).sum())} of {ids.numel()} group ids differ", hint)
    return "group ids as expected"


def check_discriminative_groups(my_groups) -> CheckResult:
    """Check ``my_groups(features, weight, targets, groups)``: per sample, the scores
    lambda_j = x_j W_jy - (1 / (C - 1)) sum_{c != y} x_j W_jc sorted in ascending order and cut
    into G groups of D / G elements (group 0 the lowest); an int64 ``[B, D]`` tensor of ids."""
    rule = ("per sample, sort lambda_j = z_jy - (1 / (C - 1)) sum_{c != y} z_jc (z_jc = x_j W_jc) in ascending "
            "order and give the first D / G elements group 0, the next group 1, and so on.")

    def random_batch(fn):
        return _compare(fn, *_batch(4, 8, 5, seed=1), 2, rule)

    def own_class(fn):
        features, weight, targets = _batch(4, 12, 3, seed=2)
        targets = torch.tensor([0, 1, 2, 1])
        return _compare(fn, features, weight, targets, 3, rule)

    def one_group(fn):
        return _compare(fn, *_batch(3, 6, 4, seed=3), 1, "with G = 1 every element is in group 0.")

    def one_element_per_group(fn):
        return _compare(fn, *_batch(3, 6, 4, seed=4), 6, "with G = D each element's group is its rank.")

    def batch_of_one(fn):
        return _compare(fn, *_batch(1, 8, 3, seed=5), 4, "a batch of one sample must work like any other "
                                                          "batch: avoid .squeeze().")

    cases = {
        "a random batch": random_batch,
        "every sample has its own true class": own_class,
        "one group (G = 1)": one_group,
        "one element per group (G = D)": one_element_per_group,
        "a batch of one sample": batch_of_one,
    }
    return run_cases("discriminative grouping", my_groups, cases)
