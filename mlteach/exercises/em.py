"""Checkers of chapter 5 (EM and APL): the gradient of a pseudo-labelled entry to derive, the
APL update to implement.

- :func:`check_apl_term_gradient`: d/dg of beta BCE(sigma(g), s), the term of an unknown entry
  with the soft pseudo-target s (SymPy);
- :func:`check_apl_update`: ``my_apl_update(probs, targets, pseudo_targets, initial_unknown,
  epoch, warmup_epochs, total_epochs, theta=0.9)``, one APL step, against
  :func:`mlteach.losses.apl_pseudo_labels`.
"""

from __future__ import annotations

import math

import sympy as sp
import torch

from mlteach.losses import apl_pseudo_labels
from mlteach.symbolic.em import pseudo_label_term
from mlteach.symbolic.functions import sigmoid

from .feedback import CheckResult, Failure, call, run_cases
from .symbolic import check_expression

__all__ = ["check_apl_term_gradient", "apl_term_symbols", "check_apl_update", "wrong_apl_update"]


def apl_term_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """The exercise's symbols: the logit ``g`` (real), the soft target ``s`` in (0, 1) and the
    weight ``beta`` (positive)."""
    g = sp.Symbol("g", real=True)
    s, beta = sp.symbols("s beta", positive=True)
    return g, s, beta


def check_apl_term_gradient(expr) -> CheckResult:
    """Check a SymPy expression for the derivative with respect to g of beta BCE(sigma(g), s),
    the EM loss term of an unknown entry with the APL pseudo-target s."""
    g, s, beta = apl_term_symbols()
    reference = sp.diff(pseudo_label_term(g, s, beta), g)
    mistakes = [
        (beta * sigmoid(g), "that is the gradient for the hard negative target 0; with the soft target s the "
                            "gradient of BCE(sigma(g), s) is sigma(g) - s."),
        (sigmoid(g) - s, "the term is weighted by beta: multiply the BCE gradient by beta."),
        (beta * (sigmoid(g) - 1), "that is the gradient of a positive target 1; APL gives the soft negative "
                                  "target s."),
    ]
    return check_expression(expr, reference, [g, s, beta], exercise="gradient of a pseudo-labelled entry",
                            mistakes=mistakes, ranges={"s": (0.05, 0.95)})


def wrong_apl_update(probs, targets, pseudo_targets, initial_unknown, epoch, warmup_epochs, total_epochs, theta=0.9,
                     *, revise: bool = False, highest: bool = False, rounding=int, quota_from: str = "initial",
                     per_class: bool = True, zero: bool = False, from_epoch_after: bool = False) -> torch.Tensor:
    """The APL step with one rule changed (the defaults give the right one): ``revise`` existing
    pseudo-labels; take the ``highest`` probabilities; ``rounding`` of the quota; quota from the
    ``"initial"`` unknown counts or the ``"current"`` candidates; quotas ``per_class`` or pooled;
    target ``zero`` instead of p; start only after the warm-up epoch (``from_epoch_after``)."""
    updated = pseudo_targets.clone()
    if epoch < warmup_epochs or (from_epoch_after and epoch == warmup_epochs):
        return updated
    candidates = targets == -1
    if not revise:
        candidates &= pseudo_targets.isnan()
    counts = torch.as_tensor(initial_unknown) if quota_from == "initial" else candidates.sum(0)
    quotas = [rounding(theta * int(u) / (total_epochs - warmup_epochs)) for u in counts.tolist()]
    keys = (-probs if highest else probs).masked_fill(~candidates, math.inf)
    chosen = torch.zeros_like(candidates)
    if per_class:
        for c, quota in enumerate(quotas):
            order = keys[:, c].argsort(stable=True)[:min(quota, int(candidates[:, c].sum()))]
            chosen[order, c] = True
    else:
        order = keys.flatten().argsort(stable=True)[:min(sum(quotas), int(candidates.sum()))]
        chosen.view(-1)[order] = True
    updated[chosen] = 0.0 if zero else probs[chosen]
    return updated


_MISTAKES = (
    ({"revise": True}, "you revised pseudo-labels: an entry that already has a pseudo-target (not NaN) keeps it; "
                       "choose only among unknown entries without one."),
    ({"highest": True}, "APL gives soft *negative* targets to the entries least likely to be positive: take the "
                        "lowest probabilities (ascending sort), not the highest."),
    ({"rounding": math.ceil}, "the quota is int(theta U_c / (E - T_w)), rounded down; you rounded up."),
    ({"rounding": round}, "the quota is int(theta U_c / (E - T_w)), rounded down; you rounded to the nearest."),
    ({"quota_from": "current"}, "the quota uses U_c, the number of unknown entries of class c at the start "
                                "(initial_unknown), not the number of entries still free."),
    ({"per_class": False}, "the quota is per class: rank each column (class) on its own, not the whole matrix."),
    ({"zero": True}, "the pseudo-target is the probability itself (the soft negative s = p), not 0."),
    ({"from_epoch_after": True}, "APL runs after every epoch e >= T_w: at e = T_w it already labels."),
    ({"theta": 1.0}, "the quota is theta U_c / (E - T_w): multiply by theta."),
)

_CALL_ERROR = ("your function must accept (probs, targets, pseudo_targets, initial_unknown, epoch, warmup_epochs, "
               "total_epochs, theta) and return the new pseudo-targets; read the traceback of a call on these "
               "inputs.")


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal, NaN where the other is NaN."""
    return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(-1.0), b.nan_to_num(-1.0))


def _setting(seed: int, rows: int = 12, classes: int = 3, known_negatives: bool = False):
    """Eval-mode probabilities, single-positive targets (optionally with some known negatives),
    no pseudo-labels yet, and the initial unknown counts."""
    generator = torch.Generator().manual_seed(seed)
    probs = torch.rand(rows, classes, generator=generator, dtype=torch.float64)
    targets = torch.full((rows, classes), -1.0, dtype=torch.float64)
    targets[torch.arange(rows), torch.randint(0, classes, (rows,), generator=generator)] = 1.0
    if known_negatives:
        lowest = probs.masked_fill(targets == 1, math.inf).argmin(0)
        targets[lowest, torch.arange(classes)] = 0.0  # each class's least likely entry is a known negative
    pseudo = torch.full_like(probs, math.nan)
    return probs, targets, pseudo, (targets == -1).sum(0)


def _compare(fn, probs, targets, pseudo, initial, epoch, warmup, total, theta=0.9, hint: str = "") -> str:
    expected = apl_pseudo_labels(probs, targets, pseudo, initial, epoch, warmup, total, theta)  # before the call
    updated = call(fn, probs, targets, pseudo, initial, epoch, warmup, total, theta, on_error=_CALL_ERROR)
    if not isinstance(updated, torch.Tensor) or updated.shape != probs.shape:
        described = f"shape {tuple(updated.shape)}" if isinstance(updated, torch.Tensor) else type(updated).__name__
        raise Failure(f"returned {described}",
                      f"return the new pseudo-targets: a float tensor of shape {tuple(probs.shape)}, NaN where an "
                      "entry has no pseudo-label.")
    touched = (targets != -1) & ~updated.isnan()
    if bool(touched.any()):
        raise Failure(f"{int(touched.sum())} known entries got a pseudo-target",
                      "only unknown entries (target -1) are pseudo-labelled; known positives and negatives keep "
                      "NaN.")
    if not _same(updated, expected):
        for changes, mistake_hint in _MISTAKES:
            arguments = {"theta": theta} | changes
            wrong = wrong_apl_update(probs, targets, pseudo, initial, epoch, warmup, total,
                                     **arguments)
            if _same(updated, wrong) and not _same(wrong, expected):
                hint = mistake_hint
                break
        before = int((~pseudo.isnan()).sum())
        raise Failure(f"{int((~updated.isnan()).sum()) - before} new pseudo-labels, expected "
                      f"{int((~expected.isnan()).sum()) - before}", hint)
    return f"{int((~updated.isnan()).sum())} pseudo-labels, as expected"


def check_apl_update(my_apl_update) -> CheckResult:
    """Check ``my_apl_update(probs, targets, pseudo_targets, initial_unknown, epoch,
    warmup_epochs, total_epochs, theta=0.9)``: after each epoch e >= T_w, for each class c, the
    int(theta U_c / (E - T_w)) unknown entries without a pseudo-label and with the lowest
    probability get the soft target s = p; the caller's tensors are left unchanged."""
    rule = ("for each class c, among the unknown entries without a pseudo-label, the int(theta U_c / (E - T_w)) "
            "with the lowest probability get the pseudo-target p; the others are unchanged.")

    def after_warmup(fn):
        probs, targets, pseudo, initial = _setting(seed=1)
        return _compare(fn, probs, targets, pseudo, initial, 3, 2, 5, hint=rule)

    def before_warmup(fn):
        probs, targets, pseudo, initial = _setting(seed=2)
        return _compare(fn, probs, targets, pseudo, initial, 1, 2, 5,
                        hint="before the warm-up (epoch < T_w) the pseudo-targets come back unchanged.")

    def warmup_epoch(fn):
        probs, targets, pseudo, initial = _setting(seed=3)
        return _compare(fn, probs, targets, pseudo, initial, 2, 2, 5, hint=rule)

    def never_revised(fn):
        probs, targets, pseudo, initial = _setting(seed=4)
        earlier = apl_pseudo_labels(probs, targets, pseudo, initial, 2, 2, 5)  # an earlier epoch's labels
        probs = torch.rand(probs.shape, generator=torch.Generator().manual_seed(40), dtype=torch.float64)
        probs[~earlier.isnan()] /= 100  # the labelled entries are now the least likely ones
        return _compare(fn, probs, targets, earlier, initial, 3, 2, 5, hint=rule)

    def known_negatives(fn):
        probs, targets, pseudo, initial = _setting(seed=5, known_negatives=True)
        return _compare(fn, probs, targets, pseudo, initial, 3, 2, 5, hint=rule)

    def quotas(fn):
        probs, targets, pseudo, _ = _setting(seed=6, rows=15)
        targets.fill_(-1.0)
        targets[torch.arange(15), torch.tensor([0] * 4 + [1] * 6 + [2] * 5)] = 1.0
        initial = (targets == -1).sum(0)  # 11, 9, 10: quotas 0.25 U_c = 2.75, 2.25, 2.5
        return _compare(fn, probs, targets, pseudo, initial, 3, 2, 4, theta=0.5, hint=rule)

    def capped(fn):
        probs, targets, pseudo, initial = _setting(seed=7, rows=6)
        return _compare(fn, probs, targets, pseudo, initial, 2, 2, 3, theta=1.0,
                        hint="a quota larger than the number of free entries takes them all.")

    def inputs_unchanged(fn):
        probs, targets, pseudo, initial = _setting(seed=8)
        copies = [probs.clone(), targets.clone(), pseudo.clone()]
        call(fn, probs, targets, pseudo, initial, 3, 2, 5, 0.9, on_error=_CALL_ERROR, copy_arguments=False)
        if not all(_same(a, b) for a, b in zip((probs, targets, pseudo), copies)):
            raise Failure("an input tensor changed",
                          "return a new tensor: clone the pseudo-targets (pseudo_targets.clone()) and write into "
                          "the clone, never into the caller's tensors.")
        return "the caller's tensors are unchanged"

    cases = {
        "an epoch after the warm-up": after_warmup,
        "one quota per class: int(theta U_c / (E - T_w))": quotas,
        "before the warm-up nothing changes": before_warmup,
        "the warm-up epoch itself labels (e = T_w)": warmup_epoch,
        "existing pseudo-labels are never revised": never_revised,
        "known entries are never pseudo-labelled": known_negatives,
        "a quota above the number of free entries": capped,
        "the caller's tensors are not modified": inputs_unchanged,
    }
    return run_cases("APL update", my_apl_update, cases)
