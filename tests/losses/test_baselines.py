"""BCE on known entries, multi-label softmax and WARP: definitions as loops, gradients, edge cases,
stability, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from mlteach.losses import (BCELoss, MultiLabelSoftmaxLoss, WARPLoss, bce_loss, multilabel_softmax_loss,
                            warp_loss)
from mlteach.losses import _label_sets as label_sets
from mlteach.losses import baselines


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


def warp_pairwise(x, t, margin):
    """WARP per sample from each sample's |P| x |N| pair matrix, in float64 with the ranks as
    constants (violation: x_n > x_p - margin, strictly); differentiable in ``x``."""
    terms = []
    for row, labels in zip(x, t):
        positives, negatives = row[labels == 1].unsqueeze(1), row[labels == 0].unsqueeze(0)
        violates = negatives > positives - margin
        harmonic = torch.tensor([sum(1.0 / i for i in range(1, int(r) + 1)) for r in violates.sum(1)],
                                dtype=x.dtype)
        terms.append((harmonic * ((margin - positives + negatives) * violates).sum(1)).sum())
    return torch.stack(terms)


def warp_problem(seed):
    """Random shape (the seeds tested include 1 sample and 1 class) and labels; logits either on a
    grid of halves, where ties x_n == x_p - margin are frequent for the margins tested, or
    continuous. Of 4 or more samples, the first has no known label, the second no negative,
    the third no positive."""
    generator = torch.Generator().manual_seed(seed)
    rows, cols = (int(torch.randint(1, high, (1,), generator=generator)) for high in (12, 30))
    if seed % 2:
        x = torch.randint(-6, 7, (rows, cols), generator=generator).double() / 2
    else:
        x = torch.randn(rows, cols, generator=generator, dtype=torch.float64) * 3
    t = torch.randint(-1, 2, (rows, cols), generator=generator).double()
    if rows >= 4:
        t[0] = -1.0
        t[1][t[1] == 0] = 1.0
        t[2][t[2] == 1] = -1.0
    return x, t


@pytest.mark.parametrize("margin", [0.0, 0.5, 1.0, 2.5])
@pytest.mark.parametrize("seed", range(6))
def test_warp_values_and_gradients_equal_the_pair_matrix(seed, margin):
    x, t = warp_problem(seed + 10 * int(margin * 2))
    x.requires_grad_(True)
    has_positive = max(int((t == 1).any(1).sum()), 1)
    weights = torch.rand(x.shape[0], dtype=torch.float64)
    for reduction, reduce_terms in (("none", lambda terms: terms), ("sum", torch.sum),
                                    ("mean", lambda terms: terms.sum() / has_positive)):
        expected = reduce_terms(warp_pairwise(x, t, margin))
        value = warp_loss(x, t, margin, reduction)
        torch.testing.assert_close(value, expected.detach(), rtol=1e-12, atol=1e-12)
        (expected_grad,) = torch.autograd.grad((expected * weights[:expected.numel()]).sum(), x)
        (grad,) = torch.autograd.grad((value * weights[:value.numel()]).sum(), x)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # no gradient kept: the same value
        torch.testing.assert_close(warp_loss(x, t, margin), warp_loss(x.detach(), t, margin))


def test_warp_gradient_is_closed_form():
    """d/dx_p = -L(r_p) r_p, d/dx_n = sum of L(r_p) over the positives n violates; a tie
    (x_n == x_p - margin) is no violation, unknown entries get 0."""
    x = torch.tensor([[1.0, 0.0, 0.5, 2.0, -1.0, 3.0]], requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, -1.0]])
    # margin 1: p = 1.0 is violated by 0.5 (0.0 ties: no), p = 2.0 by none
    warp_loss(x, t, margin=1.0, reduction="sum").backward()
    torch.testing.assert_close(x.grad, torch.tensor([[-1.0, 0.0, 1.0, 0.0, 0.0, 0.0]]))
    x.grad = None
    warp_loss(x, t, margin=2.5, reduction="sum").backward()  # p = 1.0: by 0, 0.5, -1; p = 2.0: by 0, 0.5
    h2, h3 = 1 + 1 / 2, 1 + 1 / 2 + 1 / 3
    torch.testing.assert_close(x.grad, torch.tensor([[-3 * h3, h3 + h2, h3 + h2, -2 * h2, h3, 0.0]]))


@pytest.mark.parametrize("block_entries, hinge_entries", [(1, 1), (21, 14), (1 << 30, 7)])
def test_warp_blocks_and_hinge_chunks_agree(monkeypatch, block_entries, hinge_entries):
    """Samples cut into blocks (one per block; three of 7 classes) and positives into chunks of
    hinge rows (one; two, splitting samples; one per chunk in a single block) give the same terms
    and gradients as one pass."""
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(23, 7, generator=generator, dtype=torch.float64, requires_grad=True)
    t = torch.randint(-1, 2, (23, 7), generator=generator).double()
    t[4] = 1.0
    results = []
    for setting in ((baselines.WARP_BLOCK_ENTRIES, baselines.WARP_HINGE_ENTRIES), (block_entries, hinge_entries)):
        monkeypatch.setattr(baselines, "WARP_BLOCK_ENTRIES", setting[0])
        monkeypatch.setattr(baselines, "WARP_HINGE_ENTRIES", setting[1])
        terms = warp_loss(x, t, 0.7, reduction="none")
        mean = warp_loss(x, t, 0.7)
        results.append((terms, mean, *torch.autograd.grad(terms.sum() + mean, x)))
    for got, expected in zip(*results):
        torch.testing.assert_close(got, expected, rtol=1e-14, atol=1e-14)


def test_warp_nan_stays_in_its_sample():
    """A NaN logit (on a positive, negative or unknown entry) makes its sample's term NaN if the
    sample has a positive, and is ignored otherwise; the gradient stays finite."""
    t = torch.tensor([[1.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, -1.0], [0.0, 0.0, -1.0, 0.0]])
    for column in range(4):
        x = torch.randn(3, 4, generator=torch.Generator().manual_seed(column))
        x[0, column] = x[2, column] = math.nan
        x.requires_grad_(True)
        terms = warp_loss(x, t, reduction="none")
        (grad,) = torch.autograd.grad(terms.sum(), x)
        assert torch.isnan(terms[0]) and torch.isfinite(terms[1]) and terms[2] == 0
        assert torch.isfinite(grad).all()


def test_warp_backward_twice_through_a_kept_graph():
    x = torch.randn(5, 6, requires_grad=True)
    t = random_targets(5, 6).float()
    value = warp_loss(x, t)
    (first,) = torch.autograd.grad(value, x, retain_graph=True)
    expected = first.clone()
    first.mul_(3)  # a caller changing the gradient it got must not change the next one
    value.backward()
    torch.testing.assert_close(x.grad, expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_warp_second_derivative_is_zero(reduction):
    """The loss is piecewise linear in the logits (ranks constant): double backward is exact,
    gradgradcheck passes and a gradient penalty through a linear model has gradient 0 (not an
    error)."""
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    t = random_targets(4, 5)
    t[:, 0] = 1
    assert torch.autograd.gradgradcheck(lambda v: warp_loss(v, t, 0.5, reduction), (x,))
    weight = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    value = warp_loss(x.detach() @ weight, t, 0.5, reduction).sum()
    (grad,) = torch.autograd.grad(value, weight, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), weight)
    assert grad.abs().sum() > 0 and torch.equal(second, torch.zeros_like(second))


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
