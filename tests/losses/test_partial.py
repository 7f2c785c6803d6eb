"""Tests for mlteach.losses.partial: AN, DW, LS, N-LS, EntMin, EM (+APL) and Large Loss.

References are written plainly: per-entry loops with Python's ``math`` for values, a
probability-space torch formula differentiated by autograd for gradients (float64), sorted
Python lists for the Large Loss selection and the APL step.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlteach.losses import (
    LARGE_LOSS_SCHEMES,
    AssumeNegativeLoss,
    DownWeightLoss,
    EntropyMaximizationLoss,
    EntropyMinimizationLoss,
    LabelSmoothingLoss,
    LargeLoss,
    NegativeLabelSmoothingLoss,
    apl_pseudo_labels,
    assume_negative_loss,
    down_weight_loss,
    entropy_maximization_loss,
    entropy_minimization_loss,
    label_smoothing_loss,
    large_loss,
    large_loss_rate,
    large_loss_selection,
    large_loss_with_selection,
    large_loss_threshold,
    negative_label_smoothing_loss,
)

from mlteach.losses import _checks
from mlteach.losses import partial as partial_module

from .conftest import NAN, PARTIAL_LOSSES, entries, random_problem, sigmoid

SETTINGS = settings(max_examples=30, deadline=None)


def bce(p: float, y: float) -> float:
    return -y * math.log(p) - (1 - y) * math.log(1 - p)


def entropy(p: float) -> float:
    return -p * math.log(p) - (1 - p) * math.log(1 - p)


def partial_reference(logits, targets, kind, coef=None, pseudo=None, beta=None):
    """Per-entry loss of each baseline, as the EM paper describes it (probability space)."""
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for i, j in entries(targets):
        p, t = sigmoid(float(logits[i, j])), float(targets[i, j])
        if kind == "AN":
            value = bce(p, 1.0 if t == 1 else 0.0)
        elif kind == "DW":
            value = bce(p, 1.0) if t == 1 else bce(p, 0.0) * (coef if t == -1 else 1.0)
        elif kind == "LS":
            value = bce(p, 1 - coef if t == 1 else coef)
        elif kind == "N-LS":
            value = bce(p, {1.0: 1.0, 0.0: 0.0, -1.0: coef}[t])
        elif kind == "EntMin":
            value = coef * entropy(p) if t == -1 else bce(p, t)
        elif kind == "EM":
            if t != -1:
                value = bce(p, t)
            elif pseudo is not None and not math.isnan(float(pseudo[i, j])):
                value = beta * bce(p, float(pseudo[i, j]))
            else:
                value = -coef * entropy(p)
        out[i, j] = value
    return out


def em_autograd_reference(x, targets, alpha, pseudo=None, beta=0.0):
    """EM in probability space with torch ops (autograd gives the reference gradient)."""
    p = torch.sigmoid(x)
    log_p, log_not_p = torch.log(p), torch.log(1 - p)
    h = -(p * log_p + (1 - p) * log_not_p)
    loss = torch.where(targets == 1, -log_p, torch.where(targets == 0, -log_not_p, -alpha * h))
    if pseudo is not None:
        s = torch.nan_to_num(pseudo)
        loss = torch.where(torch.isnan(pseudo), loss, beta * (-s * log_p - (1 - s) * log_not_p))
    return loss


def large_loss_reference(logits, targets, rate, scheme):
    """Sort the unknown AN losses in a Python list; modify those >= the k-th largest."""
    losses = partial_reference(logits, targets, "AN")
    unknown = [(float(losses[i, j]), i, j) for i, j in entries(targets) if targets[i, j] == -1]
    k = min(math.ceil(rate * targets.numel()), len(unknown))
    selected = set()
    if k:
        kth = sorted((v for v, _, _ in unknown), reverse=True)[k - 1]
        selected = {(i, j) for v, i, j in unknown if v >= kth}
    for i, j in selected:
        losses[i, j] = 0.0 if scheme == "LL-R" else -math.log(sigmoid(float(logits[i, j])))
    return losses, selected


shapes = st.tuples(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 6))

BASELINES = {
    "AN": (lambda x, t, c: assume_negative_loss(x, t, reduction="none"), None),
    "DW": (lambda x, t, c: down_weight_loss(x, t, c, reduction="none"), 0.2),
    "LS": (lambda x, t, c: label_smoothing_loss(x, t, c, reduction="none"), 0.1),
    "N-LS": (lambda x, t, c: negative_label_smoothing_loss(x, t, c, reduction="none"), 0.3),
    "EntMin": (lambda x, t, c: entropy_minimization_loss(x, t, c, reduction="none"), 0.4),
    "EM": (lambda x, t, c: entropy_maximization_loss(x, t, c, reduction="none"), 0.2),
}


# ---------------------------------------------------------------- values

@SETTINGS
@given(shapes, st.sampled_from(sorted(BASELINES)))
def test_baselines_match_reference(shape, kind):
    logits, targets = random_problem(*shape)
    loss, coef = BASELINES[kind]
    got = loss(logits, targets, coef)
    torch.testing.assert_close(got, partial_reference(logits, targets, kind, coef))


def test_mean_divides_by_all_entries():
    logits, targets = random_problem(1, 4, 5)
    functions = [assume_negative_loss,
                 lambda x, t, reduction: down_weight_loss(x, t, 0.3, reduction),
                 label_smoothing_loss, negative_label_smoothing_loss, entropy_minimization_loss,
                 entropy_maximization_loss,
                 lambda x, t, reduction: large_loss(x, t, rate=0.2, reduction=reduction)]
    for loss in functions:
        terms = loss(logits, targets, reduction="none")
        assert terms.shape == (4, 5)
        torch.testing.assert_close(loss(logits, targets, reduction="sum"), terms.sum())
        torch.testing.assert_close(loss(logits, targets, reduction="mean"), terms.sum() / 20)


@SETTINGS
@given(shapes, st.floats(0.0, 1.0), st.sampled_from([0.02, 0.9]))
def test_em_with_pseudo_targets_matches_reference(shape, share, beta):
    logits, targets = random_problem(*shape)
    generator = torch.Generator().manual_seed(shape[0] + 7)
    soft = torch.rand(targets.shape, generator=generator, dtype=torch.float64)
    has = (targets == -1) & (torch.rand(targets.shape, generator=generator) < share)
    pseudo = torch.where(has, soft, torch.full_like(soft, NAN))
    got = entropy_maximization_loss(logits, targets, 0.1, pseudo, beta, reduction="none")
    want = partial_reference(logits, targets, "EM", 0.1, pseudo, beta)
    torch.testing.assert_close(got, want)


def test_em_without_pseudo_targets_equals_all_nan_pseudo_targets():
    logits, targets = random_problem(2, 3, 4)
    nothing = torch.full(targets.shape, NAN, dtype=torch.float64)
    torch.testing.assert_close(entropy_maximization_loss(logits, targets, pseudo_targets=nothing),
                               entropy_maximization_loss(logits, targets))


def test_an_is_bce_with_unknown_as_negative():
    logits, targets = random_problem(3, 5, 7)
    torch.testing.assert_close(assume_negative_loss(logits, targets),
                               F.binary_cross_entropy_with_logits(logits, (targets == 1).double()))


# ---------------------------------------------------------------- EM gradients

def test_em_gradients_equal_supplement_eqs_9_to_11():
    alpha = 0.3
    g = torch.linspace(-12, 12, 49, dtype=torch.float64)
    x = torch.stack([g, g, g]).requires_grad_(True)
    targets = torch.stack([torch.full_like(g, v) for v in (1.0, 0.0, -1.0)]).float()
    entropy_maximization_loss(x, targets, alpha=alpha, reduction="sum").backward()
    e = torch.exp(-g)
    eq9 = -e / (1 + e)                                 # known positive
    eq10 = 1 / (1 + e)                                 # known negative
    eq11 = -alpha * e * torch.log(e) / (1 + e) ** 2    # unknown
    torch.testing.assert_close(x.grad, torch.stack([eq9, eq10, eq11]))


@SETTINGS
@given(shapes, st.sampled_from([0.0, 0.1, 1.0]), st.booleans())
def test_em_closed_form_gradient_matches_autograd_of_reference(shape, alpha, with_pseudo):
    logits, targets = random_problem(*shape)
    pseudo = None
    if with_pseudo:
        generator = torch.Generator().manual_seed(shape[0])
        soft = torch.rand(targets.shape, generator=generator, dtype=torch.float64)
        pseudo = torch.where((targets == -1) & (soft < 0.5), soft, torch.full_like(soft, NAN))
    x = logits.clone().requires_grad_(True)
    entropy_maximization_loss(x, targets, alpha, pseudo, 0.4).mean().backward()
    x_ref = logits.clone().requires_grad_(True)
    em_autograd_reference(x_ref, targets, alpha, pseudo, 0.4).mean().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_entmin_gradient_is_the_mirror_of_em_on_unknowns():
    g = torch.linspace(-6, 6, 25, dtype=torch.float64)
    unknown = torch.full((1, 25), -1.0)
    x_min = g.unsqueeze(0).clone().requires_grad_(True)
    x_max = g.unsqueeze(0).clone().requires_grad_(True)
    entropy_minimization_loss(x_min, unknown, 0.5, reduction="sum").backward()
    entropy_maximization_loss(x_max, unknown, 0.5, reduction="sum").backward()
    torch.testing.assert_close(x_min.grad, -x_max.grad)
    torch.testing.assert_close(x_max.grad[0], 0.5 * g * torch.sigmoid(g) * torch.sigmoid(-g))


def test_em_gradient_regimes_of_section_3_2():
    """The three behaviours the EM paper (Sec. 3.2, supplement B) attributes to its gradient."""
    alpha = 1.0
    g = torch.arange(-1000, 1001, dtype=torch.float64) / 100
    unknown = torch.full((1, g.numel()), -1.0)
    x = g.unsqueeze(0).clone().requires_grad_(True)
    entropy_maximization_loss(x, unknown, alpha, reduction="sum").backward()
    em = x.grad[0]
    an = torch.sigmoid(g)                 # AN's gradient on the same (assumed negative) entries
    positive = torch.sigmoid(g) - 1       # gradient of an annotated positive
    at_zero = int(torch.argmin(g.abs()))
    # 1) learning from annotated labels first: at initialisation (logits near 0) unknown entries
    #    give no gradient, annotated positives give -0.5 (AN would push unknowns with +0.5).
    assert em[at_zero] == 0 and positive[at_zero] == -0.5 and an[at_zero] == 0.5
    near_zero = g.abs() <= 0.5
    assert em[near_zero].abs().max() < positive[near_zero].abs().min() / 3
    # 2) label noise: an unannotated positive can never pull harder than alpha * 0.2239
    #    (max of |g| sigmoid(g) sigmoid(-g), at |g| = 1.5434), while AN's pull grows to 1.
    peak = int(torch.argmax(em))
    assert em.abs().max() == pytest.approx(0.2239 * alpha, abs=1e-4)
    assert float(g[peak]) == pytest.approx(1.5434, abs=0.01)
    assert an[g > 2].min() > 0.88
    # 3) confident positives are kept: beyond the peak the gradient decays to zero, so a large
    #    logit on an unknown entry is hardly pushed down (AN pushes it with gradient near 1).
    beyond = g >= g[peak]
    assert (em[beyond][1:] <= em[beyond][:-1]).all()
    assert em[-1] < 5e-3 and an[-1] > 0.9999
    # entries are pulled towards ambiguity: gradient descent moves every logit towards 0
    assert (torch.sign(em) == torch.sign(g)).all()


# ---------------------------------------------------------------- Large Loss

@SETTINGS
@given(shapes, st.floats(0.0, 1.0), st.sampled_from(["LL-R", "LL-Ct", "LL-Cp"]))
def test_large_loss_matches_reference(shape, rate, scheme):
    logits, targets = random_problem(*shape, unknown_share=0.5)
    want, selected = large_loss_reference(logits, targets, rate, scheme)
    torch.testing.assert_close(large_loss(logits, targets, rate, scheme, reduction="none"), want)
    torch.testing.assert_close(large_loss(logits, targets, rate, scheme), want.sum() / want.numel())
    mask = large_loss_selection(logits, targets, rate=rate)
    assert {(i, j) for i, j in entries(targets) if mask[i, j]} == selected


def test_ll_r_zeroes_k_largest_unknown_but_keeps_denominator():
    logits = torch.tensor([[4.0, 3.0, -1.0, 0.5], [2.0, 1.0, 5.0, -2.0]], dtype=torch.float64)
    targets = torch.tensor([[-1.0, -1.0, -1.0, 1.0], [-1.0, -1.0, 0.0, -1.0]])
    # k = ceil(0.25 * 8) = 2: the unknown losses softplus(4) and softplus(3) are rejected;
    # the known negative at x = 5 has a larger loss but is never touched.
    values = large_loss(logits, targets, rate=0.25, scheme="LL-R", reduction="none")
    an = assume_negative_loss(logits, targets, reduction="none")
    rejected = torch.zeros(2, 4, dtype=torch.bool)
    rejected[0, 0] = rejected[0, 1] = True
    assert torch.equal(values[rejected], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(values[~rejected], an[~rejected])
    torch.testing.assert_close(large_loss(logits, targets, rate=0.25), an[~rejected].sum() / 8)


def test_ll_ct_flips_selected_to_positive():
    logits = torch.tensor([[4.0, 3.0, -1.0, 0.5]], dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[-1.0, -1.0, -1.0, 0.0]])
    values = large_loss(logits, targets, rate=0.5, scheme="LL-Ct", reduction="none")
    expected_targets = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    want = F.binary_cross_entropy_with_logits(logits.detach(), expected_targets, reduction="none")
    torch.testing.assert_close(values.detach(), want)
    values.sum().backward()
    torch.testing.assert_close(logits.grad, torch.sigmoid(logits.detach()) - expected_targets)
    cp = large_loss(logits.detach(), targets, rate=0.5, scheme="LL-Cp", reduction="none")
    torch.testing.assert_close(cp, want)


def test_large_loss_ties_at_threshold_are_all_modified():
    logits = torch.tensor([[3.0, 2.0, 2.0, 2.0, 1.0, 2.0]])
    targets = torch.tensor([[-1.0, -1.0, -1.0, -1.0, -1.0, 0.0]])
    # k = ceil(2 / 6 * 6) = 2, the 2nd largest unknown loss is softplus(2), shared by three
    # unknown entries: all three are selected (4 in all); the known negative tie is not.
    mask = large_loss_selection(logits, targets, rate=2 / 6)
    assert mask.tolist() == [[True, True, True, True, False, False]]
    values = large_loss(logits, targets, rate=2 / 6, reduction="none")
    assert (values[mask] == 0).all() and (values[~mask] > 0).all()


def test_large_loss_never_modifies_known_entries_and_caps_k():
    logits, targets = random_problem(5, 6, 5, unknown_share=0.3)
    an = assume_negative_loss(logits, targets, reduction="none")
    for scheme in ("LL-R", "LL-Ct"):
        values = large_loss(logits, targets, rate=1.0, scheme=scheme, reduction="none")
        known = targets != -1
        torch.testing.assert_close(values[known], an[known])
    mask = large_loss_selection(logits, targets, rate=1.0)  # k = B * C, capped at #unknown
    assert torch.equal(mask, targets == -1)
    assert not large_loss_selection(logits, targets, rate=0.0).any()
    nothing_unknown = targets.clamp_min(0)
    assert not large_loss_selection(logits, nothing_unknown, rate=0.5).any()
    torch.testing.assert_close(large_loss(logits, nothing_unknown, rate=0.5),
                               assume_negative_loss(logits, nothing_unknown))


def test_large_loss_treats_negative_zero_targets_as_known_negatives():
    logits = torch.tensor([[3.0, 2.0, 1.0]])
    targets = torch.tensor([[-0.0, -1.0, 0.0]])
    assert large_loss_selection(logits, targets, rate=1.0).tolist() == [[False, True, False]]
    assert large_loss_selection(logits, targets, threshold=0.0).tolist() == [[False, True, False]]


def test_large_loss_mean_is_exact_when_the_modified_losses_dwarf_the_rest(monkeypatch):
    """The loss is summed from the modified entries (never as a difference of large sums), on
    several blocks of rows."""
    monkeypatch.setattr(_checks, "BLOCK_ENTRIES", 8)
    generator = torch.Generator().manual_seed(0)
    logits = torch.full((40, 5), 30.0)  # unknown entries: AN loss softplus(30), about 30
    targets = -torch.ones(40, 5)
    targets[:, 0] = 1.0  # known positives with losses about e^-10
    logits[:, 0] = torch.randn(40, generator=generator) + 10
    for scheme in ("LL-R", "LL-Ct"):
        want, _ = large_loss_reference(logits.double(), targets, 1.0, scheme)
        got = large_loss(logits, targets, rate=1.0, scheme=scheme)
        torch.testing.assert_close(got.double(), want.sum() / want.numel(), rtol=1e-6, atol=0)


def test_large_loss_absolute_threshold():
    logits = torch.tensor([[2.0, 0.0, -3.0, 2.0]], dtype=torch.float64)
    targets = torch.tensor([[-1.0, -1.0, -1.0, 0.0]])
    threshold = F.softplus(torch.tensor(0.0, dtype=torch.float64)).item()  # log 2
    mask = large_loss_selection(logits, targets, threshold=threshold)
    assert mask.tolist() == [[True, False, False, False]]  # strictly above; known excluded
    values = large_loss(logits, targets, scheme="LL-R", threshold=threshold, reduction="none")
    assert values[0, 0] == 0 and values[0, 3] > 0


@pytest.mark.parametrize("threshold", [-0.5, -1.0, -3.0, -1e30])
def test_a_negative_threshold_selects_every_unknown_entry_and_no_known_one(threshold):
    # AN losses are >= 0 (an unknown entry can reach exactly 0), so any negative threshold
    # selects every unknown entry; the known entries, ranked internally below every loss, never.
    logits = torch.tensor([[2.0, -200.0, -3.0, 2.0], [0.5, -1.0, 200.0, -2.0]])
    targets = torch.tensor([[-1.0, -1.0, 1.0, 0.0], [0.0, -1.0, 1.0, -1.0]])
    assert torch.equal(large_loss_selection(logits, targets, threshold=threshold), targets == -1)
    values = large_loss(logits, targets, scheme="LL-R", threshold=threshold, reduction="none")
    assert torch.equal(values[targets == -1], torch.zeros(4))
    known = targets != -1
    torch.testing.assert_close(values[known], assume_negative_loss(logits, targets, reduction="none")[known])


@pytest.mark.parametrize("setting", [{"rate": 0.3}, {"rate": 0.0}, {"threshold": 0.8}], ids=str)
@pytest.mark.parametrize("scheme", LARGE_LOSS_SCHEMES)
def test_large_loss_with_selection_is_the_loss_and_the_selection_of_one_ranking(setting, scheme, monkeypatch):
    logits, targets = random_problem(5, 7, 6, unknown_share=0.5)
    x = logits.clone().requires_grad_(True)
    loss, selected = large_loss_with_selection(x, targets, scheme=scheme, **setting)
    torch.testing.assert_close(loss, large_loss(logits, targets, scheme=scheme, **setting))
    assert torch.equal(selected, large_loss_selection(logits, targets, **setting))
    assert selected.any() == ("rate" not in setting or setting["rate"] > 0)
    loss.backward()
    (expected,) = torch.autograd.grad(large_loss(x, targets, scheme=scheme, **setting), x)
    torch.testing.assert_close(x.grad, expected)
    calls = {"_assume_negative_pass": 0, "_kth_largest_unknown_loss": 0}
    for name in calls:
        def counted(*args, name=name, original=getattr(partial_module, name), **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(partial_module, name, counted)
    large_loss_with_selection(logits, targets, scheme=scheme, **setting)
    assert calls["_assume_negative_pass"] == 1  # one pass: AN losses, their gradient, the ranked losses
    assert calls["_kth_largest_unknown_loss"] == (1 if setting.get("rate") else 0)  # one ranking (relative)


def test_large_loss_rate_zero_is_an_and_gradcheck():
    logits, targets = random_problem(8, 3, 4, unknown_share=0.5)
    torch.testing.assert_close(large_loss(logits, targets, rate=0.0),
                               assume_negative_loss(logits, targets))
    x = logits.clone().requires_grad_(True)
    for scheme in ("LL-R", "LL-Ct"):
        assert torch.autograd.gradcheck(lambda z: large_loss(z, targets, 0.3, scheme), (x,))


def test_large_loss_schedules():
    assert [large_loss_rate(t, 0.1, "LL-R") for t in (1, 2, 5)] == [0.0, 0.1, 0.4]
    assert [large_loss_rate(t, 0.2, "LL-Ct") for t in (1, 3)] == [0.0, 0.4]
    assert large_loss_rate(20, 0.2, "LL-Ct") == 1.0  # capped
    assert [large_loss_rate(t, 0.2, "LL-Cp") for t in (1, 7)] == [0.2, 0.2]
    assert large_loss_threshold(0, 2.0, 0.15) == 2.0
    assert large_loss_threshold(4, 2.0, 0.15) == pytest.approx(1.4)


def test_large_loss_module_follows_updated_rate():
    logits, targets = random_problem(9, 4, 4, unknown_share=0.6)
    module = LargeLoss(rate=0.0, scheme="LL-Ct")
    first = module(logits, targets)
    module.rate = large_loss_rate(3, 0.1, module.scheme)
    torch.testing.assert_close(module(logits, targets),
                               large_loss(logits, targets, 0.2, "LL-Ct"))
    assert not torch.allclose(first, module(logits, targets))


# ---------------------------------------------------------------- APL

def apl_reference(probs, targets, pseudo, counts, epoch, warmup, total, theta, positive_theta=0.0, hard=False):
    new = pseudo.clone()
    if epoch < warmup:
        return new
    for c in range(probs.shape[1]):
        free = [(float(probs[i, c]), i) for i in range(probs.shape[0])
                if targets[i, c] == -1 and math.isnan(float(pseudo[i, c]))]
        lowest = sorted(free)[:int(theta * counts[c] / (total - warmup))]
        for p, i in lowest:
            new[i, c] = 0.0 if hard else p
        left = [(-p, i) for p, i in free if (p, i) not in lowest]
        for minus_p, i in sorted(left)[:int(positive_theta * counts[c] / (total - warmup))]:
            new[i, c] = 1.0 if hard else -minus_p
    return new


@SETTINGS
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 4), st.integers(0, 6),
       st.sampled_from([0.5, 0.9, 1.0]), st.sampled_from([0.0, 0.1, 0.5]), st.booleans())
def test_apl_matches_reference(seed, rows, cols, epoch, theta, positive_theta, hard):
    generator = torch.Generator().manual_seed(seed)
    probs = torch.rand(rows, cols, generator=generator).round(decimals=1)  # ties happen
    targets = torch.randint(-1, 2, (rows, cols), generator=generator).float()
    targets[torch.rand(rows, cols, generator=generator) < 0.5] = -1.0
    pseudo = torch.full((rows, cols), NAN)
    earlier = (targets == -1) & (torch.rand(rows, cols, generator=generator) < 0.2)
    pseudo[earlier] = 0.5
    counts = (targets == -1).sum(0).tolist()
    got, negative, positive = apl_pseudo_labels(probs, targets, pseudo, counts, epoch, 2, 5, theta,
                                                positive_theta=positive_theta, hard=hard,
                                                return_selection=True)
    want = apl_reference(probs, targets, pseudo, counts, epoch, 2, 5, theta, positive_theta, hard)
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    torch.testing.assert_close(got[~torch.isnan(got)], want[~torch.isnan(want)])
    assert torch.equal(negative | positive, torch.isnan(pseudo) & ~torch.isnan(got))
    assert not (negative & positive).any()
    if hard:
        assert (got[negative] == 0).all() and (got[positive] == 1).all()


def test_apl_positive_pseudo_labels_take_the_most_confident_unknown_entries():
    probs = torch.tensor([[0.05, 0.9], [0.30, 0.2], [0.10, 0.6], [0.02, 0.1], [0.50, 0.4]])
    targets = torch.tensor([[-1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, -1.0]])
    empty = torch.full((5, 2), NAN)
    # U_c = 4, E - T_w = 2: theta 0.5 gives 1 negative and positive_theta 0.5 one positive
    soft = apl_pseudo_labels(probs, targets, empty, [4, 4], 3, 3, 5, 0.5, positive_theta=0.5)
    # class 0: lowest unknown is row 0 (0.05), highest row 4 (0.50); the known row 3 is skipped.
    # class 1: lowest row 3 (0.1), highest unknown row 2 (0.6); row 0 (0.9) is a known positive.
    assert (~torch.isnan(soft)).tolist() == [[True, False], [False, False], [False, True],
                                            [False, True], [True, False]]
    chosen = ~torch.isnan(soft)
    torch.testing.assert_close(soft[chosen], probs[chosen])  # soft targets: s = p on both sides
    hard = apl_pseudo_labels(probs, targets, empty, [4, 4], 3, 3, 5, 0.5, positive_theta=0.5, hard=True)
    assert hard[chosen].tolist() == [0.0, 1.0, 0.0, 1.0]  # row order: (0,0) (2,1) (3,1) (4,0)
    # published APL: no positive pseudo-label at all
    published = apl_pseudo_labels(probs, targets, empty, [4, 4], 3, 3, 5, 0.5)
    assert (~torch.isnan(published)).sum().item() == 2


def test_apl_quota_lowest_probabilities_never_revised_and_warmup():
    probs = torch.tensor([[0.05, 0.9], [0.30, 0.2], [0.10, 0.6], [0.02, 0.1], [0.50, 0.4]])
    targets = torch.tensor([[-1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, -1.0]])
    counts = [4, 4]  # U_c; with E - T_w = 2 and theta = 1, the quota is 2 per class per epoch
    empty = torch.full((5, 2), NAN)
    before = apl_pseudo_labels(probs, targets, empty, counts, epoch=2, warmup_epochs=3,
                               total_epochs=5, theta=1.0)
    assert torch.isnan(before).all()  # nothing before the warm-up
    first = apl_pseudo_labels(probs, targets, empty, counts, 3, 3, 5, 1.0)
    # class 0: unknown rows 0, 1, 2, 4; the two lowest are rows 0 (0.05) and 2 (0.10);
    # row 3 (0.02) is a known positive and is skipped. Class 1: rows 3 (0.1) and 1 (0.2).
    chosen = ~torch.isnan(first)
    assert chosen.tolist() == [[True, False], [False, True], [True, False], [False, True],
                               [False, False]]
    torch.testing.assert_close(first[chosen], probs[chosen])  # soft target s = p
    # next epoch the model changed; old pseudo-labels keep their values, two new ones per class
    later_probs = probs.flip(0)
    second = apl_pseudo_labels(later_probs, targets, first, counts, 4, 3, 5, 1.0)
    torch.testing.assert_close(second[chosen], first[chosen])
    new = ~torch.isnan(second) & ~chosen
    assert new.sum(0).tolist() == [2, 2]
    assert not (~torch.isnan(second) & (targets != -1)).any()  # never on known entries
    # every unknown entry is now pseudo-labelled: the quota is capped by what is left
    third = apl_pseudo_labels(probs, targets, second, counts, 5, 3, 5, 1.0)
    torch.testing.assert_close(third, second, equal_nan=True)
    assert torch.isnan(empty).all()  # the input is not modified


# ---------------------------------------------------------------- gradcheck, edge cases

def test_gradcheck_float64():
    logits, targets = random_problem(4, 3, 4, scale=2.0)
    x = logits.clone().requires_grad_(True)
    pseudo = torch.where(targets == -1, torch.full_like(logits, 0.3), torch.full_like(logits, NAN))
    cases = [
        lambda z: assume_negative_loss(z, targets),
        lambda z: down_weight_loss(z, targets, 0.1),
        lambda z: label_smoothing_loss(z, targets, 0.2),
        lambda z: negative_label_smoothing_loss(z, targets, 0.3),
        lambda z: entropy_minimization_loss(z, targets, 0.4),
        lambda z: entropy_maximization_loss(z, targets, 0.2),
        lambda z: entropy_maximization_loss(z, targets, 0.2, pseudo, 0.5, reduction="none"),
        lambda z: large_loss(z, targets, 0.25, "LL-Cp"),
    ]
    for loss in cases:
        assert torch.autograd.gradcheck(loss, (x,))


@pytest.mark.parametrize("loss", PARTIAL_LOSSES.values(), ids=PARTIAL_LOSSES.keys())
def test_stable_for_huge_logits_float32(loss):
    x = torch.tensor([[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, -1e4, 1e4]], requires_grad=True)
    targets = torch.tensor([[1.0, 1.0, 0.0, 0.0], [-1.0, -1.0, 1.0, -1.0]])
    value = loss(x, targets)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(x.grad).all()
    # the wrong confident positive (x = -1e4) keeps its gradient p - y = -1 (-0.9 with LS's
    # smoothed target), divided by B * C = 8: there is no log(p + eps) cap
    assert float(x.grad[0, 1]) <= -0.9 / 8 + 1e-7


def test_em_exact_values_at_huge_logits():
    x = torch.tensor([[-1e4, 1e4, 1e4, -1e4]])
    targets = torch.tensor([[1.0, 0.0, -1.0, -1.0]])
    values = entropy_maximization_loss(x, targets, reduction="none")
    torch.testing.assert_close(values, torch.tensor([[1e4, 1e4, 0.0, 0.0]]))


def test_pseudo_targets_are_not_modified():
    logits, targets = random_problem(3, 4, 3, dtype=torch.float32)
    pseudo = torch.where(targets == -1, 0.3, NAN)
    pseudo_copy = pseudo.clone()
    logits.requires_grad_(True)
    entropy_maximization_loss(logits, targets, pseudo_targets=pseudo).backward()
    assert torch.equal(torch.isnan(pseudo), torch.isnan(pseudo_copy))
    assert torch.equal(pseudo.nan_to_num(), pseudo_copy.nan_to_num())


def test_modules_match_functions():
    logits, targets = random_problem(12, 3, 5)
    pseudo = torch.where(targets == -1, 0.1, NAN).double()
    pairs = [
        (AssumeNegativeLoss(), assume_negative_loss(logits, targets)),
        (DownWeightLoss(0.4), down_weight_loss(logits, targets, 0.4)),
        (LabelSmoothingLoss(0.2), label_smoothing_loss(logits, targets, 0.2)),
        (NegativeLabelSmoothingLoss(0.3), negative_label_smoothing_loss(logits, targets, 0.3)),
        (EntropyMinimizationLoss(0.5), entropy_minimization_loss(logits, targets, 0.5)),
        (LargeLoss(threshold=1.0, scheme="LL-Ct"),
         large_loss(logits, targets, scheme="LL-Ct", threshold=1.0)),
    ]
    for module, want in pairs:
        torch.testing.assert_close(module(logits, targets), want)
    em = EntropyMaximizationLoss(alpha=0.2, beta=0.4)
    torch.testing.assert_close(em(logits, targets, pseudo),
                               entropy_maximization_loss(logits, targets, 0.2, pseudo, 0.4))


# ---------------------------------------------------------------- errors

X, T = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
PSEUDO_OK = torch.tensor([[NAN, NAN, 0.3], [0.1, NAN, NAN]])
PROBS = torch.full((2, 3), 0.5)


@pytest.mark.parametrize("call, message", [
    (lambda: assume_negative_loss(X, T[:1]), "shape"),
    (lambda: assume_negative_loss(X, T + 0.5), "targets must be 1"),
    (lambda: assume_negative_loss(X.int(), T), "floating"),
    (lambda: assume_negative_loss(X, T, reduction="avg"), "reduction"),
    (lambda: down_weight_loss(X, T, assumed_negative_weight=1.5), "assumed_negative_weight"),
    (lambda: label_smoothing_loss(X, T, smoothing=0.7), "smoothing"),
    (lambda: negative_label_smoothing_loss(X, T, smoothing=-0.1), "smoothing"),
    (lambda: entropy_minimization_loss(X, T, alpha=-1.0), "alpha"),
    (lambda: entropy_maximization_loss(X, T, alpha=-0.1), "alpha"),
    (lambda: entropy_maximization_loss(X, T, beta=-0.1), "beta"),
    (lambda: entropy_maximization_loss(X, T * 3), "targets must be 1"),
    (lambda: entropy_maximization_loss(X, T, pseudo_targets=PSEUDO_OK * 5), r"\[0, 1\]"),
    (lambda: entropy_maximization_loss(X, T, pseudo_targets=PSEUDO_OK - 1), r"\[0, 1\]"),
    (lambda: entropy_maximization_loss(X, T, pseudo_targets=PSEUDO_OK[:, :2]), "shape"),
    (lambda: entropy_maximization_loss(X, T, pseudo_targets=torch.full((2, 3), 0.2)),
     "known entries"),
    (lambda: large_loss(X, T, rate=1.5), "rate"),
    (lambda: large_loss(X, T, rate=-0.1), "rate"),
    (lambda: large_loss(X, T), "exactly one of rate"),
    (lambda: large_loss(X, T, rate=0.1, threshold=1.0), "exactly one of rate"),
    (lambda: large_loss(X, T, threshold=float("inf")), "threshold"),
    (lambda: large_loss(X, T, rate=0.1, scheme="LL-C"), "scheme"),
    (lambda: large_loss(X, T, rate=0.1, reduction="none "), "reduction"),
    (lambda: large_loss_selection(X, T), "exactly one of rate"),
    (lambda: large_loss_selection(X, T, rate=2.0), "rate"),
    (lambda: large_loss_rate(0, 0.1), "epoch"),
    (lambda: large_loss_rate(2, 1.5), "delta_rel"),
    (lambda: large_loss_rate(2, 0.1, scheme="LLR"), "scheme"),
    (lambda: large_loss_threshold(2, 1.0, -0.1), "delta_abs"),
    (lambda: apl_pseudo_labels(PROBS, T, PSEUDO_OK, [1, 1, 1], 3, 5, 5), "total_epochs"),
    (lambda: apl_pseudo_labels(PROBS, T, torch.full((2, 3), 0.2), [1, 1, 1], 3, 2, 5),
     "known entries"),
    (lambda: apl_pseudo_labels(PROBS * 3, T, PSEUDO_OK, [1, 1, 1], 3, 2, 5), r"\[0, 1\]"),
    (lambda: apl_pseudo_labels(PROBS, T, PSEUDO_OK, [1, 1], 3, 2, 5), "initial_unknown"),
    (lambda: apl_pseudo_labels(PROBS, T[:, :2], PSEUDO_OK, [1, 1, 1], 3, 2, 5), "shape"),
    (lambda: apl_pseudo_labels(PROBS, T, PSEUDO_OK, [1, 1, 1], 3, 2, 5, theta=1.2), "theta"),
    (lambda: apl_pseudo_labels(PROBS, T, PSEUDO_OK, [1, 1, 1], -1, 2, 5), "epoch"),
    (lambda: apl_pseudo_labels(PROBS, T, PSEUDO_OK, [1, 1, 1], 3, 2, 5, positive_theta=-0.1),
     "positive_theta"),
    (lambda: apl_pseudo_labels(PROBS, T, PSEUDO_OK, [1, 1, 1], 3, 2, 5, hard="yes"), "hard must be a bool"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
