"""Tests for mlteach.losses.balanced: focal, asymmetric (ASL) and distribution-balanced (DB).

The references below are written plainly, one entry at a time with Python's ``math`` (values)
or as probability-space torch formulas differentiated by autograd (gradients), in float64,
and compared with the log-space implementation on random inputs.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlteach.losses import (
    AsymmetricLoss,
    DistributionBalancedLoss,
    FocalLoss,
    asymmetric_loss,
    distribution_balanced_loss,
    focal_loss,
)

from .conftest import BALANCED_LOSSES, entries, random_problem, sigmoid

SETTINGS = settings(max_examples=30, deadline=None)


def focal_reference(logits, targets, gamma, alpha):
    """-alpha_t (1 - p_t)^gamma log p_t per entry; unknown (-1) counts as negative."""
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        p = sigmoid(float(logits[i, j]))
        positive = targets[i, j] == 1
        p_t = p if positive else 1 - p
        alpha_t = 1.0 if alpha is None else (alpha if positive else 1 - alpha)
        out[i, j] = -alpha_t * (1 - p_t) ** gamma * math.log(p_t)
    return out


def asl_reference(logits, targets, gamma_neg, gamma_pos, clip, eps):
    """The ASL paper's loss in probability space, per entry."""
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        p = sigmoid(float(logits[i, j]))
        if targets[i, j] == 1:
            out[i, j] = -((1 - p) ** gamma_pos) * math.log(max(p, eps))
        else:
            p_m = max(p - clip, 0.0)
            out[i, j] = -(p_m ** gamma_neg) * math.log(max(1 - p_m, eps))
    return out


def asl_autograd_reference(logits, targets, gamma_neg, gamma_pos, clip, eps):
    """Same loss as torch ops, focusing weights detached: autograd gives the reference gradient."""
    p = torch.sigmoid(logits)
    y = (targets == 1).to(logits.dtype)
    p_m = (p - clip).clamp_min(0)
    pos_weight = (1 - p).pow(gamma_pos).detach()
    neg_weight = p_m.pow(gamma_neg).detach()
    return -(y * pos_weight * torch.log(p.clamp_min(eps))
             + (1 - y) * neg_weight * torch.log((1 - p_m).clamp_min(eps)))


def db_reference(logits, targets, counts, num_samples, neg_scale=5.0, init_bias=0.05,
                 map_alpha=0.1, map_beta=10.0, map_gamma=0.3, focal_gamma=2.0, balance_param=2.0):
    """DB focal per entry, from the description in the spec (unknown counts as negative)."""
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        expected = sum(1.0 / counts[k] for k in range(len(counts)) if targets[i, k] == 1)
        ratio = math.inf if expected == 0 else (1.0 / counts[j]) / expected
        weight = (1.0 if ratio == math.inf else sigmoid(map_beta * (ratio - map_gamma))) + map_alpha
        bias = -(init_bias / neg_scale) * math.log(num_samples / counts[j] - 1)
        x = float(logits[i, j])
        if targets[i, j] == 1:
            z = x + bias
            bce = -math.log(sigmoid(z))
        else:
            z = neg_scale * (x + bias)
            bce = -math.log(sigmoid(-z))  # 1 - sigmoid(z), without cancellation
            weight = weight / neg_scale
        p_t = math.exp(-bce)
        out[i, j] = balance_param * (1 - p_t) ** focal_gamma * weight * bce
    return out


def random_counts(seed, cols, num_samples=200):
    generator = torch.Generator().manual_seed(seed + 1)
    return torch.randint(1, num_samples, (cols,), generator=generator).tolist()


shapes = st.tuples(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 6))


# ---------------------------------------------------------------- agreement with references

@SETTINGS
@given(shapes, st.sampled_from([0.0, 0.5, 2.0]), st.sampled_from([None, 0.25, 0.75]))
def test_focal_matches_reference(shape, gamma, alpha):
    logits, targets = random_problem(*shape)
    got = focal_loss(logits, targets, gamma=gamma, alpha=alpha, reduction="none")
    torch.testing.assert_close(got, focal_reference(logits, targets, gamma, alpha))
    mean = focal_loss(logits, targets, gamma=gamma, alpha=alpha)
    torch.testing.assert_close(mean, got.sum() / targets.numel())


@SETTINGS
@given(shapes, st.sampled_from([0.0, 1.0, 4.0]), st.sampled_from([0.0, 1.0]),
       st.sampled_from([0.0, 0.05, 0.2]))
def test_asl_matches_reference(shape, gamma_neg, gamma_pos, clip):
    logits, targets = random_problem(*shape)
    got = asymmetric_loss(logits, targets, gamma_neg, gamma_pos, clip, reduction="none")
    want = asl_reference(logits, targets, gamma_neg, gamma_pos, clip, 1e-8)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(asymmetric_loss(logits, targets, gamma_neg, gamma_pos, clip,
                                               reduction="sum"), want.sum())
    torch.testing.assert_close(asymmetric_loss(logits, targets, gamma_neg, gamma_pos, clip),
                               want.sum() / targets.numel())


@SETTINGS
@given(shapes, st.sampled_from(["voc", "coco", "gamma0"]))
def test_db_matches_reference(shape, preset):
    logits, targets = random_problem(*shape)
    counts = random_counts(shape[0], targets.shape[1])
    options = {"voc": {}, "coco": {"neg_scale": 2.0, "map_gamma": 0.2},
               "gamma0": {"focal_gamma": 0.0, "balance_param": 1.0, "neg_scale": 1.0}}[preset]
    got = distribution_balanced_loss(logits, targets, counts, 200, reduction="none", **options)
    want = db_reference(logits, targets, counts, 200, **options)
    torch.testing.assert_close(got, want)


def test_db_weight_and_bias_against_hand_computation():
    # One sample, positives {0}, counts n = (10, 40), N = 100, kappa 0.05, lambda 5,
    # alpha 0.1, beta 10, mu 0.3. Sum over positives of 1/n_j = 1/10, so
    #   r = (1/10 / 0.1, 1/40 / 0.1) = (1, 0.25)
    #   w = (sigmoid(10 * 0.7) + 0.1, sigmoid(10 * -0.05) + 0.1)
    #   b = -(0.05 / 5) * (log(100/10 - 1), log(100/40 - 1)) = -0.01 * (log 9, log 1.5)
    w = (1 / (1 + math.exp(-7.0)) + 0.1, 1 / (1 + math.exp(0.5)) + 0.1)
    assert w[0] == pytest.approx(1.0990889, abs=1e-7)
    assert w[1] == pytest.approx(0.4775407, abs=1e-7)
    b = (-0.01 * math.log(9.0), -0.01 * math.log(1.5))
    x = (0.7, -0.4)
    logits = torch.tensor([x], dtype=torch.float64)
    targets = torch.tensor([[1.0, 0.0]])
    # gamma 0 and balance 1 leave w * BCE: positive -log sigmoid(x + b),
    # negative (w / lambda) * softplus(lambda (x + b)), the negative-tolerant form.
    got = distribution_balanced_loss(logits, targets, [10, 40], 100, focal_gamma=0.0,
                                     balance_param=1.0, reduction="none")
    want = torch.tensor([[w[0] * math.log1p(math.exp(-(x[0] + b[0]))),
                          w[1] / 5 * math.log1p(math.exp(5 * (x[1] + b[1])))]],
                        dtype=torch.float64)
    torch.testing.assert_close(got, want)
    # the bias lowers negative losses relative to an unbiased logit:
    # softplus(5 (x + b)) < softplus(5 x)
    assert got[0, 1] < w[1] / 5 * math.log1p(math.exp(5 * x[1]))


def test_db_sample_without_positive_gets_weight_one_plus_alpha():
    logits = torch.tensor([[0.3, -0.2, 1.0]], dtype=torch.float64)
    targets = torch.tensor([[0.0, -1.0, 0.0]])
    counts, lam = [5, 20, 50], 5.0
    got = distribution_balanced_loss(logits, targets, counts, 100, focal_gamma=0.0,
                                     balance_param=1.0, reduction="none")
    for j in range(3):
        bias = -(0.05 / lam) * math.log(100 / counts[j] - 1)
        want = 1.1 / lam * math.log1p(math.exp(lam * (float(logits[0, j]) + bias)))
        assert float(got[0, j]) == pytest.approx(want, rel=1e-12)


def test_db_presets():
    counts, n = [300, 40, 7, 2], 500
    voc = DistributionBalancedLoss.voc_lt(counts, n)
    coco = DistributionBalancedLoss.coco_lt(counts, n)
    assert (voc.neg_scale, voc.init_bias, voc.map_alpha, voc.map_beta, voc.map_gamma,
            voc.focal_gamma, voc.balance_param) == (5.0, 0.05, 0.1, 10.0, 0.3, 2.0, 2.0)
    assert (coco.neg_scale, coco.map_gamma) == (2.0, 0.2)
    assert (coco.init_bias, coco.map_alpha, coco.map_beta, coco.focal_gamma,
            coco.balance_param) == (0.05, 0.1, 10.0, 2.0, 2.0)
    logits, targets = random_problem(3, 6, 4)
    torch.testing.assert_close(voc(logits, targets),
                               distribution_balanced_loss(logits, targets, counts, n))
    want = db_reference(logits, targets, counts, n, neg_scale=2.0, map_gamma=0.2).mean()
    torch.testing.assert_close(coco(logits, targets), want)
    assert not torch.allclose(voc(logits, targets), coco(logits, targets))


# ---------------------------------------------------------------- gradients

def test_gradcheck_float64():
    logits, targets = random_problem(7, 3, 5, scale=2.0)
    logits.requires_grad_(True)
    counts = [30, 5, 12, 60, 2]
    cases = [
        lambda x: focal_loss(x, targets),
        lambda x: focal_loss(x, targets, gamma=0.5, alpha=0.25),
        # ASL's true derivative only when its (detached) focusing weights are constant, gamma 0
        lambda x: asymmetric_loss(x, targets, gamma_neg=0.0, gamma_pos=0.0),
        lambda x: asymmetric_loss(x, targets, gamma_neg=0.0, gamma_pos=0.0, clip=0.0),
        lambda x: distribution_balanced_loss(x, targets, counts, 100),
        lambda x: distribution_balanced_loss(x, targets, counts, 100, reduction="none"),
        lambda x: FocalLoss(gamma=1.5, reduction="sum")(x, targets),
    ]
    for loss in cases:
        assert torch.autograd.gradcheck(loss, (logits,))


@SETTINGS
@given(shapes, st.sampled_from([0.0, 1.5, 3.0]))
def test_focal_gradient_matches_autograd_of_reference(shape, gamma):
    logits, targets = random_problem(*shape)
    x = logits.clone().requires_grad_(True)
    focal_loss(x, targets, gamma=gamma, alpha=0.3, reduction="sum").backward()
    x_ref = logits.clone().requires_grad_(True)
    p = torch.sigmoid(x_ref)
    y = (targets == 1).to(x_ref.dtype)
    p_t = y * p + (1 - y) * (1 - p)
    alpha_t = y * 0.3 + (1 - y) * 0.7
    (-alpha_t * (1 - p_t) ** gamma * torch.log(p_t)).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


@SETTINGS
@given(shapes, st.sampled_from([(4.0, 0.0, 0.05), (2.0, 1.0, 0.2), (1.0, 0.0, 0.0)]))
def test_asl_gradient_treats_focusing_weight_as_constant(shape, params):
    gamma_neg, gamma_pos, clip = params
    logits, targets = random_problem(*shape)
    x = logits.clone().requires_grad_(True)
    asymmetric_loss(x, targets, gamma_neg, gamma_pos, clip, reduction="sum").backward()
    x_ref = logits.clone().requires_grad_(True)
    asl_autograd_reference(x_ref, targets, gamma_neg, gamma_pos, clip, 1e-8).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_asl_gradient_formula_by_hand():
    # Negative at x = 1 with m = 0.05, gamma_neg = 2: gradient p_m^2 * p (1 - p) / (1 - p + m),
    # with the weight held constant. Positive at x = -1, gamma_pos = 1: (1 - p) * (p - 1).
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64, requires_grad=True)
    asymmetric_loss(x, torch.tensor([[0.0, 1.0]]), gamma_neg=2.0, gamma_pos=1.0, clip=0.05,
                    reduction="sum").backward()
    p, q = sigmoid(1.0), sigmoid(-1.0)
    assert float(x.grad[0, 0]) == pytest.approx((p - 0.05) ** 2 * p * (1 - p) / (1 - p + 0.05))
    assert float(x.grad[0, 1]) == pytest.approx((1 - q) * (q - 1))


def test_asl_clip_zeroes_easy_negatives():
    # p <= m: the shifted probability is 0, so the negative term and its gradient vanish
    # (even with gamma_neg = 0, where only the clip acts).
    m = 0.2
    x = torch.tensor([[math.log(m / (1 - m)) - 0.5, math.log(m / (1 - m)) + 0.5]],
                     dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[0.0, 0.0]])
    values = asymmetric_loss(x, targets, gamma_neg=0.0, clip=m, reduction="none")
    assert float(values.detach()[0, 0]) == 0.0 and float(values.detach()[0, 1]) > 0.0
    p = sigmoid(float(x[0, 1].detach()))
    assert float(values.detach()[0, 1]) == pytest.approx(-math.log(1 - (p - m)))
    values.sum().backward()
    assert float(x.grad[0, 0]) == 0.0 and float(x.grad[0, 1]) > 0.0


def test_asl_log_floor_at_eps():
    # Without clip, -log(1 - p) is capped at -log(eps) and its gradient is zero beyond.
    x = torch.tensor([[40.0, -40.0]], dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[0.0, 1.0]])
    values = asymmetric_loss(x, targets, gamma_neg=0.0, clip=0.0, reduction="none")
    torch.testing.assert_close(values, torch.full((1, 2), -math.log(1e-8), dtype=torch.float64))
    values.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_db_gradient_matches_autograd_of_reference():
    logits, targets = random_problem(11, 4, 6)
    counts = random_counts(11, 6)
    x = logits.clone().requires_grad_(True)
    distribution_balanced_loss(x, targets, counts, 200, reduction="sum").backward()
    x_ref = logits.clone().requires_grad_(True)
    c = torch.tensor(counts, dtype=torch.float64)
    y = (targets == 1).to(torch.float64)
    ratio = (1 / c) / (y @ (1 / c)).unsqueeze(1)
    weight = torch.sigmoid(10 * (ratio - 0.3)) + 0.1
    bias = -(0.05 / 5) * torch.log(200 / c - 1)
    z = torch.where(y == 1, x_ref + bias, 5 * (x_ref + bias))
    bce = -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z)))
    weight = torch.where(y == 1, weight, weight / 5)
    (2 * (1 - torch.exp(-bce)) ** 2 * weight * bce).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


# ---------------------------------------------------------------- edge cases and stability

@pytest.mark.parametrize("loss", BALANCED_LOSSES.values(), ids=BALANCED_LOSSES.keys())
def test_stable_for_huge_logits_float32(loss):
    x = torch.tensor([[1e4, -1e4, 1e4], [-1e4, 1e4, -1e4]], requires_grad=True)
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, -1.0, -1.0]])
    value = loss(x, targets)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("loss", [BALANCED_LOSSES["focal"], BALANCED_LOSSES["db"]], ids=["focal", "db"])
def test_confidently_wrong_positive_keeps_its_gradient(loss):
    # exact log-sigmoid: no log(p + eps) cap, so x = -1e4 on a positive still gets pushed up
    # (ASL differs on purpose: its log is floored at log(eps), see test_asl_log_floor_at_eps)
    x = torch.tensor([[-1e4, 0.0]], requires_grad=True)
    loss(x, torch.tensor([[1.0, 0.0]])).backward()
    assert x.grad[0, 0] < -0.1


def test_huge_logits_exact_values():
    x = torch.tensor([[-1e4, 1e4]])
    targets = torch.tensor([[1.0, 0.0]])
    # gamma 0 focal is BCE: log(1 + e^1e4) = 1e4 exactly in float32, not a capped log(eps)
    torch.testing.assert_close(focal_loss(x, targets, gamma=0.0, reduction="none"),
                               torch.tensor([[1e4, 1e4]]))


def test_db_does_not_modify_counts():
    counts = torch.tensor([5.0, 9.0, 2.0])
    logits, targets = random_problem(1, 2, 3, dtype=torch.float32)
    distribution_balanced_loss(logits, targets, counts, 10)
    assert torch.equal(counts, torch.tensor([5.0, 9.0, 2.0]))


def test_nan_logits_propagate():
    x = torch.tensor([[float("nan"), 0.0]])
    assert torch.isnan(focal_loss(x, torch.tensor([[1.0, 0.0]])))


def test_modules_match_functions():
    logits, targets = random_problem(4, 3, 5)
    torch.testing.assert_close(FocalLoss(gamma=1.0, alpha=0.4)(logits, targets),
                               focal_loss(logits, targets, gamma=1.0, alpha=0.4))
    torch.testing.assert_close(AsymmetricLoss(2.0, 1.0, 0.1, reduction="sum")(logits, targets),
                               asymmetric_loss(logits, targets, 2.0, 1.0, 0.1, reduction="sum"))
    counts = [20, 3, 8, 1, 40]
    module = DistributionBalancedLoss(counts, 50, reduction="none")
    torch.testing.assert_close(module(logits, targets),
                               distribution_balanced_loss(logits, targets, counts, 50,
                                                          reduction="none"))
    assert module.class_counts.dtype == torch.float64 and "num_samples=50" in repr(module)


# ---------------------------------------------------------------- errors

GOOD_X, GOOD_T = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("call, message", [
    (lambda: focal_loss(GOOD_X, GOOD_T[:, :2]), "shape"),
    (lambda: focal_loss(GOOD_X, GOOD_T * 2), "targets must be 1"),
    (lambda: focal_loss(GOOD_X, GOOD_T * 0.5), "targets must be 1"),
    (lambda: focal_loss(GOOD_X.long(), GOOD_T), "floating"),
    (lambda: focal_loss(GOOD_X, GOOD_T, gamma=-1.0), "gamma"),
    (lambda: focal_loss(GOOD_X, GOOD_T, alpha=1.5), "alpha"),
    (lambda: focal_loss(GOOD_X, GOOD_T, reduction="avg"), "reduction"),
    (lambda: asymmetric_loss(GOOD_X, GOOD_T, gamma_neg=-4.0), "gamma_neg"),
    (lambda: asymmetric_loss(GOOD_X, GOOD_T, gamma_pos=-0.1), "gamma_pos"),
    (lambda: asymmetric_loss(GOOD_X, GOOD_T, clip=1.0), "clip"),
    (lambda: asymmetric_loss(GOOD_X, GOOD_T, eps=0.0), "eps"),
    (lambda: asymmetric_loss(GOOD_X, torch.full((2, 3), float("nan"))), "targets must be 1"),
    (lambda: asymmetric_loss(GOOD_X, GOOD_T, reduction="batchmean"), "reduction"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [0, 3, 4], 10), "0 < n_c < num_samples"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [10, 3, 4], 10), "0 < n_c < num_samples"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [1, 3], 10), "vector of 3 counts"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [1, 3, 4], 0), "num_samples"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [1, 3, 4], 10, focal_gamma=-2.0),
     "focal_gamma"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [1, 3, 4], 10, neg_scale=0.0),
     "neg_scale"),
    (lambda: distribution_balanced_loss(GOOD_X, GOOD_T, [1, 3, 4], 10, reduction="max"),
     "reduction"),
    (lambda: DistributionBalancedLoss([5, 0], 10), "0 < n_c < num_samples"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
