"""Checking a student's loss that compares positive and negative logits along the lines of a batch.

LSEP, C-LSEP and the sample-wise two-way loss share one shape. For each *line* of the
``[B, C]`` logits -- a row (a sample, over its classes) or a column (a class, over the batch) --
with positive set P (target 1) and negative set N (target 0),

    ell(line) = softplus( w_N LSE_{j in N}(a_N x_j) + w_P LSE_{i in P}(-a_P x_i) ),

and the loss is the mean of these terms over the lines that have a positive. A
:class:`LineLossExercise` names the reference (from :mod:`mlteach.losses`), the line axis, the
hyper-parameters and the typical mistakes; :func:`check_line_loss` runs the cases every such
loss must pass: random batches, unknown entries, empty sets, an empty batch, |x| = 1e4, the
gradient, a batch of one, and a memory probe that catches the ``|P| x |N|`` pairwise tensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .feedback import CheckResult, Failure, call, run_cases, scalar_loss

__all__ = ["Mistake", "LineLossExercise", "line_terms", "reduce_lines", "variant", "common_mistakes",
           "check_line_loss"]

_RTOL, _ATOL = 1e-5, 1e-7
LARGE = 1e4


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: the loss it computes, ``loss(logits, targets, **params)``, and the
    hint that names it."""

    loss: Callable[..., torch.Tensor]
    hint: str


def line_terms(logits: torch.Tensor, targets: torch.Tensor, dim: int, *, neg_scale: float, pos_scale: float,
               neg_weight: float = 1.0, pos_weight: float = 1.0, negatives: tuple[float, ...] = (0.0,),
               positives: tuple[float, ...] = (1.0,), outer: Callable = F.softplus):
    """Per-line terms ``outer(w_N LSE_N(a_N x) + w_P LSE_P(-a_P x))`` along ``dim`` (1: rows,
    0: columns), and whether each line has a positive and a negative. N (P) holds the entries
    whose target is in ``negatives`` (``positives``)."""
    in_negative = torch.isin(targets, torch.tensor(negatives, dtype=targets.dtype))
    in_positive = torch.isin(targets, torch.tensor(positives, dtype=targets.dtype))
    negative = torch.where(in_negative, neg_scale * logits, -math.inf).logsumexp(dim)
    positive = torch.where(in_positive, -pos_scale * logits, -math.inf).logsumexp(dim)
    return outer(neg_weight * negative + pos_weight * positive), in_positive.any(dim), in_negative.any(dim)


def reduce_lines(terms: torch.Tensor, has_positive: torch.Tensor, has_negative: torch.Tensor,
                 over: str = "positive") -> torch.Tensor:
    """Mean over the lines with a positive (``"positive"``, the book's rule), over the lines with
    a positive and a negative (``"both"``), over all lines (``"all"``), or the sum (``"sum"``)."""
    if over == "sum":
        return terms.sum()
    if over == "all":
        return terms.mean()
    counted = has_positive if over == "positive" else has_positive & has_negative
    return terms.sum() / counted.sum().clamp(min=1)


def variant(dim: int, scales: Callable[..., dict], over: str = "positive", **fixed) -> Callable[..., torch.Tensor]:
    """A loss of the family: ``scales(**params)`` gives :func:`line_terms`' scale arguments for the
    hyper-parameters; ``fixed`` overrides other arguments (the sets, the outer function)."""

    def loss(logits, targets, **params):
        terms, has_positive, has_negative = line_terms(logits, targets, dim, **scales(**params), **fixed)
        return reduce_lines(terms, has_positive, has_negative, over)

    return loss


def common_mistakes(reference: Callable, dim: int, scales: Callable[..., dict],
                    mean_over_all: str | None = None) -> tuple[Mistake, ...]:
    """The wrong answers every loss of the family invites: the reduction, the unknown entries,
    the axis, the signs and the 1 inside the logarithm. ``mean_over_all`` replaces the hint for
    a mean over all lines."""
    line, lines = ("sample", "samples") if dim == 1 else ("class", "classes")
    other = "class" if dim == 1 else "sample"
    return (
        Mistake(variant(dim, scales, over="all"),
                mean_over_all or f"mean over all {lines}, but the loss averages over the {lines} that have a "
                                 f"positive (a {line} without positives adds 0 and is not counted)."),
        Mistake(variant(dim, scales, over="both"),
                f"you left out the {lines} that have positives but no negatives; they count in the mean "
                "with the term softplus(-inf) = 0. Divide by the number of "
                f"{lines} that have a positive."),
        Mistake(variant(dim, scales, over="sum"),
                f"you returned the sum over {lines}; the loss is the mean over the {lines} that have a "
                "positive."),
        Mistake(variant(dim, scales, negatives=(0.0, -1.0)),
                "entries with target -1 are unknown and belong to neither set, but you counted them as "
                "negatives (a mask such as targets != 1 or 1 - targets); use targets == 0 for N."),
        Mistake(variant(dim, scales, positives=(1.0, -1.0)),
                "entries with target -1 are unknown and belong to neither set, but you counted them as "
                "positives (a mask such as targets != 0 or targets.abs()); use targets == 1 for P."),
        Mistake(variant(1 - dim, scales),
                f"you computed one term per {other}; this loss compares the entries of one {line}, so "
                f"reduce over dim={dim}."),
        Mistake(lambda logits, targets, **params: reference(-logits, targets, **params),
                "your value is the loss of -logits: the negatives enter their log-sum-exp with +x and "
                "the positives with -x, and you swapped the signs."),
        Mistake(variant(dim, scales, outer=lambda u: u),
                "log(1 + sum of exponentials) = softplus(LSE_N + LSE_P): you dropped the 1 inside the "
                "logarithm; apply F.softplus to the sum of the two log-sum-exps."),
    )


@dataclass(frozen=True)
class LineLossExercise:
    """An implement-exercise for a loss of the family.

    ``reference(logits, targets, **params)``: the correct loss; ``dim``: 1 for one term per
    sample (rows), 0 per class (columns); ``params`` and ``other_params``: two settings of the
    hyper-parameters; ``formula``: the per-line loss as text; ``factorised``: the hint for the
    pairwise tensor; ``mistakes``: the wrong answers to recognise, tried in order."""

    title: str
    reference: Callable[..., torch.Tensor]
    dim: int
    params: dict
    other_params: dict
    formula: str
    factorised: str
    mistakes: tuple[Mistake, ...]

    @property
    def line(self) -> str:
        return "sample" if self.dim == 1 else "class"

    @property
    def lines(self) -> str:
        return "samples" if self.dim == 1 else "classes"



def gamma_mistakes(dim: int, entries: str) -> tuple[Mistake, ...]:
    """The two typical mistakes with LSEP's gamma on line ``dim``: gamma outside the
    log-sum-exps, and gamma ignored (``entries`` names what gamma scales: logits, scores)."""
    return (
        Mistake(variant(dim, lambda gamma=1.0: {"neg_scale": 1.0, "pos_scale": 1.0, "neg_weight": gamma,
                                                "pos_weight": gamma}),
                f"gamma multiplies every {entries[:-1]} inside the log-sum-exps, LSE_j(gamma x_j), not the "
                "sum of the log-sum-exps."),
        Mistake(variant(dim, lambda gamma=1.0: {"neg_scale": 1.0, "pos_scale": 1.0}),
                f"your value does not change with gamma: multiply every {entries[:-1]} by gamma inside both "
                "log-sum-exps."),
    )


def _agree(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_RTOL, abs_tol=_ATOL)


def _batch(lines: int, members: int, dim: int, seed: int, unknown: bool = False, scale: float = 2.0):
    """Float64 logits and targets in which every line has a positive and a negative (and, with
    ``unknown``, some -1 entries); ``[lines, members]`` transposed for ``dim = 0``."""
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(lines, members, generator=generator, dtype=torch.float64)
    targets = torch.randint(-1 if unknown else 0, 2, (lines, members), generator=generator).double()
    targets[:, 0], targets[:, 1] = 1.0, 0.0
    targets = targets[:, torch.randperm(members, generator=generator)]
    return (logits, targets) if dim == 1 else (logits.T.contiguous(), targets.T.contiguous())


def _relabel(targets: torch.Tensor, dim: int, line: int, label: float, replacement: float) -> None:
    """In place: the entries of line ``line`` whose target is ``label`` get ``replacement``."""
    view = targets[line] if dim == 1 else targets[:, line]
    view[view == label] = replacement


def _value(exercise: LineLossExercise, fn, logits, targets, params) -> torch.Tensor:
    value = call(fn, logits, targets, **params,
                 on_error=f"your function must accept (logits, targets, {', '.join(f'{k}=...' for k in params)}) "
                          "and return the loss; read the traceback of a call on these inputs.")
    return scalar_loss(value, f"the per-{exercise.line} terms")


def _compare(exercise: LineLossExercise, fn, logits, targets, params, *, nan_hint: str, hint: str) -> str:
    expected = float(exercise.reference(logits.detach(), targets, **params))  # before the submission runs
    got = float(_value(exercise, fn, logits, targets, params).detach())
    if not math.isfinite(got):
        raise Failure(f"got {got}, expected {expected:.6g}", nan_hint)
    if not _agree(got, expected):
        for mistake in exercise.mistakes:
            wrong = float(mistake.loss(logits.detach(), targets, **params))
            if _agree(got, wrong) and not _agree(wrong, expected):
                hint = mistake.hint
                break
        raise Failure(f"got {got:.6g}, expected {expected:.6g}", hint)
    return f"{got:.6g}, as expected"


def check_line_loss(fn, exercise: LineLossExercise) -> CheckResult:
    """Run ``fn(logits, targets, **params)`` through the cases of the family (see the module
    docstring) and compare it with ``exercise.reference``."""
    line, lines, dim = exercise.line, exercise.lines, exercise.dim
    formula_hint = (f"your value differs from the reference. Per {line} the loss is {exercise.formula}, with "
                    "P = (targets == 1) and N = (targets == 0).")
    ordinary_nan = "your loss is NaN or infinite on an ordinary batch: look for log(0), 0 / 0 or exp overflow."

    def random_batch(fn):
        logits, targets = _batch(4, 6, dim, seed=1)
        return _compare(exercise, fn, logits, targets, exercise.params, nan_hint=ordinary_nan, hint=formula_hint)

    def other_hyper_parameters(fn):
        logits, targets = _batch(4, 6, dim, seed=1)
        return _compare(exercise, fn, logits, targets, exercise.other_params, nan_hint=ordinary_nan,
                        hint=f"right with {exercise.params} but not with {exercise.other_params}: check where each "
                             f"hyper-parameter enters {exercise.formula}.")

    def unknown_entries(fn):
        logits, targets = _batch(5, 7, dim, seed=2, unknown=True)
        return _compare(exercise, fn, logits, targets, exercise.params, nan_hint=ordinary_nan,
                        hint="entries with target -1 must be in neither P nor N.")

    def empty_sets(fn):
        logits, targets = _batch(5, 7, dim, seed=3, unknown=True)
        _relabel(targets, dim, 0, 1.0, 0.0)  # line 0: no positive
        _relabel(targets, dim, 1, 0.0, 1.0)  # line 1: no negative
        return _compare(exercise, fn, logits, targets, exercise.params,
                        nan_hint=f"a {line} without positives (or without negatives) gave NaN: the empty set must "
                                 "contribute 0 (softplus(-inf) = 0); mask with -inf and use torch.logsumexp, "
                                 "which gives -inf for an empty set (a hand-made max shift computes "
                                 "-inf - (-inf) = NaN).",
                        hint=f"a {line} with an empty set contributes 0, and only {lines} with a positive are "
                             "counted in the mean.")

    def no_positive(fn):
        logits, targets = _batch(3, 5, dim, seed=4, unknown=True)
        targets = targets.clamp(max=0)
        logits = logits.requires_grad_(True)
        value = _value(exercise, fn, logits, targets, exercise.params)
        got = float(value.detach())
        if not math.isfinite(got):
            raise Failure(f"got {got}, expected 0",
                          f"a batch without any positive gave NaN: the mean divides 0 by 0 {lines} with a "
                          "positive; divide by max(count, 1) so that such a batch gives 0.")
        if abs(got) > _ATOL:
            raise Failure(f"got {got:.6g}, expected 0",
                          f"without positives no {line} has a term: the loss is 0.")
        if value.grad_fn is None:
            raise Failure("got a 0 that is not connected to the logits",
                          "return a zero that still carries the autograd graph (for example logits.sum() * 0, "
                          "or terms.sum() / max(count, 1)), so that backward() works on such a batch.")
        return "0, connected to the logits"

    def large_logits(fn):
        logits, targets = _batch(4, 6, dim, seed=5, scale=LARGE)
        return _compare(exercise, fn, logits, targets, exercise.params,
                        nan_hint="overflow at |x| = 1e4: compute in log space with torch.logsumexp instead of "
                                 "exp().sum().log().",
                        hint="the value is finite but wrong at |x| = 1e4: a finite mask constant (such as -100 or "
                             "-1e4) is not small next to logits of this size; mask with -inf.")

    def gradient(fn):
        logits, targets = _batch(5, 7, dim, seed=6, unknown=True)
        _relabel(targets, dim, 0, 1.0, 0.0)  # one line without positives
        logits = logits.requires_grad_(True)
        reference = logits.detach().clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(exercise.reference(reference, targets, **exercise.params), reference)
        _compare(exercise, fn, logits, targets, exercise.params, nan_hint=ordinary_nan, hint=formula_hint)
        value = _value(exercise, fn, logits, targets, exercise.params)
        if value.grad_fn is None:
            raise Failure("the loss is not connected to the logits",
                          "compute the loss with torch operations only (no .item(), .numpy(), float() or "
                          "torch.tensor(...) on intermediate values) so that autograd can differentiate it.")
        (grad,) = torch.autograd.grad(value.reshape(()), logits)
        if not torch.isfinite(grad).all():
            raise Failure("the gradient has NaN or infinite entries",
                          "the value is right but the backward pass meets a NaN, typically from an empty set "
                          "(0 * inf in a hand-made log-sum-exp); use torch.logsumexp on -inf-masked logits.")
        if not torch.allclose(grad, expected, rtol=_RTOL, atol=_ATOL):
            raise Failure(f"largest gradient error {float((grad - expected).abs().max()):.3g}",
                          "the values agree but the gradients do not: something on the path from the logits "
                          "to the loss is detached or not differentiable (.detach(), .data, argmax, an "
                          "in-place edit).")
        return "matches the autograd gradient of the reference"

    def batch_of_one(fn):
        logits, targets = _batch(1, 5, 1, seed=7)
        value = _value(exercise, fn, logits, targets, exercise.params)
        if value.dim() != 0:
            raise Failure(f"returned shape {tuple(value.shape)}",
                          "return a 0-dim tensor (a scalar), as torch losses do: reduce with .sum() / count "
                          "rather than keeping a dimension of size 1.")
        return _compare(exercise, fn, logits, targets, exercise.params, nan_hint=ordinary_nan,
                        hint="a batch of one sample must work like any other batch: avoid .squeeze() and "
                             "reductions that assume B > 1.")

    def memory(fn):
        lines_, members = 2, 512
        generator = torch.Generator().manual_seed(8)
        logits = torch.randn(lines_, members, generator=generator, dtype=torch.float64)
        targets = (torch.rand(lines_, members, generator=generator) < 0.5).double()
        if dim == 0:
            logits, targets = logits.T.contiguous(), targets.T.contiguous()
        largest = 0

        def pack(tensor):
            nonlocal largest
            largest = max(largest, tensor.numel())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            _value(exercise, fn, logits.requires_grad_(True), targets, exercise.params)
        size = logits.numel()
        if largest > 8 * size:
            raise Failure(f"a tensor of {largest} elements for {tuple(logits.shape)} logits ({size} entries)",
                          f"your code builds the |P| x |N| tensor of pairwise differences. {exercise.factorised}")
        return f"largest tensor kept for backward: {largest} elements for {size} logits"

    cases = {
        "a random batch": random_batch,
        f"other hyper-parameters ({', '.join(f'{k}={v}' for k, v in exercise.other_params.items())})":
            other_hyper_parameters,
        "unknown entries (-1) are ignored": unknown_entries,
        f"a {line} without positives and a {line} without negatives": empty_sets,
        "a batch without any positive": no_positive,
        "logits of size 1e4": large_logits,
        "the gradient": gradient,
        "a batch of one sample": batch_of_one,
        "no |P| x |N| tensor (memory O(B C))": memory,
    }
    return run_cases(exercise.title, fn, cases)
