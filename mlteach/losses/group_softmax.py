"""Group softmax loss with feature grouping (Kobayashi; group-softmax supplement, Sec. A).

Single-label classification. With features ``x`` in R^D and a linear classifier ``W`` in
R^{D x C}, the ingredient logits are ``z_jc = x_j W_jc``. Splitting the D feature elements into G
equal groups gives group logits ``zbar_c^i = sum_{j in group i} z_jc`` whose sum over groups is
the ordinary logit ``zbar_c`` (eq. A.1). Each group's logits go through their own softmax:

    type I:  ell = -(1/G) sum_i log softmax(G zbar^i)_y,
    type II: ell = -sum_i log softmax(zbar^i)_y,

and softmax loss <= type I <= type II for any grouping (Proposition 1, eq. A.2). The grouping
is chosen per sample; the discriminative grouping (eq. A.13) sorts the elements by how much they
favour the true class and cuts the sorted list into G groups, which maximises the relaxed
problem (A.20) (Lemma 1): the loss is raised adversarially with respect to the grouping.

Group logits come from one batched matrix product of the grouped features ``[B, G, D]`` with
``W`` ``[D, C]``; no ``[B, D, C]`` tensor is built. float16 / bfloat16 inputs are computed in
float32 and the loss is returned in float32.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_reduction, compute_dtype, reduce

__all__ = ["group_softmax_loss", "group_logits", "discriminative_groups", "GroupSoftmaxLoss"]

KINDS = ("I", "II")
GROUPINGS = ("discriminative", "contiguous", "random")


def _check_group_inputs(features: torch.Tensor, weight: torch.Tensor, groups: int, name: str) -> None:
    for what, tensor in (("features", features), ("weight", weight)):
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ValueError(f"{name}: {what} must be a floating tensor, got "
                             f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    if features.dim() != 2 or weight.dim() != 2:
        raise ValueError(f"{name}: features must have shape [B, D] and weight [D, C], got "
                         f"{tuple(features.shape)} and {tuple(weight.shape)}")
    if features.shape[1] != weight.shape[0]:
        raise ValueError(f"{name}: features have D={features.shape[1]} elements but weight has "
                         f"{weight.shape[0]} rows (weight must be [D, C])")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{name}: groups must be an integer >= 1, got {groups!r}")
    if features.shape[1] % groups:
        raise ValueError(f"{name}: feature dimension D={features.shape[1]} is not divisible by "
                         f"groups={groups}")


def _check_class_targets(targets: torch.Tensor, batch: int, classes: int, name: str) -> None:
    if not isinstance(targets, torch.Tensor) or targets.dtype.is_floating_point or targets.dtype == torch.bool \
            or targets.dtype.is_complex:
        raise ValueError(f"{name}: targets must be an integer tensor of class indices, got "
                         f"{getattr(targets, 'dtype', type(targets).__name__)}")
    if targets.shape != (batch,):
        raise ValueError(f"{name}: targets shape {tuple(targets.shape)} does not match the batch ({batch},)")
    if batch and bool(((targets < 0) | (targets >= classes)).any()):
        raise ValueError(f"{name}: targets must be class indices in [0, {classes}), got values from "
                         f"{int(targets.min())} to {int(targets.max())}")


def _groups_from_order(order: torch.Tensor, groups: int) -> torch.Tensor:
    """Group ids ``[B, D]`` that put the elements ``order[:, :D/G]`` in group 0, the next D/G in
    group 1, and so on."""
    size = order.shape[1] // groups
    ids = torch.arange(order.shape[1], device=order.device).div(size, rounding_mode="floor")
    return torch.empty_like(order).scatter_(1, order, ids.expand_as(order))


def discriminative_groups(features: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                          groups: int) -> torch.Tensor:
    r"""Discriminative feature grouping (supplement eqs. A.13-A.14): group ids ``[B, D]``.

    Each element j of a sample's features gets the discriminativity score

        lambda_j = z_jy - (1/(C-1)) sum_{c != y} z_jc,   z_jc = x_j W_jc,

    (``lambda_j = z_jy`` when C = 1); sorting the scores and cutting them into G runs of D/G
    gives the groups, group 0 holding the lowest scores. By Lemma 1 this partition maximises
    ``sum_i sp(sum_{j in group i} lambda_j)`` (eq. A.20, ``sp(a) = log(1 + e^{-a})``) over all
    equal partitions. Ties keep the feature order. Not differentiated (the grouping is
    discrete).

    >>> features = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    >>> weight = torch.tensor([[1.0, 0.0], [0.5, 1.0], [-1.0, 2.0], [0.2, 0.1]])
    >>> discriminative_groups(features, weight, torch.tensor([0]), groups=2)
    tensor([[1, 1, 0, 0]])
    """
    name = "discriminative_groups"
    _check_group_inputs(features, weight, groups, name)
    _check_class_targets(targets, features.shape[0], weight.shape[1], name)
    with torch.no_grad():
        dtype = compute_dtype(features)
        x, w = features.to(dtype), weight.to(dtype)
        true_class = w.index_select(1, targets.long()).T  # [B, D]: W_jy (uint8 indices would read as a mask)
        classes = w.shape[1]
        if classes > 1:
            others = (w.sum(1) - true_class) / (classes - 1)
            scores = x * (true_class - others)
        else:
            scores = x * true_class
        order = _stable_row_order(scores)
    return _groups_from_order(order, groups)


def _stable_row_order(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argsort(dim=1, stable=True)``. For float32 on CPU, each score's bits become a
    64-bit integer key that orders as the float does, with the element's index in the low 32
    bits (so equal scores keep their index order), and numpy's vectorised integer sort does the
    rest: about 20 times faster than torch's comparison sort of floats. ``-0.0`` is read as
    ``+0.0`` (they tie, as in the comparison sort). Scores with a NaN take the comparison sort
    (which puts every NaN last; a negative NaN's bits would sort first)."""
    if scores.dtype != torch.float32 or scores.device.type != "cpu" or bool(scores.isnan().any()):
        return scores.argsort(dim=1, stable=True)
    bits = (scores + 0.0).numpy().view(np.int32).astype(np.int64)  # + 0.0 turns -0.0 into +0.0
    bits ^= (bits >> 31) & 0x7FFFFFFF  # negative floats: larger magnitude, smaller key
    keys = (bits << 32) | np.arange(scores.shape[1], dtype=np.int64)
    keys.sort(axis=1)
    return torch.from_numpy(keys & 0xFFFFFFFF)


def _contiguous_group_logits(features: torch.Tensor, weight: torch.Tensor, groups: int,
                             bias: torch.Tensor | None) -> torch.Tensor:
    """Group logits when group i holds elements ``[i D/G, (i+1) D/G)`` for every sample: G
    products ``[B, D/G] x [D/G, C]`` in one batched matmul (the cost of ``x @ W``)."""
    dtype = compute_dtype(features)
    (batch, dim), classes = features.shape, weight.shape[1]
    chunks = features.to(dtype).view(batch, groups, dim // groups).transpose(0, 1)
    logits = (chunks @ weight.to(dtype).view(groups, dim // groups, classes)).transpose(0, 1)
    return logits if bias is None else logits + bias.to(dtype) / groups


def _random_groups(batch: int, dim: int, groups: int, device: torch.device,
                   generator: torch.Generator | None) -> torch.Tensor:
    order = torch.rand(batch, dim, generator=generator, device=device).argsort(dim=1)
    return _groups_from_order(order, groups)


def group_logits(features: torch.Tensor, weight: torch.Tensor, assignment: torch.Tensor, groups: int,
                 bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""Group logits ``zbar[b, i, c] = sum_{j: assignment[b, j] = i} x_bj W_jc (+ bias_c / G)``.

    ``assignment`` ``[B, D]`` holds each element's group id in ``[0, G)``. The grouped features
    ``[B, G, D]`` (x_bj in row ``assignment[b, j]``, zeros elsewhere) are multiplied by ``W`` in
    one batched product; summing the result over groups gives ``x @ W + bias`` (eq. A.1).
    Returns ``[B, G, C]`` in the compute dtype (float32 for half inputs).

    >>> features = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    >>> weight = torch.tensor([[1.0, 0.0], [0.5, 1.0], [-1.0, 2.0], [0.2, 0.1]])
    >>> group_logits(features, weight, torch.tensor([[0, 0, 1, 1]]), groups=2)
    tensor([[[ 0.0000, -2.0000],
             [ 0.1000,  1.3000]]])
    """
    name = "group_logits"
    _check_group_inputs(features, weight, groups, name)
    if not isinstance(assignment, torch.Tensor) or assignment.dtype != torch.int64 \
            or assignment.shape != features.shape:
        raise ValueError(f"{name}: assignment must be an int64 tensor of shape {tuple(features.shape)} "
                         f"holding group ids in [0, {groups})")
    dtype = compute_dtype(features)
    x, w = features.to(dtype), weight.to(dtype)
    grouped = x.new_zeros(x.shape[0], groups, x.shape[1]).scatter(1, assignment.unsqueeze(1), x.unsqueeze(1))
    logits = grouped @ w
    return logits if bias is None else logits + bias.to(dtype) / groups


def group_softmax_loss(features: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, groups: int,
                       kind: str = "II", grouping: str = "discriminative", bias: torch.Tensor | None = None,
                       reduction: str = "mean", generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Group softmax loss, type I or II (supplement eq. A.2), single-label.

        type I:  ell = -(1/G) sum_{i=1}^G log softmax(G zbar^i)_y,
        type II: ell = -sum_{i=1}^G log softmax(zbar^i)_y,

    with group logits ``zbar^i`` from :func:`group_logits` and the grouping ``"discriminative"``
    (eq. A.13, default), ``"contiguous"`` (elements ``[i D/G, (i+1) D/G)``) or ``"random"`` (a
    fresh permutation per sample, drawn from ``generator``). ``targets`` are int64 class
    indices ``[B]``; ``weight`` is ``[D, C]``; ``bias`` optional ``[C]``; D must be divisible by
    ``groups``. With ``groups=1`` both types equal the softmax cross-entropy of
    ``x @ W + bias``. ``"mean"`` averages over the batch; ``"none"`` returns ``[B]``.

    Cost: a per-sample grouping (discriminative, random) zero-pads each group's features to D,
    so the product costs G times the multiply-adds of ``x @ W`` (memory ``B x G x (D + C)``);
    the contiguous grouping is G small products, the cost of ``x @ W``.

    >>> features = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    >>> weight = torch.tensor([[1.0, 0.0], [0.5, 1.0], [-1.0, 2.0], [0.2, 0.1]])
    >>> targets = torch.tensor([0])
    >>> [round(group_softmax_loss(features, weight, targets, g, kind=k).item(), 4)
    ...  for g, k in ((1, "II"), (2, "I"), (2, "II"))]
    [0.3711, 1.2525, 1.5902]
    """
    name = "group_softmax_loss"
    _check_group_inputs(features, weight, groups, name)
    check_choice(kind, KINDS, "kind", name=name)
    check_choice(grouping, GROUPINGS, "grouping", name=name)
    check_reduction(reduction, name=name)
    batch, dim = features.shape
    classes = weight.shape[1]
    _check_class_targets(targets, batch, classes, name)
    if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != (classes,)):
        raise ValueError(f"{name}: bias must be a tensor of shape ({classes},), got "
                         f"{tuple(getattr(bias, 'shape', ()))}")
    if grouping == "contiguous":
        logits = _contiguous_group_logits(features, weight, groups, bias)
    else:
        assignment = (discriminative_groups(features, weight, targets, groups) if grouping == "discriminative"
                      else _random_groups(batch, dim, groups, features.device, generator))
        logits = group_logits(features, weight, assignment, groups, bias)
    scale = groups if kind == "I" else 1
    per_group = F.cross_entropy((scale * logits).reshape(batch * groups, classes),
                                targets.long().repeat_interleave(groups), reduction="none")
    terms = per_group.view(batch, groups).sum(1) / scale
    return reduce(terms, reduction)


class GroupSoftmaxLoss(nn.Module):
    """Module form of :func:`group_softmax_loss`; holds the grouping settings, not the classifier.

    ``forward(features, weight, targets, bias=None)``.
    """

    def __init__(self, groups: int, kind: str = "II", grouping: str = "discriminative", reduction: str = "mean",
                 generator: torch.Generator | None = None):
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"GroupSoftmaxLoss: groups must be an integer >= 1, got {groups!r}")
        check_choice(kind, KINDS, "kind", name="GroupSoftmaxLoss")
        check_choice(grouping, GROUPINGS, "grouping", name="GroupSoftmaxLoss")
        check_reduction(reduction, name="GroupSoftmaxLoss")
        self.groups, self.kind, self.grouping, self.reduction = groups, kind, grouping, reduction
        self.generator = generator

    def forward(self, features: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        return group_softmax_loss(features, weight, targets, self.groups, self.kind, self.grouping, bias,
                                  self.reduction, self.generator)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, kind={self.kind!r}, grouping={self.grouping!r}, reduction={self.reduction!r}"
