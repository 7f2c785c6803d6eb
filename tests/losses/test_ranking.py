"""LSEP, C-LSEP, ZLPR and DR: the O(B*C) forms against the papers' pairwise definitions written as
plain loops, the closed-form gradients against plain autograd, edge cases, stability, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlteach.losses import DRLoss, LSEPLoss, ZLPRLoss, dr_loss, lsep_loss, zlpr_loss
from mlteach.losses import _label_sets as label_sets

from .conftest import assert_accumulates_in_float32

CONSTRAINTS = ("negative", "positive", "both", "none")


@pytest.fixture(autouse=True, params=["stacked", "dense", "sparse", "mixed"])
def set_layout(request, monkeypatch):
    """Run every test with each layout of the label-set kernel (see mlteach.losses._label_sets):
    the stacked layout of small inputs, or set by set with all sets dense, all sparse, or sparse
    positives (about 35% of the entries in these tests) with dense negatives (about 45%)."""
    if request.param != "stacked":
        monkeypatch.setattr(label_sets, "STACKED_ENTRIES", 0)
        monkeypatch.setattr(label_sets, "SPARSE_FRACTION", {"dense": 0.0, "sparse": 1.0, "mixed": 0.4}[request.param])


# ---------------------------------------------------------------- reference definitions
def lines(x, t, class_wise):
    """Rows (samples) or columns (classes) as lists of (logit, target) pairs."""
    x, t = (x.T, t.T) if class_wise else (x, t)
    return [list(zip(xr.tolist(), tr.tolist())) for xr, tr in zip(x, t)]


def split(line):
    return [s for s, y in line if y == 1], [s for s, y in line if y == 0]


def lsep_pairwise(x, t, gamma=1.0, class_wise=False):
    """DR paper eqs. 3 and 7: log(1 + sum_{i in P} sum_{j in N} e^{gamma (s_j - s_i)}), per line."""
    terms = []
    for line in lines(x, t, class_wise):
        pos, neg = split(line)
        terms.append(math.log1p(sum(math.exp(gamma * (sj - si)) for si in pos for sj in neg)))
    return terms


def zlpr_pairwise(x, t, class_wise=False):
    """DR paper eq. 4, per line; lines without positives are left out (None)."""
    terms = []
    for line in lines(x, t, class_wise):
        pos, neg = split(line)
        terms.append(math.log1p(sum(math.exp(-si) for si in pos)) + math.log1p(sum(math.exp(sj) for sj in neg))
                     if pos else None)
    return terms


def dr_pairwise(x, t, gamma1, gamma2, constraint):
    """DR paper eq. 8 per class, with the constraint variants of its Table 4."""
    terms = []
    for line in lines(x, t, class_wise=True):
        pos, neg = split(line)
        inside = sum(math.exp(gamma1 * (sj - si)) for si in pos for sj in neg)
        if constraint in ("negative", "both"):
            inside += sum(math.exp(gamma2 * sj) for sj in neg)
        if constraint in ("positive", "both"):
            inside += sum(math.exp(-gamma2 * si) for si in pos)
        terms.append(math.log1p(inside))
    return terms


def masked_lse(values, mask, dim):
    return torch.logsumexp(torch.where(mask, values, -math.inf), dim)


def autograd_reference(x, t, loss, class_wise=False, gamma=1.0, gamma1=5.0, gamma2=7.0, constraint="negative"):
    """Plain autograd (torch.where masks, torch.logsumexp): per-line terms. Lines must have a
    positive and a negative, or autograd gives NaN gradients there."""
    dim = 0 if class_wise or loss == "dr" else 1
    pos, neg = t == 1, t == 0
    if loss == "zlpr":
        return F.softplus(masked_lse(-x, pos, dim)) + F.softplus(masked_lse(x, neg, dim))
    if loss == "lsep":
        return F.softplus(masked_lse(gamma * x, neg, dim) + masked_lse(-gamma * x, pos, dim))
    parts = [masked_lse(gamma1 * x, neg, dim) + masked_lse(-gamma1 * x, pos, dim)]
    if constraint in ("negative", "both"):
        parts.append(masked_lse(gamma2 * x, neg, dim))
    if constraint in ("positive", "both"):
        parts.append(masked_lse(-gamma2 * x, pos, dim))
    return F.softplus(torch.logsumexp(torch.stack(parts), 0))


def random_targets(batch, classes, unknown=0.2, generator=None):
    draw = torch.rand(batch, classes, generator=generator)
    targets = (draw < 0.35).double()
    targets[draw > 1 - unknown] = -1
    return targets


def dense_targets(batch, classes):
    """Every row and (for batch >= classes) every column has a positive and a negative; some
    entries unknown."""
    targets = random_targets(batch, classes)
    for i in range(batch):
        targets[i, i % classes], targets[i, (i + 1) % classes] = 1, 0
    return targets


# ---------------------------------------------------------------- O(B*C) forms = pairwise definitions
@pytest.mark.parametrize("class_wise", [False, True])
@pytest.mark.parametrize("gamma", [1.0, 2.5])
def test_lsep_equals_pairwise_definition(class_wise, gamma):
    x = torch.randn(9, 7, dtype=torch.float64) * 2
    t = random_targets(9, 7)
    t[3] = -1  # a sample with no known entry
    t[:, 2] = 0  # a class without positives
    expected = torch.tensor(lsep_pairwise(x, t, gamma, class_wise), dtype=torch.float64)
    terms = lsep_loss(x, t, gamma=gamma, class_wise=class_wise, reduction="none")
    torch.testing.assert_close(terms, expected)
    with_positive = torch.tensor([any(y == 1 for _, y in line) for line in lines(x, t, class_wise)])
    torch.testing.assert_close(lsep_loss(x, t, gamma=gamma, class_wise=class_wise),
                               expected.sum() / with_positive.sum())
    torch.testing.assert_close(lsep_loss(x, t, gamma=gamma, class_wise=class_wise, reduction="sum"), expected.sum())


@pytest.mark.parametrize("class_wise", [False, True])
def test_zlpr_equals_definition(class_wise):
    x = torch.randn(8, 6, dtype=torch.float64) * 2
    t = random_targets(8, 6)
    t[2] = 0  # a sample without positives: left out
    t[:, 4] = 0  # a class without positives: left out
    expected = zlpr_pairwise(x, t, class_wise)
    kept = [v for v in expected if v is not None]
    terms = zlpr_loss(x, t, class_wise=class_wise, reduction="none")
    torch.testing.assert_close(terms, torch.tensor([0.0 if v is None else v for v in expected], dtype=torch.float64))
    torch.testing.assert_close(zlpr_loss(x, t, class_wise=class_wise), torch.tensor(sum(kept) / len(kept),
                                                                                    dtype=torch.float64))


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_dr_equals_eq8(constraint):
    x = torch.randn(10, 6, dtype=torch.float64)
    t = random_targets(10, 6)
    t[:, 1] = 0  # no positive in class 1: keeps its NGC term
    t[:, 3] = torch.tensor([1, 1, 1, 1, -1, -1, 1, 1, 1, 1.0])  # no negative in class 3
    expected = torch.tensor(dr_pairwise(x, t, 5.0, 7.0, constraint), dtype=torch.float64)
    torch.testing.assert_close(dr_loss(x, t, constraint=constraint, reduction="none"), expected)
    torch.testing.assert_close(dr_loss(x, t, constraint=constraint), expected.mean())  # mean over all C
    torch.testing.assert_close(dr_loss(x, t, constraint=constraint, reduction="sum"), expected.sum())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_weights_far_below_the_line_maximum_are_exact_zeros(dtype):
    """A member more than 118 / (gamma log2 e) below its line's maximum gets the weight 0 instead
    of a subnormal number (arithmetic on subnormal numbers is tens of times slower on CPU): its
    gradient is exactly 0 and the loss is the reference's to float rounding."""
    x = torch.tensor([[3.0, 0.0, -20.0, 2.0], [1.0, -30.0, 0.5, -1.0]], dtype=dtype, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.0, -1.0], [1.0, 0.0, 0.0, 1.0]])
    value = dr_loss(x, t, gamma1=5.0, gamma2=10.0, constraint="both")
    value.backward()
    assert x.grad[0, 2] == 0 and x.grad[1, 1] == 0  # 20.5 and 30 below their column's largest negative
    assert torch.isfinite(x.grad).all() and (x.grad[0, :2] != 0).all()
    expected = dr_loss(x.detach().double(), t, gamma1=5.0, gamma2=10.0, constraint="both")
    torch.testing.assert_close(value.double(), expected)


def test_dr_without_constraint_is_c_lsep_summed_over_classes():
    x = torch.randn(12, 5, dtype=torch.float64)
    t = random_targets(12, 5)
    c_lsep = lsep_loss(x, t, gamma=5.0, class_wise=True, reduction="none")
    torch.testing.assert_close(dr_loss(x, t, constraint="none", reduction="none"), c_lsep)


def test_dr_class_without_positives_keeps_ngc_term():
    x = torch.randn(6, 3, dtype=torch.float64)
    t = torch.zeros(6, 3, dtype=torch.float64)
    expected = torch.log1p(torch.exp(10.0 * x).sum(0))
    torch.testing.assert_close(dr_loss(x, t, gamma2=10.0, reduction="none"), expected)
    assert torch.all(lsep_loss(x, t, class_wise=True, reduction="none") == 0)


# ---------------------------------------------------------------- gradients
def test_dr_negative_gradient_is_eq10_and_c_lsep_is_eq9():
    x = torch.randn(8, 1, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[1.0], [0], [0], [1], [0], [-1], [0], [1]], dtype=torch.float64)
    g1, g2 = 5.0, 7.0
    pos, neg = (t == 1).squeeze(1), (t == 0).squeeze(1)
    s = x.detach().squeeze(1)
    pos_sum = torch.exp(-g1 * s[pos]).sum()
    pair = torch.exp(g1 * s[neg]).sum() * pos_sum
    ngc = torch.exp(g2 * s[neg]).sum()
    (grad,) = torch.autograd.grad(dr_loss(x, t, g1, g2, reduction="sum"), x)
    eq10 = (g1 * torch.exp(g1 * s[neg]) * pos_sum + g2 * torch.exp(g2 * s[neg])) / (1 + pair + ngc)
    torch.testing.assert_close(grad.squeeze(1)[neg], eq10)
    (grad,) = torch.autograd.grad(dr_loss(x, t, g1, g2, constraint="none", reduction="sum"), x)
    eq9 = g1 * torch.exp(g1 * s[neg]) * pos_sum / (1 + pair)
    torch.testing.assert_close(grad.squeeze(1)[neg], eq9)


VARIANTS = [
    ("lsep", dict()), ("lsep", dict(class_wise=True, gamma=2.0)), ("zlpr", dict()), ("zlpr", dict(class_wise=True)),
    *[("dr", dict(constraint=c, gamma2=10.0)) for c in CONSTRAINTS],
]


def call(loss, x, t, reduction="mean", **kw):
    if loss == "lsep":
        return lsep_loss(x, t, reduction=reduction, **kw)
    if loss == "zlpr":
        return zlpr_loss(x, t, reduction=reduction, **kw)
    return dr_loss(x, t, reduction=reduction, **kw)


@pytest.mark.parametrize("loss,kw", VARIANTS)
def test_fast_path_matches_autograd_reference(loss, kw):
    torch.manual_seed(3)
    x = (torch.randn(11, 8, dtype=torch.float64) * 3).requires_grad_()
    t = dense_targets(11, 8)
    reference = autograd_reference(x, t, loss, **kw)
    weights = torch.rand(reference.shape, dtype=torch.float64)
    terms = call(loss, x, t, reduction="none", **kw)
    torch.testing.assert_close(terms, reference)
    (grad,) = torch.autograd.grad((terms * weights).sum(), x)
    (expected,) = torch.autograd.grad((reference * weights).sum(), x)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("loss,kw", VARIANTS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(loss, kw, reduction):
    torch.manual_seed(4)
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = random_targets(6, 5)
    t[0], t[:, 0] = 0, -1  # a sample without positives, a class with no known entry
    assert torch.autograd.gradcheck(lambda v: call(loss, v, t, reduction, **kw), (x,))


def test_unknown_entries_get_exactly_zero_gradient():
    x = torch.randn(7, 6, requires_grad=True)
    t = random_targets(7, 6).float()
    t[:, 0] = -1
    total = (lsep_loss(x, t) + lsep_loss(x, t, class_wise=True) + zlpr_loss(x, t)
             + dr_loss(x, t, constraint="both"))
    total.backward()
    assert torch.all(x.grad[t == -1] == 0)
    assert torch.all(x.grad[t != -1] != 0)


def test_backward_twice_with_retained_graph_is_consistent():
    x = torch.randn(5, 4, requires_grad=True)
    t = dense_targets(5, 4).float()
    loss = dr_loss(x, t)
    (first,) = torch.autograd.grad(loss, x, retain_graph=True)
    (second,) = torch.autograd.grad(loss, x)
    assert torch.equal(first, second)


# ---------------------------------------------------------------- edge cases
EDGE_TARGETS = {
    "no positive in a sample": lambda: torch.tensor([[0.0, 0, 0], [1, 0, 1]]),
    "no negative in a class": lambda: torch.tensor([[1.0, 0, 1], [1, 1, 0]]),
    "all unknown": lambda: torch.full((3, 4), -1.0),
    "one class": lambda: torch.tensor([[1.0], [0], [1]]),
    "batch of one": lambda: torch.tensor([[1.0, 0, -1, 0]]),
    "only positives": lambda: torch.ones(2, 3),
}


@pytest.mark.parametrize("case", EDGE_TARGETS)
@pytest.mark.parametrize("loss,kw", VARIANTS)
def test_edge_cases_are_finite_and_differentiable(case, loss, kw):
    t = EDGE_TARGETS[case]()
    x = torch.randn(t.shape, requires_grad=True)
    value = call(loss, x, t, **kw)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    if case == "all unknown" or (case == "only positives" and loss == "lsep"):
        assert value.item() == 0 and value.requires_grad


def test_empty_batch_returns_graph_connected_zero():
    x = torch.randn(4, 3, requires_grad=True)
    t = torch.full((4, 3), -1.0)
    for value in (lsep_loss(x, t), zlpr_loss(x, t, class_wise=True), dr_loss(x, t)):
        assert value.item() == 0 and value.grad_fn is not None
        (grad,) = torch.autograd.grad(value, x)
        assert torch.all(grad == 0)


def test_nan_logits_propagate():
    x = torch.randn(3, 4)
    x[1, 2] = math.nan
    t = dense_targets(3, 4).float()
    assert torch.isnan(lsep_loss(x, t)) and torch.isnan(dr_loss(x, t)) and torch.isnan(zlpr_loss(x, t))


def test_inputs_are_not_modified():
    x = torch.randn(6, 5, requires_grad=True)
    t = random_targets(6, 5).float()
    x_before, t_before = x.detach().clone(), t.clone()
    for loss, kw in VARIANTS:
        call(loss, x, t, **kw).backward()
    assert torch.equal(x.detach(), x_before) and torch.equal(t, t_before)


# ---------------------------------------------------------------- stability
@pytest.mark.parametrize("loss,kw", VARIANTS)
@pytest.mark.parametrize("scale", [10.0, 1e4])
def test_float32_matches_float64_reference(loss, kw, scale):
    torch.manual_seed(5)
    x = torch.randn(16, 10) * scale
    t = dense_targets(16, 10).float()
    x32 = x.clone().requires_grad_()
    terms = call(loss, x32, t, reduction="none", **kw)
    terms.sum().backward()
    x64 = x.double().requires_grad_()
    expected = autograd_reference(x64, t.double(), loss, **kw)
    expected.sum().backward()
    assert torch.isfinite(terms).all() and torch.isfinite(x32.grad).all()
    torch.testing.assert_close(terms.double(), expected, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(x32.grad.double(), x64.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_half_precision_at_paper_gammas(dtype, scale):
    x = (torch.randn(32, 12) * scale).to(dtype).requires_grad_()
    t = dense_targets(32, 12).float()
    for loss, kw in VARIANTS:
        assert_accumulates_in_float32(lambda v, loss=loss, kw=kw: call(loss, v, t, **kw), x)


@settings(max_examples=30, deadline=None)
@given(shift=st.floats(-1e3, 1e3), seed=st.integers(0, 2**16))
def test_values_are_independent_of_where_the_logits_sit(shift, seed):
    """C-LSEP and LSEP depend on logit differences only; a large shift must not change them."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 5, dtype=torch.float64, generator=generator)
    t = random_targets(6, 5, generator=generator)
    for class_wise in (False, True):
        torch.testing.assert_close(lsep_loss(x + shift, t, class_wise=class_wise),
                                   lsep_loss(x, t, class_wise=class_wise))


# ---------------------------------------------------------------- modules and errors
def test_modules_match_functions():
    x, t = torch.randn(5, 4), dense_targets(5, 4).float()
    torch.testing.assert_close(LSEPLoss(gamma=2.0, class_wise=True)(x, t), lsep_loss(x, t, 2.0, True))
    torch.testing.assert_close(ZLPRLoss(reduction="sum")(x, t), zlpr_loss(x, t, reduction="sum"))
    torch.testing.assert_close(DRLoss(gamma2=10.0, constraint="both")(x, t), dr_loss(x, t, 5.0, 10.0, "both"))
    assert "gamma2=10.0" in repr(DRLoss(gamma2=10.0))


@pytest.mark.parametrize("call_bad,match", [
    (lambda x, t: lsep_loss(x, t[:, :3]), "shape"),
    (lambda x, t: lsep_loss(x[0], t[0]), r"\[B, C\]"),
    (lambda x, t: zlpr_loss(x, t * 0.5), "targets must be 1"),
    (lambda x, t: dr_loss(x, t + 1), "targets must be 1"),
    (lambda x, t: lsep_loss(x, torch.where(t == 1, math.nan, t)), "targets must be 1"),
    (lambda x, t: lsep_loss(x.long(), t), "floating"),
    (lambda x, t: lsep_loss(x, t, gamma=-1.0), "gamma"),
    (lambda x, t: lsep_loss(x, t, gamma=0.0), "gamma"),
    (lambda x, t: dr_loss(x, t, gamma1=-5.0), "gamma1"),
    (lambda x, t: dr_loss(x, t, gamma2=-7.0), "gamma2"),
    (lambda x, t: dr_loss(x, t, constraint="NGC"), "constraint"),
    (lambda x, t: zlpr_loss(x, t, reduction="avg"), "reduction"),
    (lambda x, t: DRLoss(constraint="ngc"), "constraint"),
    (lambda x, t: LSEPLoss(gamma=-2.0), "gamma"),
    (lambda x, t: ZLPRLoss(reduction="total"), "reduction"),
])
def test_bad_input_raises_value_error(call_bad, match):
    x, t = torch.randn(4, 5), dense_targets(4, 5).float()
    with pytest.raises(ValueError, match=match):
        call_bad(x, t)
