"""BCE on known entries, multi-label softmax and WARP: definitions as loops, gradients, edge cases,
stability, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from mlteach.losses import (BCELoss, MultiLabelSoftmaxLoss, WARPLoss, bce_loss, multilabel_softmax_loss,
                            warp_loss)
from mlteach.losses import _label_sets as label_sets


# ---------------------------------------------------------------- reference definitions
def bce_reference(x, t):
    known = t != -1
    return F.binary_cross_entropy_with_logits(x[known], t[known])


def softmax_reference(x, t):
    """Per sample: -(1/|P|) sum_P log softmax over the known classes; None without positives."""
    terms = []
    for row, labels in zip(x, t):
        known = labels != -1
        if not (labels == 1).any():
            terms.append(None)
            continue
        log_probs = torch.log_softmax(row[known], 0)[labels[known] == 1]
        terms.append(-log_probs.mean())
    return terms


def warp_reference(x, t, margin=1.0):
    """Gong et al.: sum_{p} L(r_p) sum_{n} max(0, margin - x_p + x_n), ranks counted pair by pair."""
    terms = []
    for row, labels in zip(x, t):
        total = row.new_zeros(())
        for p in range(len(row)):
            if labels[p] != 1:
                continue
            violators = [n for n in range(len(row)) if labels[n] == 0 and row[n] > row[p] - margin]
            weight = sum(1.0 / i for i in range(1, len(violators) + 1))
            for n in violators:
                total = total + weight * (margin - row[p] + row[n])
        terms.append(total)
    return torch.stack(terms)


def random_targets(batch, classes, unknown=0.2):
    draw = torch.rand(batch, classes)
    targets = (draw < 0.35).double()
    targets[draw > 1 - unknown] = -1
    return targets


LOSSES = {
    "bce": lambda x, t, reduction="mean": bce_loss(x, t, reduction),
    "softmax": lambda x, t, reduction="mean": multilabel_softmax_loss(x, t, reduction),
    "warp": lambda x, t, reduction="mean": warp_loss(x, t, 1.0, reduction),
}


# ---------------------------------------------------------------- definitions
@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_multilabel_softmax_layouts_agree(fraction, monkeypatch):
    """The stacked layout (small inputs) against the set-by-set one, dense or sparse."""
    x = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    t = random_targets(9, 6)
    expected = multilabel_softmax_loss(x, t, reduction="none")
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    monkeypatch.setattr(label_sets, "STACKED_ENTRIES", 0)
    monkeypatch.setattr(label_sets, "SPARSE_FRACTION", fraction)
    terms = multilabel_softmax_loss(x, t, reduction="none")
    (grad,) = torch.autograd.grad(terms.sum(), x)
    torch.testing.assert_close(terms, expected)
    torch.testing.assert_close(grad, expected_grad)


def test_bce_counts_known_entries_only():
    x, t = torch.randn(8, 6, dtype=torch.float64), random_targets(8, 6)
    torch.testing.assert_close(bce_loss(x, t), bce_reference(x, t))
    terms = bce_loss(x, t, reduction="none")
    assert terms.shape == (8, 6) and torch.all(terms[t == -1] == 0)
    torch.testing.assert_close(bce_loss(x, t, reduction="sum"), terms.sum())


def test_multilabel_softmax_equals_definition():
    x, t = torch.randn(9, 6, dtype=torch.float64) * 2, random_targets(9, 6)
    t[3] = 0  # no positive: skipped
    t[5] = torch.tensor([1.0, -1, -1, -1, -1, -1])  # only a positive known: loss 0
    expected = softmax_reference(x, t)
    kept = [v for v in expected if v is not None]
    terms = multilabel_softmax_loss(x, t, reduction="none")
    torch.testing.assert_close(terms, torch.stack([v if v is not None else x.new_zeros(()) for v in expected]))
    torch.testing.assert_close(multilabel_softmax_loss(x, t), torch.stack(kept).mean())
    assert terms[5] == 0


@pytest.mark.parametrize("margin", [1.0, 0.3, 2.5])
def test_warp_equals_pairwise_definition(margin):
    x = (torch.randn(10, 9, dtype=torch.float64) * 2).requires_grad_()
    t = random_targets(10, 9)
    t[4] = 0
    expected = warp_reference(x, t, margin)
    terms = warp_loss(x, t, margin, reduction="none")
    torch.testing.assert_close(terms, expected)
    weights = torch.rand(10, dtype=torch.float64)
    (grad,) = torch.autograd.grad((terms * weights).sum(), x)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(grad, expected_grad)
    has_positive = (t == 1).any(1)
    torch.testing.assert_close(warp_loss(x, t, margin), expected.sum() / has_positive.sum())


def test_warp_rank_weight_is_harmonic():
    """One positive below k negatives: loss = H_k * sum of the k hinges."""
    x = torch.tensor([[0.0, 1.0, 2.0, 3.0, -5.0]], dtype=torch.float64)
    t = torch.tensor([[1.0, 0, 0, 0, 0]], dtype=torch.float64)
    hinges = (1 - 0 + torch.tensor([1.0, 2.0, 3.0])).sum()
    torch.testing.assert_close(warp_loss(x, t), (1 + 1 / 2 + 1 / 3) * hinges.double())


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(name, reduction):
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = random_targets(6, 5)
    t[0], t[:, 1] = 0, -1
    assert torch.autograd.gradcheck(lambda v: LOSSES[name](v, t, reduction), (x,))


@pytest.mark.parametrize("name", LOSSES)
def test_unknown_entries_get_zero_gradient(name):
    x = torch.randn(7, 6, requires_grad=True)
    t = random_targets(7, 6).float()
    t[:, 2] = -1
    LOSSES[name](x, t).backward()
    assert torch.all(x.grad[t == -1] == 0)


# ---------------------------------------------------------------- edge cases and stability
EDGE_TARGETS = {
    "no positive in a sample": torch.tensor([[0.0, 0, 0], [1, 0, 1]]),
    "all unknown": torch.full((3, 4), -1.0),
    "one class": torch.tensor([[1.0], [0], [1]]),
    "batch of one": torch.tensor([[1.0, 0, -1, 0]]),
    "only positives": torch.ones(2, 3),
}


@pytest.mark.parametrize("case", EDGE_TARGETS)
@pytest.mark.parametrize("name", LOSSES)
def test_edge_cases_are_finite_and_differentiable(case, name):
    t = EDGE_TARGETS[case]
    x = torch.randn(t.shape, requires_grad=True)
    value = LOSSES[name](x, t)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    if case == "all unknown":
        assert value.item() == 0 and value.grad_fn is not None and torch.all(x.grad == 0)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_large_logits_and_half_precision(name, dtype):
    t = random_targets(16, 10).float()
    t[:, 0] = 1
    x = (torch.randn(16, 10) * 1e4).to(dtype).requires_grad_()
    value = LOSSES[name](x, t)
    (grad,) = torch.autograd.grad(value, x)
    assert value.dtype == torch.float32 and grad.dtype == dtype
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    torch.testing.assert_close(value.double(), LOSSES[name](x.detach().double(), t.double()), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", LOSSES)
def test_nan_logits_propagate(name):
    x = torch.randn(3, 4)
    x[1, 1] = math.nan
    t = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0], [1, 1, 0, 0]])
    assert torch.isnan(LOSSES[name](x, t))


def test_inputs_are_not_modified():
    x = torch.randn(6, 5, requires_grad=True)
    t = random_targets(6, 5).float()
    x_before, t_before = x.detach().clone(), t.clone()
    for loss in LOSSES.values():
        loss(x, t).backward()
    assert torch.equal(x.detach(), x_before) and torch.equal(t, t_before)


# ---------------------------------------------------------------- modules and errors
def test_modules_match_functions():
    x, t = torch.randn(5, 4), random_targets(5, 4).float()
    torch.testing.assert_close(BCELoss(reduction="sum")(x, t), bce_loss(x, t, "sum"))
    torch.testing.assert_close(MultiLabelSoftmaxLoss()(x, t), multilabel_softmax_loss(x, t))
    torch.testing.assert_close(WARPLoss(margin=0.5)(x, t), warp_loss(x, t, 0.5))
    assert "margin=0.5" in repr(WARPLoss(margin=0.5))


@pytest.mark.parametrize("call_bad,match", [
    (lambda x, t: bce_loss(x, t.T), "shape"),
    (lambda x, t: bce_loss(x, t - 2), "targets must be 1"),
    (lambda x, t: multilabel_softmax_loss(x.long(), t), "floating"),
    (lambda x, t: multilabel_softmax_loss(x, t, reduction="max"), "reduction"),
    (lambda x, t: warp_loss(x, t, margin=math.inf), "margin"),
    (lambda x, t: warp_loss(x, t * 0.5), "targets must be 1"),
    (lambda x, t: WARPLoss(reduction="avg"), "reduction"),
    (lambda x, t: BCELoss(reduction=None), "reduction"),
])
def test_bad_input_raises_value_error(call_bad, match):
    x, t = torch.randn(4, 5), random_targets(4, 5).float()
    with pytest.raises(ValueError, match=match):
        call_bad(x, t)
