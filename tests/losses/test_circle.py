"""Circle loss: the O(B*C) log-sum-exp form against Sun et al.'s pairwise definition (eq. 6 with
the weights of eq. 5) written as a plain double loop, gradients with constant and with
differentiated weights, the optimum of each score, empty sets, stability and errors."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlteach.losses import CircleLoss, circle_loss
from mlteach.losses import _label_sets as label_sets

from .conftest import assert_accumulates_in_float32, random_problem

SETTINGS = settings(max_examples=25, deadline=None)
shapes = st.tuples(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 6))


@pytest.fixture(autouse=True, params=["stacked", "dense", "sparse"])
def set_layout(request, monkeypatch):
    """Run every test with each layout of the label-set log-sum-exp the loss is computed with
    (see mlteach.losses._label_sets): the stacked layout of small inputs, or set by set with every
    set dense or every set sparse."""
    if request.param != "stacked":
        monkeypatch.setattr(label_sets, "STACKED_ENTRIES", 0)
        monkeypatch.setattr(label_sets, "SPARSE_FRACTION", {"dense": 0.0, "sparse": 1.0}[request.param])


def circle_pairwise(logits, targets, margin, gamma):
    """Per sample: log(1 + sum_{i in P} sum_{j in N} exp(gamma (a_j (s_j - m) - a_i (s_i - (1 - m))))),
    a_i = max(1 + m - s_i, 0), a_j = max(s_j + m, 0); None for a sample without positives."""
    terms = []
    for row, labels in zip(logits.tolist(), targets.tolist()):
        positives = [s for s, y in zip(row, labels) if y == 1]
        negatives = [s for s, y in zip(row, labels) if y == 0]
        pairs = [gamma * (max(sj + margin, 0.0) * (sj - margin) - max(1 + margin - si, 0.0) * (si - 1 + margin))
                 for si in positives for sj in negatives]
        terms.append(math.log1p(sum(math.exp(p) for p in pairs)) if positives else None)
    return terms


def circle_autograd(logits, targets, margin, gamma, detach):
    """The same pairwise definition in torch operations, for reference gradients."""
    alpha_p = (1 + margin - logits).clamp(min=0)
    alpha_n = (logits + margin).clamp(min=0)
    if detach:
        alpha_p, alpha_n = alpha_p.detach(), alpha_n.detach()
    total = logits.sum() * 0  # connected to the logits even when no sample has a positive
    for b in range(logits.shape[0]):
        pos, neg = targets[b] == 1, targets[b] == 0
        if not bool(pos.any()):
            continue
        pairs = (gamma * alpha_n[b][neg] * (logits[b][neg] - margin)).unsqueeze(0) \
            - (gamma * alpha_p[b][pos] * (logits[b][pos] - (1 - margin))).unsqueeze(1)
        total = total + torch.log1p(pairs.exp().sum())
    return total


# ---------------------------------------------------------------- agreement with the definition
@SETTINGS
@given(shapes, st.sampled_from([0.0, 0.25, 0.4]), st.sampled_from([1.0, 4.0, 16.0]))
def test_matches_pairwise_definition(shape, margin, gamma):
    logits, targets = random_problem(*shape, scale=1.0)
    want = circle_pairwise(logits, targets, margin, gamma)
    got = circle_loss(logits, targets, margin, gamma, reduction="none")
    torch.testing.assert_close(got, torch.tensor([w or 0.0 for w in want], dtype=torch.float64))
    counted = [w for w in want if w is not None]
    mean = circle_loss(logits, targets, margin, gamma)
    assert float(mean) == pytest.approx(sum(counted) / max(len(counted), 1), rel=1e-9, abs=1e-15)


def test_value_by_hand():
    # one positive at s_p = 0.5, one negative at s_n = 0.25, m = 0.25, gamma = 2:
    # a_p = 1.25 - 0.5 = 0.75, a_n = 0.25 + 0.25 = 0.5;
    # exponent = 2 (0.5 (0.25 - 0.25) - 0.75 (0.5 - 0.75)) = 0.375
    logits = torch.tensor([[0.5, 0.25]], dtype=torch.float64)
    value = circle_loss(logits, torch.tensor([[1.0, 0.0]]), margin=0.25, gamma=2.0)
    assert float(value) == pytest.approx(math.log1p(math.exp(0.375)), rel=1e-14)


def test_scores_at_their_optima_get_no_gradient_and_the_loss_is_log_two():
    # s_p = O_p = 1 + m and s_n = O_n = -m: both weights are 0, every exponent is 0, so the
    # loss is log(1 + 1) and nothing moves; past the optima the weights stay 0
    m = 0.25
    for positive, negative in ((1 + m, -m), (3.0, -2.0)):
        x = torch.tensor([[positive, negative]], dtype=torch.float64, requires_grad=True)
        value = circle_loss(x, torch.tensor([[1.0, 0.0]]), margin=m, gamma=64.0)
        value.backward()
        assert value.item() == pytest.approx(math.log(2))
        assert torch.equal(x.grad, torch.zeros_like(x))


def test_a_less_optimised_score_gets_a_larger_gradient():
    # the self-paced weights: a positive further below its optimum is pushed harder
    x = torch.tensor([[-0.5, 0.8, 0.0]], dtype=torch.float64, requires_grad=True)
    circle_loss(x, torch.tensor([[1.0, 1.0, 0.0]]), gamma=4.0).backward()
    assert x.grad[0, 0] < x.grad[0, 1] < 0 < x.grad[0, 2]


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("detach", [True, False], ids=["constant weights", "differentiated weights"])
@SETTINGS
@given(shape=shapes)
def test_gradient_matches_autograd_of_the_definition(detach, shape):
    logits, targets = random_problem(*shape, scale=1.0)
    x = logits.clone().requires_grad_(True)
    circle_loss(x, targets, gamma=8.0, detach_weights=detach, reduction="sum").backward()
    x_ref = logits.clone().requires_grad_(True)
    circle_autograd(x_ref, targets, 0.25, 8.0, detach).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_gradcheck_with_differentiated_weights():
    logits, targets = random_problem(7, 3, 5, scale=1.0)
    logits.requires_grad_(True)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda x: circle_loss(x, targets, gamma=4.0, detach_weights=False, reduction=reduction), (logits,))
    assert torch.autograd.gradcheck(lambda x: CircleLoss(0.4, 2.0, detach_weights=False)(x, targets), (logits,))


def test_constant_weights_change_the_gradient_not_the_value():
    logits, targets = random_problem(3, 4, 5, scale=1.0)
    value_constant = circle_loss(logits, targets, gamma=8.0)
    value_exact = circle_loss(logits, targets, gamma=8.0, detach_weights=False)
    torch.testing.assert_close(value_constant, value_exact)
    grads = []
    for detach in (True, False):
        x = logits.clone().requires_grad_(True)
        circle_loss(x, targets, gamma=8.0, detach_weights=detach).backward()
        grads.append(x.grad)
    assert not torch.allclose(*grads)


# ---------------------------------------------------------------- edge cases and stability
def test_empty_sets_contribute_zero_and_the_mean_counts_samples_with_a_positive():
    logits = torch.tensor([[0.3, -0.2], [0.1, 0.9], [0.5, 0.4], [2.0, -1.0]], dtype=torch.float64)
    targets = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    terms = circle_loss(logits, targets, gamma=4.0, reduction="none")
    assert terms[:3].tolist() == [0.0, 0.0, 0.0] and float(terms[3]) > 0
    # samples with a positive: rows 1 and 3
    torch.testing.assert_close(circle_loss(logits, targets, gamma=4.0), terms.sum() / 2)


def test_batch_without_positives_returns_a_graph_connected_zero():
    x = torch.randn(3, 4, requires_grad=True)
    value = circle_loss(x, torch.tensor([[0.0, -1.0, 0.0, 0.0]] * 3))
    assert value.item() == 0.0 and value.requires_grad
    value.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_unknown_entries_are_in_neither_set():
    logits, targets = random_problem(4, 5, 6, scale=1.0, unknown_share=0.3)
    x = logits.clone().requires_grad_(True)
    circle_loss(x, targets, gamma=4.0, detach_weights=False).backward()
    assert bool((x.grad[targets == -1] == 0).all())
    dropped = [circle_pairwise(logits[b:b + 1], targets[b:b + 1], 0.25, 4.0)[0] or 0.0 for b in range(5)]
    torch.testing.assert_close(circle_loss(logits, targets, gamma=4.0, reduction="none"),
                               torch.tensor(dropped, dtype=torch.float64))


@pytest.mark.parametrize("detach", [True, False])
def test_finite_for_huge_logits_float32(detach):
    x = torch.tensor([[1e4, -1e4, 1e4], [-1e4, 1e4, -1e4]], requires_grad=True)
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, -1.0, -1.0]])
    value = circle_loss(x, targets, detach_weights=detach)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 1] < 0 < x.grad[0, 2]  # the wrong positive goes up, the wrong negative down


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision_accumulates_in_float32(dtype):
    logits, targets = random_problem(2, 4, 5, scale=1.0, dtype=dtype)
    targets[:, 0], targets[:, 1] = 1.0, 0.0
    assert_accumulates_in_float32(lambda x: circle_loss(x, targets, gamma=32.0), logits.clone().requires_grad_(True))
    # the loss, about gamma s^2, is computed in float32; the gradient, about gamma |s|, must fit
    # the input's dtype: float16 stops at 65504, so |s| = 200 at gamma = 256 is near its limit
    big = torch.tensor([[-200.0, 200.0]], dtype=dtype, requires_grad=True)
    value = circle_loss(big, torch.tensor([[1.0, 0.0]]))
    (grad,) = torch.autograd.grad(value, big)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    # log(1 + e^u) = u here; u = gamma (a_p (Delta_p - s_p) + a_n (s_n - Delta_n)), s_p = -200, s_n = 200
    assert value.item() == pytest.approx(256 * (201.25 * 200.75 + 200.25 * 199.75), rel=1e-6)


def test_float32_matches_float64():
    logits, targets = random_problem(8, 6, 7, scale=3.0)
    got = circle_loss(logits.float(), targets)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), circle_loss(logits, targets), rtol=1e-5, atol=1e-3)


def test_nan_logits_propagate_and_inputs_are_not_modified():
    assert torch.isnan(circle_loss(torch.tensor([[float("nan"), 0.0]]), torch.tensor([[1.0, 0.0]])))
    logits, targets = random_problem(1, 3, 4)
    before = logits.clone(), targets.clone()
    circle_loss(logits, targets)
    assert torch.equal(logits, before[0]) and torch.equal(targets, before[1])


def test_module_matches_function():
    logits, targets = random_problem(4, 3, 5, scale=1.0)
    module = CircleLoss(margin=0.4, gamma=80.0, reduction="none")
    torch.testing.assert_close(module(logits, targets), circle_loss(logits, targets, 0.4, 80.0, reduction="none"))
    assert "gamma=80.0" in repr(module) and "detach_weights=True" in repr(module)


GOOD_X, GOOD_T = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("call, message", [
    (lambda: circle_loss(GOOD_X, GOOD_T[:, :2]), "shape"),
    (lambda: circle_loss(GOOD_X, GOOD_T * 3), "targets must be 1"),
    (lambda: circle_loss(GOOD_X.int(), GOOD_T), "floating"),
    (lambda: circle_loss(GOOD_X, GOOD_T, margin=-0.1), r"margin must be a finite number in \[0, inf\)"),
    (lambda: circle_loss(GOOD_X, GOOD_T, gamma=0.0), r"gamma must be a finite number in \(0, inf\)"),
    (lambda: circle_loss(GOOD_X, GOOD_T, gamma=float("inf")), "gamma"),
    (lambda: circle_loss(GOOD_X, GOOD_T, detach_weights=1), "detach_weights must be True or False"),
    (lambda: circle_loss(GOOD_X, GOOD_T, reduction="batchmean"), "reduction"),
    (lambda: CircleLoss(gamma=-1.0), "CircleLoss: gamma"),
    (lambda: CircleLoss(margin=True), "CircleLoss: margin"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
