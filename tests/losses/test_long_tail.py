"""Tests for mlteach.losses.long_tail: RW, CB focal, LDAM and BalPoE.

The references are written from the sources' definitions, one entry at a time with Python's
``math`` in float64: RW's inverse square-root frequency weights (DR paper, Sec. 4.2), Cui et
al.'s effective number of samples E_n = (1 - beta^n) / (1 - beta) and focal term, Cao et al.'s
margins C / n^(1/4), and BalPoE's logit adjustment written as a two-outcome softmax with priors
(pi_c, 1 - pi_c) -- not as the log-odds shift the implementation uses.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlteach.losses import (
    BalPoELoss,
    ClassBalancedFocalLoss,
    LDAMLoss,
    ReweightedBCELoss,
    balpoe_loss,
    balpoe_prediction,
    class_balanced_focal_loss,
    class_balanced_weights,
    inverse_sqrt_frequency_weights,
    ldam_loss,
    ldam_margins,
    log_prior_odds,
    reweighted_bce_loss,
)
from mlteach.losses import _checks

from .conftest import assert_accumulates_in_float32, entries, random_problem, sigmoid

SETTINGS = settings(max_examples=25, deadline=None)
shapes = st.tuples(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 6))


def random_counts(seed, cols, low=1, high=500):
    generator = torch.Generator().manual_seed(seed + 17)
    return torch.randint(low, high, (cols,), generator=generator).tolist()


def bce_entry(x, positive):
    """-log sigmoid(x) for a positive, -log(1 - sigmoid(x)) for a negative, without cancellation."""
    return -math.log(sigmoid(x)) if positive else -math.log(sigmoid(-x))


# ---------------------------------------------------------------- reference definitions
def rw_reference(logits, targets, counts):
    """w_c BCE per entry, w_c proportional to 1 / sqrt(n_c), mean weight 1; -1 as negative."""
    raw = [1 / math.sqrt(n) for n in counts]
    weights = [w / (sum(raw) / len(raw)) for w in raw]
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        out[i, j] = weights[j] * bce_entry(float(logits[i, j]), targets[i, j] == 1)
    return out


def cb_focal_reference(logits, targets, counts, beta, gamma):
    """Cui et al.: weight 1 / E_n with E_n = (1 - beta^n) / (1 - beta), weights summing to C,
    times the focal term -(1 - p_t)^gamma log p_t; -1 as negative."""
    inverse_effective = [(1 - beta) / (1 - beta ** n) for n in counts]
    weights = [w * len(counts) / sum(inverse_effective) for w in inverse_effective]
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        p = sigmoid(float(logits[i, j]))
        p_t = p if targets[i, j] == 1 else 1 - p
        out[i, j] = -weights[j] * (1 - p_t) ** gamma * math.log(p_t)
    return out


def ldam_reference(logits, targets, counts, max_margin):
    """Margins Delta_c = K / n_c^(1/4), K set so that the rarest class gets max_margin; a
    positive's logit minus its class margin, BCE; negatives plain BCE."""
    constant = max_margin * min(counts) ** 0.25
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        x = float(logits[i, j])
        out[i, j] = bce_entry(x - constant / counts[j] ** 0.25, True) if targets[i, j] == 1 else bce_entry(x, False)
    return out


def balpoe_reference(experts, targets, counts, num_samples, taus):
    """Each expert's binary problem as a softmax over the outcomes (present, absent) with logits
    (z, 0), each shifted by tau times the log of its prior (pi_c, 1 - pi_c); then cross-entropy."""
    out = torch.zeros(experts.shape, dtype=torch.float64)
    for e, tau in enumerate(taus):
        for i, j in entries(targets):
            prior = counts[j] / num_samples
            present = float(experts[e, i, j]) + tau * math.log(prior)
            absent = tau * math.log(1 - prior)
            normaliser = max(present, absent) + math.log(math.exp(present - max(present, absent))
                                                         + math.exp(absent - max(present, absent)))
            out[e, i, j] = normaliser - (present if targets[i, j] == 1 else absent)
    return out


# ---------------------------------------------------------------- agreement with references
@SETTINGS
@given(shapes)
def test_rw_matches_reference(shape):
    logits, targets = random_problem(*shape)
    counts = random_counts(shape[0], targets.shape[1])
    want = rw_reference(logits, targets, counts)
    torch.testing.assert_close(reweighted_bce_loss(logits, targets, counts, reduction="none"), want)
    torch.testing.assert_close(reweighted_bce_loss(logits, targets, counts), want.sum() / targets.numel())
    torch.testing.assert_close(reweighted_bce_loss(logits, targets, counts, reduction="sum"), want.sum())


@SETTINGS
@given(shapes, st.sampled_from([0.0, 0.9, 0.999, 0.9999]), st.sampled_from([0.0, 0.5, 2.0]))
def test_cb_focal_matches_reference(shape, beta, gamma):
    logits, targets = random_problem(*shape)
    counts = random_counts(shape[0], targets.shape[1])
    want = cb_focal_reference(logits, targets, counts, beta, gamma)
    got = class_balanced_focal_loss(logits, targets, counts, beta=beta, gamma=gamma, reduction="none")
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(class_balanced_focal_loss(logits, targets, counts, beta=beta, gamma=gamma),
                               want.sum() / targets.numel())


@SETTINGS
@given(shapes, st.sampled_from([0.0, 0.5, 3.0]))
def test_ldam_matches_reference(shape, max_margin):
    logits, targets = random_problem(*shape)
    counts = random_counts(shape[0], targets.shape[1])
    want = ldam_reference(logits, targets, counts, max_margin)
    torch.testing.assert_close(ldam_loss(logits, targets, counts, max_margin, reduction="none"), want)
    torch.testing.assert_close(ldam_loss(logits, targets, counts, max_margin), want.sum() / targets.numel())


@SETTINGS
@given(shapes, st.sampled_from([(0.0, 1.0, 2.0), (1.0,), (-0.5, 2.5)]))
def test_balpoe_matches_two_outcome_softmax_reference(shape, taus):
    seed, rows, cols = shape
    _, targets = random_problem(seed, rows, cols)
    experts = torch.randn(len(taus), rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    counts = random_counts(seed, cols, high=90)
    want = balpoe_reference(experts, targets, counts, 100, taus)
    got = balpoe_loss(experts, targets, counts, 100, taus=taus, reduction="none")
    assert got.shape == (len(taus), rows, cols)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(balpoe_loss(experts, targets, counts, 100, taus=taus), want.mean())


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_balpoe_blocks_of_rows_give_the_whole_tensor_result(reduction, monkeypatch):
    # Large [E, B, C] inputs are computed in blocks of rows of every expert at once, the gradient
    # written into strided slices of the whole; blocks of 7 entries (one row here) must not
    # change values or gradients.
    _, targets = random_problem(8, 13, 9)
    experts = torch.randn(3, 13, 9, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    counts = random_counts(8, 9, high=18)

    def value_and_gradient():
        x = experts.clone().requires_grad_(True)
        value = balpoe_loss(x, targets, counts, 20, reduction=reduction)
        value.backward(torch.ones_like(value))
        return value.detach(), x.grad

    whole = value_and_gradient()
    monkeypatch.setattr(_checks, "BLOCK_ENTRIES", 7)
    assert len(_checks.row_blocks(experts)) == 13
    blocks = value_and_gradient()
    torch.testing.assert_close(blocks[0], whole[0])  # a sum of block sums: rounding may differ
    torch.testing.assert_close(blocks[1], whole[1], rtol=0, atol=0)  # entry by entry: identical


# ---------------------------------------------------------------- weights, margins, shifts
def test_weights_against_hand_computation():
    # n = (100, 25, 4): 1/sqrt(n) = (0.1, 0.2, 0.5), mean 0.8/3, so w = (0.375, 0.75, 1.875)
    torch.testing.assert_close(inverse_sqrt_frequency_weights([100, 25, 4]),
                               torch.tensor([0.375, 0.75, 1.875], dtype=torch.float64))
    # beta = 0.5, n = (1, 2): 1/E_n = 0.5/0.5 = 1 and 0.5/0.75 = 2/3; summing to 2: (1.2, 0.8)
    torch.testing.assert_close(class_balanced_weights([1, 2], beta=0.5),
                               torch.tensor([1.2, 0.8], dtype=torch.float64))
    # margins proportional to n^(-1/4): n = (81, 1) gives (1/3, 1) times max_margin
    torch.testing.assert_close(ldam_margins([81, 1], max_margin=0.6), torch.tensor([0.2, 0.6], dtype=torch.float64))
    torch.testing.assert_close(log_prior_odds([20, 50], 100), torch.tensor([math.log(0.25), 0.0], dtype=torch.float64))


def test_class_balanced_weights_interpolate_between_equal_and_inverse_frequency():
    counts = [1000, 100, 10, 1]
    torch.testing.assert_close(class_balanced_weights(counts, beta=0.0), torch.ones(4, dtype=torch.float64))
    inverse = torch.tensor([1 / n for n in counts], dtype=torch.float64)
    near_one = class_balanced_weights(counts, beta=1 - 1e-9)
    torch.testing.assert_close(near_one, inverse * 4 / inverse.sum(), rtol=1e-5, atol=0)
    middle = class_balanced_weights(counts, beta=0.99)
    assert bool((middle[1:] > middle[:-1]).all())  # rarer classes weigh more
    assert float(middle.sum()) == pytest.approx(4.0)
    assert float(middle[3] / middle[0]) < 1000  # but less than inverse frequency: effective numbers saturate


def test_equal_counts_and_zero_settings_give_plain_losses():
    logits, targets = random_problem(5, 4, 6)
    bce = F.binary_cross_entropy_with_logits(logits, targets.clamp(min=0).to(logits.dtype))
    torch.testing.assert_close(reweighted_bce_loss(logits, targets, [7] * 6), bce)
    torch.testing.assert_close(class_balanced_focal_loss(logits, targets, [3, 9, 1, 4, 4, 2], beta=0.0, gamma=0.0),
                               bce)
    torch.testing.assert_close(ldam_loss(logits, targets, [3, 9, 1, 4, 4, 2], max_margin=0.0), bce)
    torch.testing.assert_close(balpoe_loss(logits.unsqueeze(0), targets, [3, 9, 1, 4, 4, 2], 10, taus=(0.0,)), bce)


def test_unknown_targets_count_as_negatives():
    logits, targets = random_problem(2, 5, 4)
    assert bool((targets == -1).any())
    counts = [30, 5, 12, 60]
    for loss in (lambda t: reweighted_bce_loss(logits, t, counts),
                 lambda t: class_balanced_focal_loss(logits, t, counts), lambda t: ldam_loss(logits, t, counts),
                 lambda t: balpoe_loss(torch.stack([logits, -logits]), t, counts, 100, taus=(0.5, 1.5))):
        torch.testing.assert_close(loss(targets), loss(targets.clamp(min=0)))


def test_ldam_margin_acts_on_positives_of_rare_classes_only():
    logits = torch.zeros(2, 2, dtype=torch.float64)
    targets = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    values = ldam_loss(logits, targets, [16, 1], max_margin=1.0, reduction="none")
    # positives: softplus(Delta_c) with Delta = (0.5, 1); negatives: softplus(0) = log 2
    torch.testing.assert_close(values, torch.tensor([[math.log1p(math.exp(0.5)), math.log1p(math.e)],
                                                     [math.log(2), math.log(2)]], dtype=torch.float64))


def test_balpoe_experts_fit_shifted_priors_and_their_mean_is_prior_free():
    # One class present in a fraction pi of the samples; expert e has one constant logit z_e. The
    # mean BCE of z + tau b against Bernoulli(pi) labels is stationary where sigmoid(z + tau b) =
    # pi, i.e. z = (1 - tau) b. With taus (0, 1, 2) the experts sit at b, 0, -b: mean 0.
    pi, taus = 0.1, (0.0, 1.0, 2.0)
    b = math.log(pi / (1 - pi))
    targets = torch.tensor([[1.0]] * 10 + [[0.0]] * 90)
    constants = torch.tensor([(1 - tau) * b for tau in taus], dtype=torch.float64).view(3, 1, 1).requires_grad_(True)
    balpoe_loss(constants.expand(3, 100, 1), targets, [10], 100, taus=taus).backward()
    torch.testing.assert_close(constants.grad, torch.zeros_like(constants), atol=1e-15, rtol=0)
    prediction = balpoe_prediction(constants.detach().expand(3, 100, 1))
    torch.testing.assert_close(prediction, torch.zeros(100, 1, dtype=torch.float64), atol=1e-15, rtol=0)
    unshifted = constants.detach().clone().requires_grad_(True)
    balpoe_loss(unshifted.expand(3, 100, 1), targets, [10], 100, taus=(0.0, 0.0, 0.0)).backward()
    assert unshifted.grad[0].item() == pytest.approx(0.0, abs=1e-15)  # without shifts only expert 0 is at rest
    assert bool((unshifted.grad[1:].abs() > 1e-3).all())


# ---------------------------------------------------------------- gradients
def test_gradcheck_float64():
    logits, targets = random_problem(7, 3, 5, scale=2.0)
    logits.requires_grad_(True)
    experts = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    counts = [30, 5, 12, 60, 2]
    cases = [
        (lambda x: reweighted_bce_loss(x, targets, counts), logits),
        (lambda x: class_balanced_focal_loss(x, targets, counts), logits),
        (lambda x: class_balanced_focal_loss(x, targets, counts, beta=0.9, gamma=0.5, reduction="none"), logits),
        (lambda x: ldam_loss(x, targets, counts, max_margin=2.0, reduction="sum"), logits),
        (lambda x: balpoe_loss(x, targets, counts, 100, taus=(0.0, 2.0)), experts),
        (lambda x: ClassBalancedFocalLoss(counts, gamma=1.5, reduction="sum")(x, targets), logits),
    ]
    for loss, x in cases:
        assert torch.autograd.gradcheck(loss, (x,))
        assert torch.autograd.gradgradcheck(loss, (x,))


@SETTINGS
@given(shapes, st.sampled_from([0.0, 1.5, 3.0]))
def test_cb_focal_gradient_matches_autograd_of_probability_space_reference(shape, gamma):
    logits, targets = random_problem(*shape)
    counts = random_counts(shape[0], targets.shape[1])
    x = logits.clone().requires_grad_(True)
    class_balanced_focal_loss(x, targets, counts, beta=0.99, gamma=gamma, reduction="sum").backward()
    x_ref = logits.clone().requires_grad_(True)
    p = torch.sigmoid(x_ref)
    y = (targets == 1).to(x_ref.dtype)
    p_t = y * p + (1 - y) * (1 - p)
    effective = (1 - torch.tensor(0.99, dtype=torch.float64) ** torch.tensor(counts, dtype=torch.float64)) / 0.01
    weights = (1 / effective) * len(counts) / (1 / effective).sum()
    (-weights * (1 - p_t) ** gamma * torch.log(p_t)).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


# ---------------------------------------------------------------- stability and precision
COUNTS = [40, 7, 3]
LOSSES = {
    "RW": lambda x, t: reweighted_bce_loss(x, t, COUNTS),
    "CB focal": lambda x, t: class_balanced_focal_loss(x, t, COUNTS),
    "CB focal gamma 0.5": lambda x, t: class_balanced_focal_loss(x, t, COUNTS, beta=0.9, gamma=0.5),
    "LDAM": lambda x, t: ldam_loss(x, t, COUNTS, max_margin=15.0),
    "BalPoE": lambda x, t: balpoe_loss(torch.stack([x, 0.5 * x, -x]), t, COUNTS, 50),
}


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_finite_for_huge_logits_float32(loss):
    x = torch.tensor([[1e4, -1e4, 1e4], [-1e4, 1e4, -1e4]], requires_grad=True)
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, -1.0, -1.0]])
    value = loss(x, targets)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(x.grad).all()
    # a confidently wrong positive (x = -1e4, target 1) keeps a full-size gradient: exact log-sigmoid
    assert x.grad[0, 1] < -0.01


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_half_precision_accumulates_in_float32(loss, dtype):
    logits, targets = random_problem(3, 4, 3, dtype=dtype)
    targets[0, 0] = 1.0
    assert_accumulates_in_float32(lambda x: loss(x, targets), logits.clone().requires_grad_(True))
    big = torch.tensor([[60000.0, -60000.0, 3.0]], dtype=dtype, requires_grad=True)
    value = loss(big, torch.tensor([[1.0, 1.0, 0.0]]))
    (grad,) = torch.autograd.grad(value, big)
    assert torch.isfinite(value) and torch.isfinite(grad).all()


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_float32_matches_float64(loss):
    logits, targets = random_problem(9, 6, 3, scale=20.0)
    got = loss(logits.float(), targets)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), loss(logits, targets), rtol=1e-5, atol=1e-5)


def test_nan_logits_propagate_and_inputs_are_not_modified():
    x = torch.tensor([[float("nan"), 0.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0, -1.0]])
    for loss in LOSSES.values():
        assert torch.isnan(loss(x, targets))
    logits, targets = random_problem(1, 3, 3)
    before_logits, before_targets = logits.clone(), targets.clone()
    counts = torch.tensor([5.0, 9.0, 2.0])
    for loss in LOSSES.values():
        loss(logits, targets)
    class_balanced_focal_loss(logits, targets, counts)
    assert torch.equal(logits, before_logits) and torch.equal(targets, before_targets)
    assert torch.equal(counts, torch.tensor([5.0, 9.0, 2.0]))


# ---------------------------------------------------------------- modules
def test_modules_match_functions():
    logits, targets = random_problem(4, 3, 5)
    counts = [20, 3, 8, 1, 40]
    torch.testing.assert_close(ReweightedBCELoss(counts, reduction="sum")(logits, targets),
                               reweighted_bce_loss(logits, targets, counts, reduction="sum"))
    module = ClassBalancedFocalLoss(counts, beta=0.9, gamma=1.0, reduction="none")
    torch.testing.assert_close(module(logits, targets),
                               class_balanced_focal_loss(logits, targets, counts, 0.9, 1.0, reduction="none"))
    assert module.class_counts.dtype == torch.float64 and "beta=0.9" in repr(module)
    torch.testing.assert_close(LDAMLoss(counts, max_margin=2.0)(logits, targets),
                               ldam_loss(logits, targets, counts, max_margin=2.0))
    experts = torch.stack([logits, 2 * logits])
    balpoe = BalPoELoss(counts, 50, taus=[0.5, 1.5])
    torch.testing.assert_close(balpoe(experts, targets), balpoe_loss(experts, targets, counts, 50, taus=(0.5, 1.5)))
    assert balpoe.taus == (0.5, 1.5) and "num_samples=50" in repr(balpoe)
    assert "class_counts" in dict(balpoe.named_buffers())


# ---------------------------------------------------------------- errors
GOOD_X, GOOD_T = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
EXPERTS = torch.zeros(3, 2, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T, [1, 2]), "vector of 3 counts"),
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T, [1, 0, 2]), "finite number > 0"),
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T, [1, float("nan"), 2]), "finite number > 0"),
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T, ["a", "b", "c"]), "class_counts must be a vector of numbers"),
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T, [[1, 2, 3]]), "vector of counts"),
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T * 2, [1, 2, 3]), "targets must be 1"),
    (lambda: reweighted_bce_loss(GOOD_X.long(), GOOD_T, [1, 2, 3]), "floating"),
    (lambda: reweighted_bce_loss(GOOD_X, GOOD_T, [1, 2, 3], reduction="avg"), "reduction"),
    (lambda: class_balanced_focal_loss(GOOD_X, GOOD_T, [1, 2, 3], beta=1.0), r"beta must be .* in \[0, 1\)"),
    (lambda: class_balanced_focal_loss(GOOD_X, GOOD_T, [1, 2, 3], beta=-0.1), "beta"),
    (lambda: class_balanced_focal_loss(GOOD_X, GOOD_T, [1, 2, 3], gamma=-1.0), r"gamma must be .* in \[0, inf\)"),
    (lambda: class_balanced_focal_loss(GOOD_X, GOOD_T, [-1, 2, 3]), "finite number > 0"),
    (lambda: ldam_loss(GOOD_X, GOOD_T, [1, 2, 3], max_margin=-0.5), r"max_margin must be .* in \[0, inf\)"),
    (lambda: ldam_loss(GOOD_X, GOOD_T, [1, 2]), "vector of 3 counts"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2, 3], 3), "0 < n_c < num_samples = 3"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2, 3], 0), "num_samples"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2, 3], 10, taus=(0.0, 1.0)), "3 experts but taus has 2 values"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2, 3], 10, taus=()), "non-empty sequence"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2, 3], 10, taus=1.0), "non-empty sequence"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2, 3], 10, taus=(0.0, float("inf"), 1.0)), "finite numbers"),
    (lambda: balpoe_loss(GOOD_X, GOOD_T, [1, 2, 3], 10), r"shape \[E, B, C\]"),
    (lambda: balpoe_loss(EXPERTS[:, :, :2], GOOD_T, [1, 2, 3], 10), "shape"),
    (lambda: balpoe_loss(EXPERTS, GOOD_T, [1, 2], 10), "vector of 3 counts"),
    (lambda: balpoe_prediction(GOOD_X), r"\[E, B, C\]"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("make, message", [
    (lambda: ReweightedBCELoss([0, 1]), "ReweightedBCELoss: every class count"),
    (lambda: ReweightedBCELoss([1, 2], reduction="max"), "ReweightedBCELoss: reduction"),
    (lambda: ClassBalancedFocalLoss([1, 2], beta=1.5), "ClassBalancedFocalLoss: beta"),
    (lambda: ClassBalancedFocalLoss([1, 2], gamma=True), "ClassBalancedFocalLoss: gamma"),
    (lambda: LDAMLoss([1, 2], max_margin=float("nan")), "LDAMLoss: max_margin"),
    (lambda: LDAMLoss([], max_margin=1.0), "LDAMLoss: class_counts must be a vector"),
    (lambda: BalPoELoss([5, 10], 10), "BalPoELoss: every class count n_c must satisfy 0 < n_c < num_samples"),
    (lambda: BalPoELoss([5, 8], 10, taus=[]), "BalPoELoss: taus"),
    (lambda: BalPoELoss([5, 8], 10, taus=[0.0, "1"]), "BalPoELoss: taus"),
])
def test_twins_refuse_bad_settings_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
