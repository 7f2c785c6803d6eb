"""The exercise checkers: references pass, typical wrong answers fail with the hint that names
the mistake, stubs get "not implemented yet", and nothing a submission does escapes as an
exception or a warning."""

from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path

import jupytext
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from mlteach import losses
from mlteach.exercises import (check_average_precision, check_masked_logsumexp, check_per_class_thresholds,
                               check_apl_term_gradient, check_apl_update, check_c_lsep, check_cb_focal,
                               check_corrected_entry_gradient,
                               check_discriminative_groups, check_expression, check_large_loss_selection, check_lsep,
                               check_ngc_gradient, check_ngc_threshold, check_two_class_type_two_loss,
                               check_two_way_negative_gradient, check_two_way_sample)
from mlteach.exercises.dr import ngc_gradient_symbols, ngc_threshold_symbols, wrong_cb_focal
from mlteach.exercises.em import apl_term_symbols
from mlteach.exercises.group_softmax import margin_symbols
from mlteach.exercises.large_loss import corrected_gradient_symbols
from mlteach.exercises.two_way import two_way_gradient_symbols
from mlteach.metrics import average_precision, f1_optimal_thresholds
from mlteach.numerics import masked_logsumexp
from mlteach.symbolic.functions import sigmoid

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "notebooks").glob("*_exercises.md"))


# ----------------------------------------------------------------------------- student-like answers
def masked_lse(values, mask, dim):
    return torch.where(mask, values, -math.inf).logsumexp(dim)


def line_loss(logits, targets, neg_scale, pos_scale, neg_weight=1.0, pos_weight=1.0, dim=1):
    """softplus(w_N LSE_N(a_N x) + w_P LSE_P(-a_P x)) per line, mean over lines with a positive."""
    terms = F.softplus(neg_weight * masked_lse(neg_scale * logits, targets == 0, dim)
                       + pos_weight * masked_lse(-pos_scale * logits, targets == 1, dim))
    return terms.sum() / (targets == 1).any(dim).sum().clamp(min=1)


def lsep_naive_exp(logits, targets, gamma=1.0):
    negatives = torch.where(targets == 0, (gamma * logits).exp(), 0.0).sum(1)
    positives = torch.where(targets == 1, (-gamma * logits).exp(), 0.0).sum(1)
    return torch.log1p(negatives * positives).sum() / (targets == 1).any(1).sum().clamp(min=1)


def lsep_mean_over_samples(logits, targets, gamma=1.0):
    terms = F.softplus(masked_lse(gamma * logits, targets == 0, 1) + masked_lse(-gamma * logits, targets == 1, 1))
    return terms.mean()


def lsep_pairwise(logits, targets, gamma=1.0):
    differences = gamma * (logits.unsqueeze(1) - logits.unsqueeze(2))  # [B, i, j] = x_j - x_i
    pairs = (targets.unsqueeze(2) == 1) & (targets.unsqueeze(1) == 0)
    terms = F.softplus(masked_lse(differences, pairs, (1, 2)))
    return terms.sum() / (targets == 1).any(1).sum().clamp(min=1)


def lsep_unknown_as_negative(logits, targets, gamma=1.0):
    terms = F.softplus(masked_lse(gamma * logits, targets != 1, 1) + masked_lse(-gamma * logits, targets == 1, 1))
    return terms.sum() / (targets == 1).any(1).sum().clamp(min=1)


def lsep_no_guard(logits, targets, gamma=1.0):
    terms = F.softplus(masked_lse(gamma * logits, targets == 0, 1) + masked_lse(-gamma * logits, targets == 1, 1))
    return terms.sum() / (targets == 1).any(1).sum()


def lsep_hand_made_shift(logits, targets, gamma=1.0):
    def lse(values, mask):
        values = torch.where(mask, values, -math.inf)
        top = values.max(1, keepdim=True).values
        return (values - top).exp().sum(1).log() + top.squeeze(1)

    terms = F.softplus(lse(gamma * logits, targets == 0) + lse(-gamma * logits, targets == 1))
    return terms.sum() / (targets == 1).any(1).sum().clamp(min=1)


def lsep_mask_constant(logits, targets, gamma=1.0):
    negatives = torch.where(targets == 0, gamma * logits, -100.0).logsumexp(1)
    positives = torch.where(targets == 1, -gamma * logits, -100.0).logsumexp(1)
    return F.softplus(negatives + positives).sum() / (targets == 1).any(1).sum().clamp(min=1)


def c_lsep_per_sample(logits, targets, gamma=1.0):
    return line_loss(logits, targets, gamma, gamma, dim=1)


def c_lsep_mean_over_classes(logits, targets, gamma=1.0):
    terms = F.softplus(masked_lse(gamma * logits, targets == 0, 0) + masked_lse(-gamma * logits, targets == 1, 0))
    return terms.mean()


def c_lsep_pairwise(logits, targets, gamma=1.0):
    differences = gamma * (logits.unsqueeze(0) - logits.unsqueeze(1))  # [i, j, C] = s_j - s_i
    pairs = (targets.unsqueeze(1) == 1) & (targets.unsqueeze(0) == 0)
    terms = F.softplus(masked_lse(differences, pairs, (0, 1)))
    return terms.sum() / (targets == 1).any(0).sum().clamp(min=1)


def cb_focal_naive_log(logits, targets, class_counts, beta=0.9999, gamma=2.0):
    counts = torch.as_tensor(class_counts, dtype=logits.dtype)
    weights = (1 - beta) / (1 - beta ** counts)
    p_t = torch.where(targets == 1, torch.sigmoid(logits), 1 - torch.sigmoid(logits))
    return (-weights * len(counts) / weights.sum() * (1 - p_t) ** gamma * torch.log(p_t)).mean()


def cb_focal_detached_focus(logits, targets, class_counts, beta=0.9999, gamma=2.0):
    counts = torch.as_tensor(class_counts, dtype=logits.dtype)
    weights = (1 - beta) / (1 - beta ** counts)
    z = torch.where(targets == 1, logits, -logits)
    focus = torch.exp(gamma * F.logsigmoid(-z)).detach()
    return (-weights * len(counts) / weights.sum() * focus * F.logsigmoid(z)).mean()


def cb_focal_beta_times_n(logits, targets, class_counts, beta=0.9999, gamma=2.0):
    counts = torch.as_tensor(class_counts, dtype=logits.dtype)
    weights = (1 - beta) / (1 - beta * counts)
    z = torch.where(targets == 1, logits, -logits)
    return (-weights * len(counts) / weights.sum() * torch.exp(gamma * F.logsigmoid(-z)) * F.logsigmoid(z)).mean()


def two_way_swapped(logits, targets, tp=4.0, tn=1.0):
    return line_loss(logits, targets, 1 / tp, 1 / tn, tp, tn)


def two_way_no_outer_factor(logits, targets, tp=4.0, tn=1.0):
    return line_loss(logits, targets, 1 / tn, 1 / tp)


def two_way_naive_exp(logits, targets, tp=4.0, tn=1.0):
    negatives = tn * torch.where(targets == 0, (logits / tn).exp(), 0.0).sum(1).log()
    positives = tp * torch.where(targets == 1, (-logits / tp).exp(), 0.0).sum(1).log()
    return F.softplus(negatives + positives).sum() / (targets == 1).any(1).sum().clamp(min=1)


def an_losses(logits, targets):
    return torch.where(targets == -1, F.softplus(logits), -math.inf)


def selection_topk(logits, targets, rate):
    losses_ = an_losses(logits, targets)
    k = min(math.ceil(rate * logits.numel()), int((targets == -1).sum()))
    mask = torch.zeros(logits.numel(), dtype=torch.bool)
    mask[losses_.flatten().topk(k).indices] = True
    return mask.reshape(logits.shape)


def selection_per_sample(logits, targets, rate):
    losses_ = an_losses(logits, targets)
    rows = []
    for row, labels in zip(losses_, targets):
        k = min(math.ceil(rate * row.numel()), int((labels == -1).sum()))
        rows.append(row >= row.topk(k).values[-1] if k else torch.zeros_like(labels, dtype=torch.bool))
    return torch.stack(rows)


def selection_all_entries(logits, targets, rate):
    losses_ = F.softplus(logits)
    k = math.ceil(rate * logits.numel())
    if k == 0:
        return torch.zeros_like(targets, dtype=torch.bool)
    return losses_ >= losses_.flatten().topk(k).values[-1]


def selection_floor(logits, targets, rate):
    losses_ = an_losses(logits, targets)
    k = min(math.floor(rate * logits.numel()), int((targets == -1).sum()))
    if k == 0:
        return torch.zeros_like(targets, dtype=torch.bool)
    return losses_ >= losses_.flatten().topk(k).values[-1]


def selection_naive_softplus(logits, targets, rate):
    losses_ = torch.where(targets == -1, torch.log(1 + torch.exp(logits)), -math.inf)
    k = min(math.ceil(rate * logits.numel()), int((targets == -1).sum()))
    if k == 0:
        return torch.zeros_like(targets, dtype=torch.bool)
    return losses_ >= losses_.flatten().topk(k).values[-1]


def selection_uncapped(logits, targets, rate):
    losses_ = an_losses(logits, targets)
    k = math.ceil(rate * logits.numel())
    if k == 0:
        return torch.zeros_like(targets, dtype=torch.bool)
    return losses_ >= losses_.flatten().topk(k).values[-1]


def apl_step(probs, targets, pseudo, initial, epoch, warmup, total, theta=0.9, *, free_only=True,
             descending=False, rounding=int, value=None, in_place=False):
    """An APL step a student might write; the keywords introduce one mistake each."""
    updated = pseudo if in_place else pseudo.clone()
    if epoch < warmup:
        return updated
    free = (targets == -1) & (pseudo.isnan() if free_only else True)
    keys = (-probs if descending else probs).masked_fill(~free, math.inf)
    for c in range(probs.shape[1]):
        quota = rounding(theta * int(initial[c]) / (total - warmup))
        rows = keys[:, c].argsort(stable=True)[:min(quota, int(free[:, c].sum()))]
        updated[rows, c] = probs[rows, c] if value is None else value
    return updated


def groups_right(features, weight, targets, groups, descending=False, score="lambda"):
    true_class = weight.T[targets]
    if score == "true class":
        scores = features * true_class
    else:
        scores = features * (true_class - (weight.sum(1) - true_class) / (weight.shape[1] - 1))
    ranks = scores.argsort(dim=1, descending=descending, stable=True).argsort(dim=1, stable=True)
    return ranks.div(features.shape[1] // groups, rounding_mode="floor")


def groups_rank_confusion(features, weight, targets, groups):
    true_class = weight.T[targets]
    scores = features * (true_class - (weight.sum(1) - true_class) / (weight.shape[1] - 1))
    return scores.argsort(dim=1, stable=True).div(features.shape[1] // groups, rounding_mode="floor")


def not_implemented(*args, **kwargs):
    raise NotImplementedError


# ----------------------------------------------------------------------------- references pass
IMPLEMENT_CHECKERS = {
    "lsep": (check_lsep, lambda x, t, gamma=1.0: losses.lsep_loss(x, t, gamma=gamma)),
    "c_lsep": (check_c_lsep, lambda x, t, gamma=1.0: losses.lsep_loss(x, t, gamma=gamma, class_wise=True)),
    "two_way": (check_two_way_sample, lambda x, t, tp=4.0, tn=1.0: losses.two_way_loss(x, t, tp, tn, mode="sample")),
    "selection": (check_large_loss_selection, lambda x, t, rate: losses.large_loss_selection(x, t, rate=rate)),
    "apl": (check_apl_update, losses.apl_pseudo_labels),
    "groups": (check_discriminative_groups, losses.discriminative_groups),
    "average_precision": (check_average_precision, lambda s, y: average_precision(s, y)),
    "thresholds": (check_per_class_thresholds, lambda s, y: f1_optimal_thresholds(s, y)),
    "masked_logsumexp": (check_masked_logsumexp, masked_logsumexp),
    "cb_focal": (check_cb_focal, lambda x, t, counts, beta=0.9999, gamma=2.0:
                 losses.class_balanced_focal_loss(x, t, counts, beta=beta, gamma=gamma)),
}


@pytest.mark.parametrize("name", IMPLEMENT_CHECKERS)
def test_the_mlteach_reference_passes_its_checker(name):
    checker, reference = IMPLEMENT_CHECKERS[name]
    result = checker(reference)
    assert result.passed, repr(result)
    assert len(result.cases) >= 5


@pytest.mark.parametrize("name", IMPLEMENT_CHECKERS)
def test_a_stub_is_reported_as_not_implemented(name):
    checker, _ = IMPLEMENT_CHECKERS[name]
    result = checker(not_implemented)
    assert result.status == "not implemented" and not result.passed
    assert "not_implemented raised NotImplementedError" in result.hint
    assert "not implemented yet" in repr(result) and "not implemented yet" in result._repr_html_()


def _solution_results(page: Path) -> list:
    """Run a page's imports, stubs and checked solutions in one namespace (no training cells);
    the value of every solution cell that ends with a checker call."""
    namespace, results, inside, first = {}, [], False, True
    for cell in jupytext.read(page).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if "{solution-start}" in line:
                    inside = True
                elif "{solution-end}" in line:
                    inside = False
            continue
        source = cell.source
        stub = "NotImplementedError" in source or "= None  # replace" in source
        if not (first or stub or (inside and "check_" in source)):
            continue
        first = False
        tree = ast.parse(source)
        last = tree.body.pop() if isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, str(page), "exec"), namespace)
        if inside and last is not None:
            results.append(eval(compile(ast.Expression(last.value), str(page), "eval"), namespace))
    return results


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_solution_on_the_pages_passes_its_checker(page):
    results = _solution_results(page)
    assert len(results) >= 2
    for result in results:
        assert result.passed, repr(result)


# ----------------------------------------------------------------------------- wrong answers
WRONG_ANSWERS = [
    (check_lsep, lsep_naive_exp, "overflow at |x| = 1e4: compute in log space with torch.logsumexp"),
    (check_lsep, lsep_mean_over_samples, "mean over all samples, but the loss averages over the samples that have a "
                                         "positive"),
    (check_lsep, lsep_pairwise, "|P| x |N| tensor of pairwise differences"),
    (check_lsep, lsep_unknown_as_negative, "counted them as negatives"),
    (check_lsep, lsep_no_guard, "a batch without any positive gave NaN"),
    (check_lsep, lsep_hand_made_shift, "the empty set must contribute 0 (softplus(-inf) = 0); mask with -inf and use "
                                       "torch.logsumexp"),
    (check_lsep, lsep_mask_constant, "a finite mask constant (such as -100 or -1e4)"),
    (check_c_lsep, c_lsep_per_sample, "you computed one term per sample"),
    (check_c_lsep, c_lsep_mean_over_classes, "the DR loss's convention"),
    (check_c_lsep, c_lsep_pairwise, "|P| x |N| tensor of pairwise differences"),
    (check_two_way_sample, two_way_swapped, "your temperatures are swapped"),
    (check_two_way_sample, two_way_no_outer_factor, "multiplied back by its temperature"),
    (check_two_way_sample, two_way_naive_exp, "overflow at |x| = 1e4"),
    (check_large_loss_selection, selection_topk, "torch.topk keeps exactly k"),
    (check_large_loss_selection, selection_per_sample, "you selected per sample"),
    (check_large_loss_selection, selection_all_entries, "only unknown entries (target -1) are ranked"),
    (check_large_loss_selection, selection_floor, "you rounded down"),
    (check_large_loss_selection, selection_naive_softplus, "overflow at |x| = 1e4: log(1 + exp(x)) is inf"),
    (check_large_loss_selection, selection_uncapped, "cap k at that number"),
    (check_apl_update, lambda *a: apl_step(*a, free_only=False), "you revised pseudo-labels"),
    (check_apl_update, lambda *a: apl_step(*a, descending=True), "take the lowest probabilities"),
    (check_apl_update, lambda *a: apl_step(*a, rounding=math.ceil), "you rounded up"),
    (check_apl_update, lambda *a: apl_step(*a, value=0.0), "the pseudo-target is the probability itself"),
    (check_apl_update, lambda *a: apl_step(*a, in_place=True), "never into the caller's tensors"),
    (check_discriminative_groups, lambda *a: groups_right(*a, descending=True), "your groups are in reverse order"),
    (check_discriminative_groups, lambda *a: groups_right(*a, score="true class"), "you sorted by z_jy alone"),
    (check_discriminative_groups, groups_rank_confusion, "as if it were each element's rank"),
    (check_cb_focal, lambda *a, **k: wrong_cb_focal(*a, **k, normalise=False), "so that the C weights sum to C"),
    (check_cb_focal, lambda *a, **k: wrong_cb_focal(*a, **k, weights="frequency"), "inverse frequency 1 / n_c"),
    (check_cb_focal, lambda *a, **k: wrong_cb_focal(*a, **k, weights="effective number"),
     "the weight is the *inverse* of the effective number"),
    (check_cb_focal, lambda *a, **k: wrong_cb_focal(*a, **k, weight_on="positives"), "you weighted the positives only"),
    (check_cb_focal, lambda *a, **k: wrong_cb_focal(*a, **k, unknown="ignored"), "unknown targets (-1) count as "
                                                                                 "negatives"),
    (check_cb_focal, lambda *a, **k: wrong_cb_focal(*a, **k, reduction="positives"), "not the sum divided by the "
                                                                                     "number of positives"),
    (check_cb_focal, cb_focal_naive_log, "overflow at |x| = 1e4: sigmoid(x) rounds to exactly 0 or 1"),
    (check_cb_focal, cb_focal_detached_focus, "is differentiated too (no .detach() on it)"),
    (check_cb_focal, cb_focal_beta_times_n, "the power beta ** n (beta to the n-th), not the product beta * n"),
]


@pytest.mark.parametrize("checker, answer, hint", WRONG_ANSWERS,
                         ids=[f"{c.__name__}-{getattr(a, '__name__', i)}" for i, (c, a, _) in enumerate(WRONG_ANSWERS)])
def test_a_typical_wrong_answer_fails_with_the_hint_that_names_it(checker, answer, hint):
    result = checker(answer)
    assert result.status == "failed"
    assert hint in result.hint, repr(result)
    assert hint in repr(result) and "✘" in repr(result)


def test_an_unexpected_exception_or_warning_is_reported_not_raised():
    def wrong_signature(logits, targets):  # no gamma keyword
        return logits.sum()

    def warns(logits, targets, gamma=1.0):
        warnings.warn("a deliberate warning")
        return losses.lsep_loss(logits, targets, gamma=gamma)

    result = check_lsep(wrong_signature)
    assert result.status == "failed" and "must accept (logits, targets, gamma=...)" in result.hint
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warned = check_lsep(warns)
    assert warned.passed and "a deliberate warning" in warned.cases[0].detail


def test_the_display_names_cases_and_escapes_html():
    result = check_lsep(lsep_mean_over_samples)
    text, page = repr(result), result._repr_html_()
    assert text.startswith("LSEP (per sample):") and "Hint (a sample without positives" in text
    for case in result.cases:
        assert case.name in text
    assert "<li>" in page and "Hint" in page and "|P| x |N|" in page


# ----------------------------------------------------------------------------- symbolic checkers
def _symbolic_exercises():
    positives, negatives, tp, tn = two_way_gradient_symbols()
    u = (tn * sp.log(sum(sp.exp(x / tn) for x in negatives))
         + tp * sp.log(sum(sp.exp(-x / tp) for x in positives)))
    share = sp.exp(negatives[0] / tn) / sum(sp.exp(x / tn) for x in negatives)
    two_way = share / (1 + sp.exp(-u))

    (s_p1, s_p2), (s_n1, s_n2), g1, g2 = ngc_gradient_symbols()
    positive_sum = sp.exp(-g1 * s_p1) + sp.exp(-g1 * s_p2)
    ngc = ((g1 * sp.exp(g1 * s_n1) * positive_sum + g2 * sp.exp(g2 * s_n1))
           / (1 + (sp.exp(g1 * s_n1) + sp.exp(g1 * s_n2)) * positive_sum + sp.exp(g2 * s_n1) + sp.exp(g2 * s_n2)))

    rho, gamma, a = ngc_threshold_symbols()
    threshold = a + (sp.log(rho) - sp.log(1 - rho) - sp.log(1 + sp.exp(gamma * a))) / gamma  # another form

    g, batch, classes = corrected_gradient_symbols()
    corrected = -1 / (batch * classes * (1 + sp.exp(g)))

    g, s, beta = apl_term_symbols()
    apl = beta * sp.exp(g) / (1 + sp.exp(g)) - beta * s

    margins = margin_symbols()
    type_two = sum(-sp.log(1 / (1 + sp.exp(-m))) for m in margins)

    return {
        "two_way": (check_two_way_negative_gradient, two_way),
        "ngc": (check_ngc_gradient, ngc),
        "threshold": (check_ngc_threshold, threshold),
        "corrected": (check_corrected_entry_gradient, corrected),
        "apl": (check_apl_term_gradient, apl),
        "type_two": (check_two_class_type_two_loss, type_two),
    }


SYMBOLIC = _symbolic_exercises()


@pytest.mark.parametrize("name", SYMBOLIC)
def test_symbolic_checkers_accept_an_equivalent_form_and_reject_its_sign_error(name):
    checker, answer = SYMBOLIC[name]
    accepted = checker(answer)
    assert accepted.passed, repr(accepted)
    rejected = checker(-answer)
    assert rejected.status == "failed"
    assert rejected.hint == "your expression differs from the reference by a sign: it equals -1 times the reference."
    assert checker(None).status == "not implemented"


def test_symbolic_checkers_name_the_known_mistakes():
    (s_p1, s_p2), (s_n1, s_n2), g1, _ = ngc_gradient_symbols()
    eq9 = (g1 * sp.exp(g1 * s_n1) * (sp.exp(-g1 * s_p1) + sp.exp(-g1 * s_p2))
           / (1 + sum(sp.exp(g1 * (sj - si)) for si in (s_p1, s_p2) for sj in (s_n1, s_n2))))
    assert "that is the C-LSEP gradient (eq. 9)" in check_ngc_gradient(eq9).hint
    rho, gamma, a = ngc_threshold_symbols()
    assert "that is the C-LSEP threshold" in check_ngc_threshold(a + sp.log(rho / (1 - rho)) / gamma).hint
    g, batch, classes = corrected_gradient_symbols()
    assert "divide by B C" in check_corrected_entry_gradient(sigmoid(g) - 1).hint
    halved = (sigmoid(g) - 1) / (2 * batch * classes)
    assert "multiplied by the constant 1/2" in check_corrected_entry_gradient(halved).hint
    margins = margin_symbols()
    type_one = sum(sp.log(1 + sp.exp(-3 * m)) for m in margins) / 3
    assert "that is type I" in check_two_class_type_two_loss(type_one).hint


def test_symbols_are_matched_by_name_and_foreign_symbols_are_named():
    g = sp.Symbol("g")  # no assumptions, unlike the exercise's real g
    batch, classes = sp.symbols("B C")
    assert check_corrected_entry_gradient((sigmoid(g) - 1) / (batch * classes)).passed
    result = check_corrected_entry_gradient(sp.Symbol("x") / (batch * classes))
    assert result.status == "failed" and "exercise's symbols only: g, B, C" in result.hint


def test_check_expression_falls_back_to_numbers_when_sympy_cannot_simplify():
    p = sp.Symbol("p", positive=True)
    result = check_expression(sp.atan(p) + sp.atan(1 / p), sp.pi / 2, [p])
    assert result.passed
    assert "could not simplify" in result.cases[-1].detail
    assert "reference plus the constant 1:" in check_expression(sp.atan(p) + sp.atan(1 / p) + 1, sp.pi / 2, [p]).hint


def test_a_loss_submission_must_return_one_tensor_number():
    from mlteach.exercises.feedback import Failure, scalar_loss

    value = torch.tensor(0.5)
    assert scalar_loss(value, "the terms") is value
    with pytest.raises(Failure, match="returned a float"):
        scalar_loss(0.5, "the terms")
    with pytest.raises(Failure, match=r"returned a tensor of shape \(2, 3\)") as caught:
        scalar_loss(torch.zeros(2, 3), "the per-sample terms")
    assert "the mean of the per-sample terms" in caught.value.hint
