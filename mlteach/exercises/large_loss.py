"""Checkers of chapter 4 (Large Loss Matters): a corrected entry's gradient to derive, the
selection of large losses to implement.

- :func:`check_corrected_entry_gradient`: the gradient of the LL-Ct batch loss (mean over B C
  entries) with respect to the logit g of a corrected unknown entry (SymPy);
- :func:`check_large_loss_selection`: ``my_selection(logits, targets, rate)``, the boolean mask
  of the unknown entries Large Loss modifies, against
  :func:`mlteach.losses.large_loss_selection`.
"""

from __future__ import annotations

import math

import sympy as sp
import torch
import torch.nn.functional as F

from mlteach.losses import large_loss_selection
from mlteach.symbolic.functions import sigmoid

from .feedback import CheckResult, Failure, call, run_cases
from .symbolic import check_expression

__all__ = ["check_corrected_entry_gradient", "corrected_gradient_symbols", "check_large_loss_selection",
           "wrong_selection"]


def corrected_gradient_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """The exercise's symbols: the logit ``g`` (real) and the batch size ``B`` and class count
    ``C`` (positive)."""
    g = sp.Symbol("g", real=True)
    batch, classes = sp.symbols("B C", positive=True)
    return g, batch, classes


def check_corrected_entry_gradient(expr) -> CheckResult:
    """Check a SymPy expression for the derivative of the LL-Ct batch loss (the mean of the B C
    per-entry losses) with respect to the logit g of an unknown entry that LL-Ct corrects."""
    g, batch, classes = corrected_gradient_symbols()
    reference = (sigmoid(g) - 1) / (batch * classes)
    mistakes = [
        (sigmoid(g) - 1, "that is the gradient of the entry's own loss; the batch loss is the mean over all B C "
                         "entries (LL-Ct keeps the B C denominator), so divide by B C."),
        (sigmoid(g) / (batch * classes), "that is the assume-negative gradient, before the correction: after the "
                                         "target flips to 1 the entry's loss is softplus(-g), whose derivative "
                                         "is sigma(g) - 1."),
        (sp.Integer(0), "that is LL-R, which rejects the entry (loss 0); LL-Ct keeps it with the target 1."),
    ]
    return check_expression(expr, reference, [g, batch, classes], exercise="gradient of a corrected entry",
                            mistakes=mistakes, ranges={"B": (2.0, 64.0), "C": (2.0, 20.0)})


def _naive_softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 + torch.exp(x))


def wrong_selection(logits: torch.Tensor, targets: torch.Tensor, rate: float, *, among: str = "unknown",
                    count: str = "all", rounding=math.ceil, per_sample: bool = False, largest: bool = True,
                    ties: bool = True, loss=F.softplus) -> torch.Tensor:
    """The Large Loss selection with one rule changed (the defaults give the right one):
    ``among`` ``"unknown"`` | ``"all"`` entries; k counted from ``"all"`` B C entries or the
    ``"unknown"`` ones; ``rounding`` of rate times that count; one ranking per sample
    (``per_sample``); the ``largest`` or smallest losses; ``ties`` at the k-th loss selected or
    exactly k entries; the per-entry ``loss``."""
    if per_sample:
        return torch.cat([wrong_selection(logits[b:b + 1], targets[b:b + 1], rate, among=among, count=count,
                                          rounding=rounding, largest=largest, ties=ties, loss=loss)
                          for b in range(logits.shape[0])])
    candidates = targets == -1 if among == "unknown" else torch.ones_like(targets, dtype=torch.bool)
    scores = loss(logits) if largest else -loss(logits)
    scores = scores.masked_fill(~candidates, -math.inf).flatten()
    total = targets.numel() if count == "all" else int(candidates.sum())
    k = min(rounding(rate * total), int(candidates.sum()))
    chosen = torch.zeros_like(scores, dtype=torch.bool)
    if k > 0:
        order = scores.argsort(descending=True, stable=True)
        chosen = scores >= scores[order[k - 1]] if ties else chosen.index_fill(0, order[:k], True)
    return chosen.reshape(logits.shape) & candidates


_MISTAKES = (
    ({"count": "unknown"}, "k = ceil(rate B C) counts all entries of the batch (the paper's rate), not only "
                           "the unknown ones; cap it at the number of unknown entries."),
    ({"rounding": math.floor}, "k = ceil(rate B C): you rounded down."),
    ({"per_sample": True}, "rank all unknown entries of the batch together; you selected per sample."),
    ({"largest": False}, "select the largest losses (an unknown entry's assume-negative loss softplus(x) grows "
                         "with its logit), not the smallest."),
    ({"loss": _naive_softplus}, "overflow at |x| = 1e4: log(1 + exp(x)) is inf for large x and every such entry "
                                "ties; use F.softplus(x), or rank by x itself (softplus is increasing)."),
)


_CALL_ERROR = ("your function must accept (logits, targets, rate) and return a boolean mask; read the traceback "
               "of a call on these inputs.")


_KNOWN_HINT = "only unknown entries (target -1) are ranked; known positives and negatives are never modified."


def _mask(fn, logits, targets, rate, on_error: str = _CALL_ERROR, known_hint: str = _KNOWN_HINT) -> torch.Tensor:
    mask = call(fn, logits, targets, rate, on_error=on_error)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != logits.shape:
        described = (f"a {mask.dtype} tensor of shape {tuple(mask.shape)}" if isinstance(mask, torch.Tensor)
                     else f"a {type(mask).__name__}")
        raise Failure(f"returned {described}",
                      f"return a boolean tensor of the logits' shape {tuple(logits.shape)}, True where an entry "
                      "is selected (for example losses >= cut).")
    if bool((mask & (targets != -1)).any()):
        raise Failure(f"selected {int((mask & (targets != -1)).sum())} known entries", known_hint)
    return mask


def _compare(fn, logits, targets, rate, hint: str, on_error: str = _CALL_ERROR, known_hint: str = _KNOWN_HINT) -> str:
    expected = large_loss_selection(logits, targets, rate=rate)  # before the submission runs
    mask = _mask(fn, logits, targets, rate, on_error, known_hint)
    if not torch.equal(mask, expected):
        for changes, mistake_hint in _MISTAKES:
            wrong = wrong_selection(logits, targets, rate, **changes)
            if torch.equal(mask, wrong) and not torch.equal(wrong, expected):
                hint = mistake_hint
                break
        raise Failure(f"selected {int(mask.sum())} entries, expected {int(expected.sum())} "
                      f"(they differ at {int((mask != expected).sum())} entries)", hint)
    return f"{int(mask.sum())} entries selected, as expected"


def _batch(rows: int, cols: int, seed: int, scale: float = 3.0):
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(rows, cols, generator=generator, dtype=torch.float64)
    targets = torch.randint(-1, 2, (rows, cols), generator=generator).double()
    targets[:, 0] = -1.0  # every sample has an unknown entry
    return logits, targets


def check_large_loss_selection(my_selection) -> CheckResult:
    """Check ``my_selection(logits, targets, rate)``: the boolean ``[B, C]`` mask of the unknown
    entries whose assume-negative loss is among the k = ceil(rate B C) largest (k capped at the
    number of unknown entries; entries tied with the k-th largest included)."""
    rule = ("select the k = ceil(rate B C) unknown entries with the largest assume-negative loss softplus(x), "
            "every entry tied with the k-th largest included.")

    def random_batch(fn):
        logits, targets = _batch(4, 6, seed=1)
        return _compare(fn, logits, targets, 0.25, rule)

    def known_entries(fn):
        logits, targets = _batch(3, 6, seed=2)
        top = logits.flatten().argsort(descending=True)[:4]
        targets.view(-1)[top[:2]] = 0.0  # the largest logits belong to known entries
        targets.view(-1)[top[2:]] = 1.0
        return _compare(fn, logits, targets, 0.2, rule)

    def k_counts_all_entries(fn):
        logits, targets = _batch(3, 5, seed=3)
        return _compare(fn, logits, targets, 0.1, "k = ceil(rate B C) = ceil(0.1 x 15) = 2 here.")

    def one_ranking(fn):
        logits, targets = _batch(3, 5, seed=4)
        logits[0] += 6.0  # the largest unknown losses all sit in sample 0
        targets[0] = -1.0
        return _compare(fn, logits, targets, 0.2, "rank the unknown entries of the whole batch together.")

    def ties(fn):
        logits = torch.tensor([[3.0, 1.0, 1.0, -2.0], [1.0, -1.0, 0.5, 2.0]], dtype=torch.float64)
        targets = torch.tensor([[-1.0, -1.0, -1.0, -1.0], [-1.0, 0.0, -1.0, 1.0]], dtype=torch.float64)
        expected = large_loss_selection(logits, targets, rate=0.25)  # k = 2: the entry at 3 and the three tied at 1
        mask = _mask(fn, logits, targets, 0.25)
        if int(mask.sum()) == 2 and bool((mask <= expected).all()):
            raise Failure(f"selected 2 entries, expected {int(expected.sum())}",
                          "ties: every unknown entry whose loss equals the k-th largest is selected too (the "
                          "authors compare with >=); torch.topk keeps exactly k and drops the others.")
        return _compare(fn, logits, targets, 0.25, rule)

    def k_capped(fn):
        logits, targets = _batch(3, 4, seed=5)
        return _compare(fn, logits, targets, 1.0, "with k above the number of unknown entries, every unknown entry "
                                                  "is selected and no known one.",
                        on_error="with rate = 1, k = B C exceeds the number of unknown entries: cap k at that "
                                 "number (torch.topk raises when k is too large).",
                        known_hint="with rate = 1, k = B C exceeds the number of unknown entries: cap k at that "
                                   "number; otherwise the k-th largest loss is a masked known entry and every entry "
                                   "is selected.")

    def rate_zero(fn):
        logits, targets = _batch(3, 4, seed=6)
        return _compare(fn, logits, targets, 0.0, "rate 0 gives k = 0: nothing is selected.")

    def large_logits(fn):
        logits, targets = _batch(4, 6, seed=7, scale=1e4)
        return _compare(fn, logits, targets, 0.2, "at |x| = 1e4 the losses are about 1e4 and 0: compute them in "
                                                  "log space (F.softplus).")

    def batch_of_one(fn):
        logits, targets = _batch(1, 8, seed=8)
        return _compare(fn, logits, targets, 0.25, "a batch of one sample must work like any other batch: avoid "
                                                   ".squeeze() and indexing that assumes B > 1.")

    cases = {
        "a random batch": random_batch,
        "known entries are never selected": known_entries,
        "k = ceil(rate B C)": k_counts_all_entries,
        "one ranking for the whole batch": one_ranking,
        "ties at the k-th largest loss": ties,
        "k capped at the number of unknown entries (rate 1)": k_capped,
        "rate 0 selects nothing": rate_zero,
        "logits of size 1e4": large_logits,
        "a batch of one sample": batch_of_one,
    }
    return run_cases("Large Loss selection", my_selection, cases)
