"""Two-way loss and its margin-bias variant: the definition written as loops, the bias facts of the
supplement (eqs. i-v), the LSEP special case, closed-form gradients against plain autograd, edge
cases, stability, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlteach.losses import (MarginBiasTwoWayLoss, TwoWayLoss, TwoWayTerms, lsep_loss, margin_bias_two_way_loss,
                            two_way_loss)
from mlteach.losses import _label_sets as label_sets

from .conftest import assert_accumulates_in_float32

MODES = ("sample", "class", "two-way")


@pytest.fixture(autouse=True, params=["stacked", "dense", "sparse", "mixed"])
def set_layout(request, monkeypatch):
    """Run every test with each layout of the label-set kernel (see mlteach.losses._label_sets):
    the stacked layout of small inputs, or set by set with all sets dense, all sparse, or sparse
    positives (about 35% of the entries in these tests) with dense negatives (about 45%)."""
    if request.param != "stacked":
        monkeypatch.setattr(label_sets, "STACKED_ENTRIES", 0)
        monkeypatch.setattr(label_sets, "SPARSE_FRACTION", {"dense": 0.0, "sparse": 1.0, "mixed": 0.4}[request.param])


# ---------------------------------------------------------------- reference definitions
def two_way_line(logits, labels, tp, tn, margin=0.0):
    """softplus(Tn log sum_N e^{x/Tn} + Tp log sum_P e^{-x/Tp} + margin) for one line, with plain
    sums of exponentials (moderate logits only). None when the line has no positive."""
    pos = [x for x, y in zip(logits, labels) if y == 1]
    neg = [x for x, y in zip(logits, labels) if y == 0]
    if not pos:
        return None
    if not neg:
        return 0.0
    z = (tn * math.log(sum(math.exp(x / tn) for x in neg)) + tp * math.log(sum(math.exp(-x / tp) for x in pos))
         + margin)
    return math.log1p(math.exp(z))


def two_way_reference(x, t, tp, tn, mode, margin=0.0):
    """(per-sample terms, per-class terms, loss with reduction "mean")."""
    rows = [two_way_line(a, b, tp, tn, margin) for a, b in zip(x.tolist(), t.tolist())]
    cols = [two_way_line(a, b, tp, tn, margin) for a, b in zip(x.T.tolist(), t.T.tolist())]

    def mean(values):
        kept = [v for v in values if v is not None]
        return sum(kept) / len(kept) if kept else 0.0

    loss = {"sample": mean(rows), "class": mean(cols), "two-way": mean(rows) + mean(cols)}[mode]
    as_tensor = lambda values: torch.tensor([0.0 if v is None else v for v in values], dtype=torch.float64)
    return as_tensor(rows), as_tensor(cols), loss


def autograd_terms(x, t, tp, tn, dim):
    """Plain autograd (torch.where masks, torch.logsumexp); lines need a positive and a negative."""
    neg = torch.logsumexp(torch.where(t == 0, x / tn, -math.inf), dim)
    pos = torch.logsumexp(torch.where(t == 1, -x / tp, -math.inf), dim)
    return F.softplus(tn * neg + tp * pos)


def random_targets(batch, classes, generator=None):
    draw = torch.rand(batch, classes, generator=generator)
    targets = (draw < 0.35).double()
    targets[draw > 0.8] = -1
    return targets


def dense_targets(batch, classes):
    """Every row and (for batch >= classes) every column has a positive and a negative."""
    targets = random_targets(batch, classes)
    for i in range(batch):
        targets[i, i % classes], targets[i, (i + 1) % classes] = 1, 0
    return targets


def sample_exponent(terms):
    """Invert softplus: the argument z of each per-sample term."""
    return torch.log(torch.expm1(terms))


# ---------------------------------------------------------------- definition
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tp,tn", [(4.0, 1.0), (1.0, 1.0), (0.5, 2.0)])
def test_equals_definition(mode, tp, tn):
    x = torch.randn(9, 6, dtype=torch.float64) * 2
    t = random_targets(9, 6)
    t[2] = 0  # sample without positives: left out of the sample mean
    t[4] = torch.tensor([1.0, 1, -1, 1, -1, 1])  # sample without negatives: counts with 0
    t[:, 5] = -1  # class with no known entry
    rows, cols, expected = two_way_reference(x, t, tp, tn, mode)
    torch.testing.assert_close(two_way_loss(x, t, tp, tn, mode), torch.tensor(expected, dtype=torch.float64))
    terms = two_way_loss(x, t, tp, tn, mode, reduction="none")
    if mode == "two-way":
        assert isinstance(terms, TwoWayTerms) and terms.per_sample.shape == (9,) and terms.per_class.shape == (6,)
        torch.testing.assert_close(terms.per_sample, rows)
        torch.testing.assert_close(terms.per_class, cols)
        torch.testing.assert_close(two_way_loss(x, t, tp, tn, mode, reduction="sum"), rows.sum() + cols.sum())
    else:
        torch.testing.assert_close(terms, rows if mode == "sample" else cols)


def test_margin_bias_equals_definition():
    x = torch.randn(7, 5, dtype=torch.float64)
    t = random_targets(7, 5)
    for mode in MODES:
        _, _, expected = two_way_reference(x, t, 1.0, 1.0, mode, margin=0.7)
        torch.testing.assert_close(margin_bias_two_way_loss(x, t, margin=0.7, mode=mode),
                                   torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(margin_bias_two_way_loss(x, t, margin=0.0), two_way_loss(x, t, tp=1.0, tn=1.0))


# ---------------------------------------------------------------- supplement, section A
@settings(max_examples=30, deadline=None)
@given(shift=st.floats(-1e3, 1e3), seed=st.integers(0, 2**16), mode=st.sampled_from(MODES))
def test_invariant_to_a_common_logit_shift(shift, seed, mode):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 5, dtype=torch.float64, generator=generator) * 3
    t = random_targets(6, 5, generator)
    torch.testing.assert_close(two_way_loss(x + shift, t, mode=mode), two_way_loss(x, t, mode=mode))


@settings(max_examples=30, deadline=None)
@given(eps_p=st.floats(-5, 5), eps_n=st.floats(-5, 5), seed=st.integers(0, 2**16))
def test_biases_shift_the_softplus_argument_by_their_difference(eps_p, eps_n, seed):
    """Supplement eq. (iii): x_p + eps_P, x_n + eps_N shift the argument by eps_N - eps_P."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 6, dtype=torch.float64, generator=generator)
    t = dense_targets(8, 6)
    # in float64 (a boolean mask times a Python number would be float32, eps rounded to 7 digits)
    is_label = {label: (t == label).to(x.dtype) for label in (1, 0, -1)}
    shifted = x + eps_p * is_label[1] + eps_n * is_label[0] + 100.0 * is_label[-1]  # unknown entries play no part
    before = two_way_loss(x, t, tp=4.0, tn=1.0, mode="sample", reduction="none")
    after = two_way_loss(shifted, t, tp=4.0, tn=1.0, mode="sample", reduction="none")
    torch.testing.assert_close(sample_exponent(after) - sample_exponent(before),
                               torch.full((8,), eps_n - eps_p, dtype=torch.float64), rtol=1e-6, atol=1e-6)
    # the margin-bias loss is the T = 1 loss of the shifted logits
    torch.testing.assert_close(margin_bias_two_way_loss(x, t, margin=eps_n - eps_p, mode="sample", reduction="none"),
                               two_way_loss(shifted, t, tp=1.0, tn=1.0, mode="sample", reduction="none"))


def test_positive_logit_gradients_are_eqs_iv_and_v():
    x = torch.randn(1, 6, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[1.0, 0, 1, 0, 1, -1]], dtype=torch.float64)
    pos, neg = t[0] == 1, t[0] == 0
    s = x.detach()[0]
    eps, temperature = 0.8, 4.0
    (grad,) = torch.autograd.grad(margin_bias_two_way_loss(x, t, margin=eps, mode="sample"), x)
    sigmoid = torch.sigmoid(torch.logsumexp(s[neg], 0) + torch.logsumexp(-s[pos], 0) + eps)
    eq_iv = -sigmoid * torch.softmax(-s[pos], 0)
    torch.testing.assert_close(grad[0, pos], eq_iv)
    (grad,) = torch.autograd.grad(two_way_loss(x, t, tp=temperature, tn=1.0, mode="sample"), x)
    sigmoid = torch.sigmoid(torch.logsumexp(s[neg], 0) + temperature * torch.logsumexp(-s[pos] / temperature, 0))
    eq_v = -sigmoid * torch.softmax(-s[pos] / temperature, 0)
    torch.testing.assert_close(grad[0, pos], eq_v)
    assert grad[0, 5] == 0  # the unknown entry


@pytest.mark.parametrize("class_wise", [False, True])
def test_unit_temperatures_give_lsep_and_c_lsep(class_wise):
    x = torch.randn(10, 7, dtype=torch.float64) * 2
    t = random_targets(10, 7)
    t[1] = 0
    t[:, 3] = 0
    mode = "class" if class_wise else "sample"
    torch.testing.assert_close(two_way_loss(x, t, 1.0, 1.0, mode, reduction="none"),
                               lsep_loss(x, t, gamma=1.0, class_wise=class_wise, reduction="none"))
    torch.testing.assert_close(two_way_loss(x, t, 1.0, 1.0, mode), lsep_loss(x, t, gamma=1.0, class_wise=class_wise))


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("tp,tn", [(4.0, 1.0), (0.5, 2.0)])
def test_fast_path_matches_autograd_reference(tp, tn):
    x = (torch.randn(12, 9, dtype=torch.float64) * 3).requires_grad_()
    t = dense_targets(12, 9)
    terms = two_way_loss(x, t, tp, tn, reduction="none")
    reference = (autograd_terms(x, t, tp, tn, 1), autograd_terms(x, t, tp, tn, 0))
    weights = (torch.rand(12, dtype=torch.float64), torch.rand(9, dtype=torch.float64))
    for mine, theirs in zip(terms, reference):
        torch.testing.assert_close(mine, theirs)
    (grad,) = torch.autograd.grad(sum((v * w).sum() for v, w in zip(terms, weights)), x)
    (expected,) = torch.autograd.grad(sum((v * w).sum() for v, w in zip(reference, weights)), x)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(mode, reduction):
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = random_targets(6, 5)
    t[0], t[:, 1] = 0, 1  # a sample without positives, a class without negatives

    def loss(v):
        value = two_way_loss(v, t, 4.0, 1.0, mode, reduction)
        return tuple(value) if isinstance(value, TwoWayTerms) else value

    assert torch.autograd.gradcheck(loss, (x,))
    assert torch.autograd.gradcheck(lambda v: margin_bias_two_way_loss(v, t, 0.5, mode, "sum"), (x,))


# ---------------------------------------------------------------- edge cases
EDGE_TARGETS = {
    "no positive in a sample": torch.tensor([[0.0, 0, 0], [1, 0, 1]]),
    "no negative in a class": torch.tensor([[1.0, 0, 1], [1, 1, 0]]),
    "all unknown": torch.full((3, 4), -1.0),
    "one class": torch.tensor([[1.0], [0], [1]]),
    "batch of one": torch.tensor([[1.0, 0, -1, 0]]),
}


@pytest.mark.parametrize("case", EDGE_TARGETS)
@pytest.mark.parametrize("mode", MODES)
def test_edge_cases_are_finite_and_differentiable(case, mode):
    t = EDGE_TARGETS[case]
    x = torch.randn(t.shape, requires_grad=True)
    value = two_way_loss(x, t, mode=mode) + margin_bias_two_way_loss(x, t, mode=mode)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    terms = two_way_loss(x, t, mode=mode, reduction="none")
    for part in (terms if isinstance(terms, TwoWayTerms) else (terms,)):
        assert torch.isfinite(part).all()


def test_empty_batch_returns_graph_connected_zero():
    x = torch.randn(4, 3, requires_grad=True)
    value = two_way_loss(x, torch.full((4, 3), -1.0))
    assert value.item() == 0 and value.grad_fn is not None
    (grad,) = torch.autograd.grad(value, x)
    assert torch.all(grad == 0)


def test_nan_logits_propagate():
    x = torch.randn(3, 4)
    x[0, 0] = math.nan
    assert torch.isnan(two_way_loss(x, dense_targets(3, 4).float()))


def test_inputs_are_not_modified():
    x = torch.randn(6, 5, requires_grad=True)
    t = random_targets(6, 5).float()
    x_before, t_before = x.detach().clone(), t.clone()
    two_way_loss(x, t).backward()
    margin_bias_two_way_loss(x, t).backward()
    assert torch.equal(x.detach(), x_before) and torch.equal(t, t_before)


# ---------------------------------------------------------------- stability
@pytest.mark.parametrize("scale", [10.0, 300.0, 1e4])
def test_float32_matches_float64_reference(scale):
    """The authors' -100 masking breaks past |x| of about 245; the -inf masks do not."""
    x = torch.randn(16, 10) * scale
    t = dense_targets(16, 10).float()
    x32 = x.clone().requires_grad_()
    terms = two_way_loss(x32, t, reduction="none")
    sum(part.sum() for part in terms).backward()
    x64 = x.double().requires_grad_()
    expected = [autograd_terms(x64, t.double(), 4.0, 1.0, dim) for dim in (1, 0)]
    sum(part.sum() for part in expected).backward()
    assert torch.isfinite(x32.grad).all()
    for part, reference in zip(terms, expected):
        torch.testing.assert_close(part.double(), reference, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(x32.grad.double(), x64.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["class", "two-way"])
@pytest.mark.parametrize("dtype,offset", [(torch.float32, 300.0), (torch.float64, 2000.0)])
def test_columns_far_below_the_rest_are_exact(dtype, offset, mode):
    """With row terms too, class-wise sums come from the row-shifted exponentials; columns whose
    logits sit far below the others underflow there and must be recomputed with their own shift."""
    x = torch.randn(12, 8, dtype=torch.float64) * 3
    x[:, 2] -= offset
    x[:, 5] -= offset / 2
    t = dense_targets(12, 8)
    mine = x.to(dtype, copy=True).requires_grad_()
    terms = two_way_loss(mine, t.to(dtype), tp=4.0, tn=1.0, mode=mode, reduction="none")
    terms = terms.per_class if mode == "two-way" else terms
    (terms * torch.arange(1.0, 9.0, dtype=dtype)).sum().backward()
    reference = x.clone().requires_grad_()
    expected = autograd_terms(reference, t, 4.0, 1.0, 0)
    (expected * torch.arange(1.0, 9.0, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(terms.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mine.grad.double(), reference.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_half_precision_accumulates_in_float32(dtype, scale):
    x = (torch.randn(32, 12) * scale).to(dtype).requires_grad_()
    t = dense_targets(32, 12).float()
    for loss in (lambda v: two_way_loss(v, t, tp=4.0), lambda v: margin_bias_two_way_loss(v, t)):
        assert_accumulates_in_float32(loss, x)


# ---------------------------------------------------------------- modules and errors
def test_modules_match_functions():
    x, t = torch.randn(5, 4), dense_targets(5, 4).float()
    torch.testing.assert_close(TwoWayLoss(tp=2.0, mode="class")(x, t), two_way_loss(x, t, 2.0, 1.0, "class"))
    torch.testing.assert_close(MarginBiasTwoWayLoss(margin=0.3)(x, t), margin_bias_two_way_loss(x, t, 0.3))
    assert "tp=2.0" in repr(TwoWayLoss(tp=2.0))


@pytest.mark.parametrize("call_bad,match", [
    (lambda x, t: two_way_loss(x, t[:2]), "shape"),
    (lambda x, t: two_way_loss(x, t * 2), "targets must be 1"),
    (lambda x, t: two_way_loss(x.int(), t), "floating"),
    (lambda x, t: two_way_loss(x, t, tp=0.0), "tp"),
    (lambda x, t: two_way_loss(x, t, tn=-1.0), "tn"),
    (lambda x, t: two_way_loss(x, t, tp=math.inf), "tp"),
    (lambda x, t: two_way_loss(x, t, mode="both"), "mode"),
    (lambda x, t: two_way_loss(x, t, reduction="batchmean"), "reduction"),
    (lambda x, t: margin_bias_two_way_loss(x, t, margin=math.nan), "margin"),
    (lambda x, t: margin_bias_two_way_loss(x, t, mode="rows"), "mode"),
    (lambda x, t: TwoWayLoss(tp=-4.0), "tp"),
    (lambda x, t: MarginBiasTwoWayLoss(reduction="avg"), "reduction"),
])
def test_bad_input_raises_value_error(call_bad, match):
    x, t = torch.randn(4, 5), dense_targets(4, 5).float()
    with pytest.raises(ValueError, match=match):
        call_bad(x, t)
