"""Checkers of chapter 3 (the DR loss): C-LSEP to implement, the NGC gradient and its threshold
to derive.

- :func:`check_c_lsep`: ``my_c_lsep(logits, targets, gamma=1.0)``, class-wise LSEP in O(B C),
  against :func:`mlteach.losses.lsep_loss` with ``class_wise=True``;
- :func:`check_ngc_gradient`: d L_DR / d s_n1 (DR paper eq. 10) for a class column with
  positives s_p1, s_p2 and negatives s_n1, s_n2 (SymPy);
- :func:`check_ngc_threshold`: the negative logit at which the DR gradient reaches the fraction
  rho of its maximum, for one positive at ``a``, one negative, and gamma_1 = gamma_2 = gamma;
- :func:`check_cb_focal`: ``my_cb_focal(logits, targets, class_counts, beta=0.9999, gamma=2.0)``,
  the class-balanced focal loss (a baseline of the DR paper's Table 1), against
  :func:`mlteach.losses.class_balanced_focal_loss`.
"""

from __future__ import annotations

import math

import sympy as sp
import torch
import torch.nn.functional as F

from mlteach.losses import class_balanced_focal_loss, lsep_loss
from mlteach.symbolic.ranking import clsep_negative_gradient, dr_line_loss

from .feedback import CheckResult, Failure, call, run_cases, scalar_loss
from .line_losses import LineLossExercise, check_line_loss, common_mistakes, gamma_mistakes
from .symbolic import check_expression

__all__ = ["check_c_lsep", "check_ngc_gradient", "check_ngc_threshold", "ngc_gradient_symbols",
           "ngc_threshold_symbols", "C_LSEP", "check_cb_focal", "wrong_cb_focal"]


def _scales(gamma=1.0):
    return {"neg_scale": gamma, "pos_scale": gamma}


def _c_lsep_reference(logits, targets, gamma=1.0):
    return lsep_loss(logits, targets, gamma=gamma, class_wise=True)


C_LSEP = LineLossExercise(
    title="C-LSEP (class-wise LSEP)",
    reference=_c_lsep_reference,
    dim=0,
    params={"gamma": 1.0},
    other_params={"gamma": 5.0},
    formula="softplus(LSE_{j in N}(gamma s_j) + LSE_{i in P}(-gamma s_i)) over the batch",
    factorised=("Factorise the double sum of each class: sum_i sum_j exp(gamma (s_j - s_i)) = "
                "(sum_j exp(gamma s_j)) (sum_i exp(-gamma s_i)), so the loss of a class is "
                "softplus(LSE_j(gamma s_j) + LSE_i(-gamma s_i)) over the batch: O(B C) memory."),
    mistakes=(
        *common_mistakes(_c_lsep_reference, 0, _scales,
                         mean_over_all="you averaged over all C classes (the DR loss's convention); C-LSEP, like "
                                       "lsep_loss(class_wise=True), averages over the classes that have a positive "
                                       "in the batch."),
        *gamma_mistakes(0, "scores"),
    ),
)


def check_c_lsep(my_c_lsep) -> CheckResult:
    """Check ``my_c_lsep(logits, targets, gamma=1.0)``: LSEP per class (column, over the batch),
    averaged over the classes that have a positive, in O(B C) memory."""
    return check_line_loss(my_c_lsep, C_LSEP)


def ngc_gradient_symbols() -> tuple[list[sp.Symbol], list[sp.Symbol], sp.Symbol, sp.Symbol]:
    """The exercise's symbols: positives ``[s_p1, s_p2]``, negatives ``[s_n1, s_n2]`` (real),
    ``gamma_1``, ``gamma_2`` (positive)."""
    positives = list(sp.symbols("s_p1 s_p2", real=True))
    negatives = list(sp.symbols("s_n1 s_n2", real=True))
    gamma1, gamma2 = sp.symbols("gamma_1 gamma_2", positive=True)
    return positives, negatives, gamma1, gamma2


def check_ngc_gradient(expr) -> CheckResult:
    """Check a SymPy expression for d L / d s_n1, where L is the DR loss (eq. 8, C-LSEP with the
    negative gradient constraint) of a class column with positives s_p1, s_p2 and negatives
    s_n1, s_n2."""
    positives, negatives, gamma1, gamma2 = ngc_gradient_symbols()
    reference = sp.diff(dr_line_loss(positives, negatives, gamma1, gamma2, "negative"), negatives[0])
    pairs = sp.Add(*[sp.exp(gamma1 * (sj - si)) for si in positives for sj in negatives])
    constraint = sp.Add(*[sp.exp(gamma2 * sj) for sj in negatives])
    s_k = negatives[0]
    pair_part = gamma1 * sp.exp(gamma1 * s_k) * sp.Add(*[sp.exp(-gamma1 * si) for si in positives])
    mistakes = [
        (clsep_negative_gradient(positives, negatives, 0, gamma1),
         "that is the C-LSEP gradient (eq. 9). The NGC term sum_j exp(gamma_2 s_j) inside the logarithm adds "
         "gamma_2 exp(gamma_2 s_k) to the numerator and the whole sum to the denominator."),
        ((pair_part + gamma2 * sp.exp(gamma2 * s_k)) / (1 + pairs),
         "the NGC sum sits inside the logarithm, so it also enters the denominator: "
         "1 + sum_i sum_j exp(gamma_1 (s_j - s_i)) + sum_j exp(gamma_2 s_j)."),
        (pair_part / (1 + pairs + constraint),
         "the NGC term depends on s_k too: differentiating exp(gamma_2 s_k) adds gamma_2 exp(gamma_2 s_k) "
         "to the numerator."),
        ((pair_part / gamma1 + sp.exp(gamma2 * s_k)) / (1 + pairs + constraint),
         "the chain rule brings gamma_1 and gamma_2 down from the exponents: the numerator is "
         "gamma_1 exp(gamma_1 s_k) sum_i exp(-gamma_1 s_i) + gamma_2 exp(gamma_2 s_k)."),
    ]
    symbols = [*positives, *negatives, gamma1, gamma2]
    return check_expression(expr, reference, symbols, exercise="NGC gradient at a negative (eq. 10)",
                            mistakes=mistakes)


def ngc_threshold_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """The exercise's symbols: ``rho`` (the fraction, in (0, 1)), ``gamma`` (positive) and ``a``
    (the positive's logit, real)."""
    rho, gamma = sp.symbols("rho gamma", positive=True)
    return rho, gamma, sp.Symbol("a", real=True)


def check_ngc_threshold(expr) -> CheckResult:
    """Check a SymPy expression for the negative logit s at which the DR negative gradient of a
    column with one positive (logit ``a``) and one negative (logit s), with gamma_1 = gamma_2 =
    gamma, reaches the fraction ``rho`` of its supremum gamma."""
    rho, gamma, a = ngc_threshold_symbols()
    logit = sp.log(rho / (1 - rho))
    reference = (logit - sp.log(1 + sp.exp(-gamma * a))) / gamma
    mistakes = [
        (a + logit / gamma,
         "that is the C-LSEP threshold, without the NGC. With gamma_1 = gamma_2 = gamma the DR gradient is "
         "gamma sigma(gamma s + log(1 + exp(-gamma a))): solve sigma(...) = rho."),
        ((logit - sp.log(2)) / gamma,
         "that is the answer for a positive at a = 0 only: the pair term exp(gamma (s - a)) depends on a, "
         "the NGC term exp(gamma s) does not; keep both."),
        ((logit + sp.log(1 + sp.exp(-gamma * a))) / gamma,
         "check the sign of the log(1 + exp(-gamma a)) term: the NGC adds gradient to the negative, so the "
         "gradient rises earlier and the threshold is lower than without it."),
    ]
    return check_expression(expr, reference, [rho, gamma, a], exercise="threshold of the NGC gradient",
                            mistakes=mistakes, ranges={"rho": (0.05, 0.95), "gamma": (0.5, 6.0)})


# ----------------------------------------------------------------------------- CB focal

def wrong_cb_focal(logits: torch.Tensor, targets: torch.Tensor, class_counts, beta: float = 0.9999,
                   gamma: float = 2.0, *, weights: str = "effective", normalise: bool = True,
                   weight_on: str = "all", unknown: str = "negative", reduction: str = "mean") -> torch.Tensor:
    """The class-balanced focal loss with one rule changed (the defaults give the right one):
    ``weights`` ``"effective"`` (1 / E_n, E_n = (1 - beta^n) / (1 - beta)), ``"frequency"``
    (1 / n), ``"effective number"`` (E_n itself) or ``"beta times n"`` (1 - beta n in place of
    1 - beta^n); ``normalise`` the weights to sum to C or
    not; the weight on ``"all"`` entries of its class or on its ``"positives"`` only;
    ``unknown`` targets as ``"negative"`` or ``"ignored"``; ``reduction`` ``"mean"`` over
    B C entries, ``"sum"`` or ``"positives"`` (divided by the number of positives)."""
    counts = torch.as_tensor(class_counts, dtype=torch.float64)
    effective = (1 - beta ** counts) / (1 - beta)
    per_class = {"effective": 1 / effective, "frequency": 1 / counts, "effective number": effective,
                 "beta times n": (1 - beta) / (1 - beta * counts)}[weights]
    if normalise:
        per_class = per_class * counts.numel() / per_class.sum()
    positive = (targets == 1).to(logits.dtype)
    weight = per_class.to(logits.dtype)
    if weight_on == "positives":
        weight = positive * weight + (1 - positive)
    margin = torch.where(targets == 1, logits, -logits)
    terms = -weight * torch.exp(gamma * F.logsigmoid(-margin)) * F.logsigmoid(margin)
    if unknown == "ignored":
        terms = terms * (targets != -1)
    if reduction == "sum":
        return terms.sum()
    if reduction == "positives":
        return terms.sum() / positive.sum().clamp(min=1)
    return terms.mean()


_CB_CALL = ("your function must accept (logits, targets, class_counts, beta=..., gamma=...) and return the loss; "
            "read the traceback of a call on these inputs.")
_CB_MISTAKES = (
    ({"normalise": False}, "normalise the weights as Cui et al. do: scale (1 - beta) / (1 - beta^n_c) so that the "
                           "C weights sum to C (w = C w_raw / w_raw.sum())."),
    ({"weights": "frequency"}, "you weighted by the inverse frequency 1 / n_c; CB weights by the inverse *effective* "
                               "number of samples, (1 - beta) / (1 - beta^n_c): E_n saturates at 1 / (1 - beta), so "
                               "a frequent class is down-weighted less than 1 / n_c would."),
    ({"weights": "effective number"}, "the weight is the *inverse* of the effective number E_n = (1 - beta^n) / "
                                      "(1 - beta): rare classes must weigh more, not less."),
    ({"weights": "beta times n"}, "the effective number uses the power beta ** n (beta to the n-th), not the "
                                  "product beta * n: E_n = (1 - beta ** n) / (1 - beta)."),
    ({"weight_on": "positives"}, "the weight of class c multiplies every term of class c, the negatives' too (in "
                                 "the multi-label form each class is its own binary problem); you weighted the "
                                 "positives only."),
    ({"unknown": "ignored"}, "unknown targets (-1) count as negatives here, as in every BCE-family baseline of the "
                             "chapter: treat targets.clamp(min=0) as the labels."),
    ({"reduction": "sum"}, "return the mean over the B C entries, not their sum."),
    ({"reduction": "positives"}, "return the mean over all B C entries (the focal loss's convention), not the sum "
                                 "divided by the number of positives."),
)


def _cb_batch(rows: int, seed: int, scale: float = 3.0, unknown: bool = False):
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(rows, 4, generator=generator, dtype=torch.float64)
    targets = torch.randint(-1 if unknown else 0, 2, (rows, 4), generator=generator).double()
    return logits, targets


def _cb_value(fn, logits, targets, counts, beta, gamma) -> torch.Tensor:
    value = call(fn, logits, targets, counts, beta=beta, gamma=gamma, on_error=_CB_CALL)
    return scalar_loss(value, "the B C per-entry terms")


def _cb_compare(fn, logits, targets, counts, beta, gamma, hint: str, nan_hint: str | None = None) -> str:
    expected = float(class_balanced_focal_loss(logits.detach(), targets, counts, beta=beta, gamma=gamma))
    got = float(_cb_value(fn, logits, targets, counts, beta, gamma).detach())
    if not math.isfinite(got):
        raise Failure(f"got {got}, expected {expected:.6g}",
                      nan_hint or "your loss is NaN or infinite on an ordinary batch: look for log(0) or 0 / 0.")
    if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
        for changes, mistake_hint in _CB_MISTAKES:
            wrong = float(wrong_cb_focal(logits.detach(), targets, counts, beta, gamma, **changes))
            if math.isclose(got, wrong, rel_tol=1e-6, abs_tol=1e-9) \
                    and not math.isclose(wrong, expected, rel_tol=1e-6, abs_tol=1e-9):
                hint = mistake_hint
                break
        raise Failure(f"got {got:.6g}, expected {expected:.6g}", hint)
    return f"{got:.6g}, as expected"


def check_cb_focal(my_cb_focal) -> CheckResult:
    """Check ``my_cb_focal(logits, targets, class_counts, beta=0.9999, gamma=2.0)``: the sigmoid
    focal loss with the weight of class c, C (1 - beta) / (1 - beta^n_c) / sum_j (1 - beta) /
    (1 - beta^n_j), on every term of class c; unknown targets as negatives; the mean over the
    B C entries."""
    formula = ("per entry, -w_c (1 - p_t)^gamma log p_t with p_t = sigmoid(x) on positives and sigmoid(-x) on "
               "negatives, w_c = C (1 - beta) / (1 - beta^n_c) / sum_j (1 - beta) / (1 - beta^n_j); then the mean "
               "over the B C entries.")
    long_tail = [400, 60, 9, 2]

    def random_batch(fn):
        logits, targets = _cb_batch(5, seed=1)
        return _cb_compare(fn, logits, targets, long_tail, 0.999, 2.0, f"your value differs from the reference: "
                                                                        f"{formula}")

    def beta_zero(fn):
        logits, targets = _cb_batch(5, seed=2)
        return _cb_compare(fn, logits, targets, long_tail, 0.0, 2.0,
                           "with beta = 0 every effective number is 1, so every weight is 1 and the loss is the "
                           "plain focal loss: compute 1 - beta ** n as it is written (log(beta) is -inf at "
                           "beta = 0).")

    def gamma_zero(fn):
        logits, targets = _cb_batch(5, seed=3)
        return _cb_compare(fn, logits, targets, long_tail, 0.9, 0.0,
                           "with gamma = 0 the focusing factor (1 - p_t)^gamma is 1: the loss is class-balanced "
                           "BCE. Check that gamma is the exponent of (1 - p_t).")

    def weights_by_class(fn):
        logits, targets = _cb_batch(6, seed=4)
        counts = [5000, 800, 30, 1]  # weights far from equal: each class's terms need their own weight
        return _cb_compare(fn, logits, targets, counts, 0.9999, 1.0,
                           "each entry of class c gets the weight of class c (whatever its target), and the "
                           "weights are normalised to sum to C.")

    def unknown_entries(fn):
        logits, targets = _cb_batch(6, seed=5, unknown=True)
        return _cb_compare(fn, logits, targets, long_tail, 0.999, 2.0,
                           "unknown targets (-1) count as negatives: use targets.clamp(min=0) as the labels.")

    def large_logits(fn):
        logits, targets = _cb_batch(4, seed=6, scale=1e4)
        return _cb_compare(fn, logits, targets, long_tail, 0.999, 2.0,
                           "the value is finite but wrong at |x| = 1e4: compute log p_t as F.logsigmoid of the "
                           "signed logit, not as the log of a clamped probability.",
                           nan_hint="overflow at |x| = 1e4: sigmoid(x) rounds to exactly 0 or 1 and log(0) = -inf; "
                                    "compute log p_t = F.logsigmoid(z) with z = x on positives and -x on negatives, "
                                    "and (1 - p_t)^gamma = exp(gamma * F.logsigmoid(-z)).")

    def gradient(fn):
        logits, targets = _cb_batch(5, seed=7, unknown=True)
        reference = logits.clone().requires_grad_(True)
        reference_loss = class_balanced_focal_loss(reference, targets, long_tail, beta=0.99)
        (expected,) = torch.autograd.grad(reference_loss, reference)
        _cb_compare(fn, logits, targets, long_tail, 0.99, 2.0, f"your value differs from the reference: {formula}")
        logits = logits.clone().requires_grad_(True)
        value = _cb_value(fn, logits, targets, long_tail, 0.99, 2.0)
        if value.grad_fn is None:
            raise Failure("the loss is not connected to the logits",
                          "compute the loss with torch operations only (no .item(), .numpy(), float() or "
                          "torch.tensor(...) on intermediate values) so that autograd can differentiate it.")
        (grad,) = torch.autograd.grad(value.reshape(()), logits)
        if not torch.allclose(grad, expected, rtol=1e-5, atol=1e-9):
            raise Failure(f"largest gradient error {float((grad - expected).abs().max()):.3g}",
                          "the values agree but the gradients do not: the focusing factor (1 - p_t)^gamma is part "
                          "of the loss and is differentiated too (no .detach() on it).")
        return "matches the autograd gradient of the reference"

    def batch_of_one(fn):
        logits, targets = _cb_batch(1, seed=8)
        value = _cb_value(fn, logits, targets, long_tail, 0.999, 2.0)
        if value.dim() != 0:
            raise Failure(f"returned shape {tuple(value.shape)}",
                          "return a 0-dim tensor (a scalar), as torch losses do.")
        return _cb_compare(fn, logits, targets, long_tail, 0.999, 2.0,
                           "a batch of one sample must work like any other batch: avoid .squeeze() and reductions "
                           "that assume B > 1.")

    cases = {
        "a random batch": random_batch,
        "beta = 0 gives the focal loss": beta_zero,
        "gamma = 0 gives class-balanced BCE": gamma_zero,
        "very unequal counts (one weight per class)": weights_by_class,
        "unknown targets (-1) count as negatives": unknown_entries,
        "logits of size 1e4": large_logits,
        "the gradient": gradient,
        "a batch of one sample": batch_of_one,
    }
    return run_cases("class-balanced focal loss", my_cb_focal, cases)
