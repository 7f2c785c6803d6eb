"""Input validation and reductions shared by every loss in :mod:`mlteach.losses`.

Label convention (``../shared/design/losses.md``): ``1`` known positive, ``0`` known
negative, ``-1`` unknown. Every public loss calls :func:`check_logits_targets` first, so a
bad input fails the same way everywhere, with a message that says what is wrong.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch

REDUCTIONS = ("mean", "sum", "none")


def check_logits_targets(logits: torch.Tensor, targets: torch.Tensor, *, name: str = "loss") -> None:
    """Raise ``ValueError`` unless ``logits`` is a floating ``[B, C]`` tensor and ``targets``
    a tensor of the same shape holding only 1, 0 or -1."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError(f"{name}: logits and targets must be torch tensors, "
                         f"got {type(logits).__name__} and {type(targets).__name__}")
    if not logits.is_floating_point():
        raise ValueError(f"{name}: logits must be a floating tensor, got dtype {logits.dtype}")
    if logits.dim() != 2:
        raise ValueError(f"{name}: logits must have shape [B, C], got {tuple(logits.shape)}")
    if targets.shape != logits.shape:
        raise ValueError(f"{name}: targets shape {tuple(targets.shape)} does not match "
                         f"logits shape {tuple(logits.shape)}")
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"{name}: empty input of shape {tuple(logits.shape)}")
    if _has_bad_labels(targets):
        bad = (targets != 1) & (targets != 0) & (targets != -1)
        example = targets[bad].flatten()[0].item()
        raise ValueError(f"{name}: targets must be 1 (positive), 0 (negative) or -1 (unknown); "
                         f"found {example!r} in {int(bad.sum())} entries")


def _has_bad_labels(targets: torch.Tensor) -> bool:
    """True if some entry is not 1, 0 or -1 (NaN included). Uses t * (t^2 - 1) = 0, which holds
    exactly for t in {1, 0, -1}: three arithmetic passes and one reduction, several times faster
    on CPU than comparisons into boolean tensors. Large CPU inputs are checked in blocks of
    :data:`LABEL_CHECK_ENTRIES`, so the temporaries stay in cache, with one synchronisation."""
    if targets.numel() <= LABEL_CHECK_ENTRIES or targets.device.type != "cpu":
        low, high = torch.aminmax(_label_residual(targets))
    else:
        extremes = torch.stack([torch.stack(torch.aminmax(_label_residual(targets[part])))
                                for part in row_blocks(targets, LABEL_CHECK_ENTRIES)])
        low, high = extremes[:, 0].amin(), extremes[:, 1].amax()
    return low.item() != 0 or high.item() != 0


def _label_residual(targets: torch.Tensor) -> torch.Tensor:
    """``t (t^2 - 1)`` in float32 or the targets' floating dtype: 0 exactly where t is 1, 0 or -1."""
    t = targets if targets.is_floating_point() else targets.to(torch.float32)
    return (t * t).sub_(1).mul_(t)


def check_soft_targets(soft: torch.Tensor, like: torch.Tensor, *, name: str, what: str) -> None:
    """Raise ``ValueError`` unless ``soft`` has ``like``'s shape and values in [0, 1] (NaN allowed
    as 'no value')."""
    if soft.shape != like.shape:
        raise ValueError(f"{name}: {what} shape {tuple(soft.shape)} does not match "
                         f"logits shape {tuple(like.shape)}")
    low, high = torch.aminmax(torch.nan_to_num(soft, nan=0.0))  # NaN ('none') passes as 0
    if not (bool(low >= 0) and bool(high <= 1)):
        raise ValueError(f"{name}: {what} must lie in [0, 1] (NaN for 'none')")


class Range(NamedTuple):
    """An interval of allowed values for a numeric hyper-parameter."""

    low: float
    high: float
    low_closed: bool = True
    high_closed: bool = True

    def __contains__(self, value) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below

    def __str__(self) -> str:
        return (f"{'[' if self.low_closed else '('}{self.low:g}, {self.high:g}"
                f"{']' if self.high_closed else ')'}")


class Maybe(NamedTuple):
    """A setting that may also be ``None``."""

    rule: object


REAL = Range(-math.inf, math.inf, False, False)
POSITIVE = Range(0, math.inf, False, False)
NONNEGATIVE = Range(0, math.inf, True, False)
UNIT_INTERVAL = Range(0, 1)
FLAG = bool  # a setting that must be True or False


def check_number(value, what: str, allowed: Range, *, name: str = "loss") -> None:
    """``ValueError`` unless ``value`` is a real number (not a bool), finite, inside ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value not in allowed:
        raise ValueError(f"{name}: {what} must be a finite number in {allowed}, got {value!r}")


def check_choice(value: str, choices: tuple[str, ...], what: str, *, name: str = "loss") -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: {what} must be one of {choices}, got {value!r}")


def check_reduction(reduction: str, *, name: str = "loss") -> None:
    check_choice(reduction, REDUCTIONS, "reduction", name=name)


def check_settings(name: str, rules: dict, **settings) -> None:
    """Check each hyper-parameter against its rule: a :class:`Range` (a number), a tuple of
    strings (one of them), :data:`FLAG` (True or False), or :class:`Maybe` of one of these
    (``None`` allowed too). A functional loss and its module twin share one ``rules`` dict, so
    the twin refuses at construction exactly what the function refuses at call time."""
    for what, value in settings.items():
        rule = rules[what]
        if isinstance(rule, Maybe):
            if value is None:
                continue
            rule = rule.rule
        if isinstance(rule, Range):
            check_number(value, what, rule, name=name)
        elif rule is FLAG:
            if not isinstance(value, bool):
                raise ValueError(f"{name}: {what} must be True or False, got {value!r}")
        else:
            check_choice(value, rule, what, name=name)


def check_positive(value: float, what: str, *, name: str = "loss") -> None:
    check_number(value, what, POSITIVE, name=name)


def check_finite(value: float, what: str, *, name: str = "loss") -> None:
    check_number(value, what, REAL, name=name)


def check_nonnegative(value: float, what: str, *, name: str = "loss") -> None:
    check_number(value, what, NONNEGATIVE, name=name)


def check_unit_interval(value: float, what: str, *, name: str = "loss") -> None:
    check_number(value, what, UNIT_INTERVAL, name=name)


def compute_dtype(logits: torch.Tensor) -> torch.dtype:
    """float16 / bfloat16 inputs are accumulated in float32; other dtypes are kept."""
    return torch.float32 if logits.dtype in (torch.float16, torch.bfloat16) else logits.dtype


def empty_loss(logits: torch.Tensor) -> torch.Tensor:
    """A zero that keeps the autograd graph alive (nothing valid to compute)."""
    return logits.sum() * 0


def reduce(values: torch.Tensor, reduction: str, denominator: int | float | torch.Tensor | None = None) -> torch.Tensor:
    """Reduce per-term ``values``: ``"none"`` returns them, ``"sum"`` adds them, ``"mean"``
    divides the sum by ``denominator`` (default: the number of terms). A zero denominator
    gives a graph-carrying zero, never NaN."""
    if reduction == "none":
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if denominator is None:
        denominator = values.numel()
    if isinstance(denominator, torch.Tensor):
        return total / denominator.clamp_min(1)
    return total / max(denominator, 1) if denominator else total * 0


# Rows per block are chosen so that one block holds about this many entries: a dozen float
# temporaries of that size stay in a core's L2 cache.
BLOCK_ENTRIES = 1 << 15
# The label check keeps two temporaries per block, so its blocks can be larger (fewer calls).
LABEL_CHECK_ENTRIES = 1 << 17


def row_blocks(tensor: torch.Tensor, entries: int | None = None) -> list[slice]:
    """Slices of the rows (dimension -2) of ``tensor`` in blocks of about ``entries`` entries
    (default :data:`BLOCK_ENTRIES`), every leading index at once: ``tensor[..., part, :]`` is
    one block.

    On CPU, a chain of elementwise ops on a large tensor is dominated by memory traffic and
    fresh allocations; on cache-sized blocks the temporaries are cheap. Small inputs, and
    tensors on other devices (where a block costs a kernel launch per op), are one block."""
    rows = tensor.shape[-2]
    step = max(1, (entries or BLOCK_ENTRIES) * rows // max(tensor.numel(), 1))
    if rows <= step or tensor.device.type != "cpu":
        return [slice(None)]
    return [slice(start, start + step) for start in range(0, rows, step)]


def _closed_form_pass(logits, kernel, operands, scale, need_grad: bool):
    """One pass of ``kernel`` over ``logits`` (block by block of rows on CPU): the per-entry
    values (``scale`` None) or their sum times ``scale``, and the local gradient times ``scale``
    (None when ``need_grad`` is false)."""
    parts = row_blocks(logits)
    if len(parts) == 1:
        values, local_grad = kernel(logits, *operands, need_grad=need_grad)
        result = values if scale is None else values.sum().mul_(scale)
        if need_grad and scale is not None:
            local_grad.mul_(scale)
        return result, local_grad
    rows = logits.shape[-2]
    result = logits.new_zeros(()) if scale is not None else logits.new_empty(logits.shape)
    local_grad = logits.new_empty(logits.shape) if need_grad else None
    for part in parts:
        block = (..., part, slice(None))  # rows of every leading index (e.g. every expert)
        values, block_grad = kernel(logits[block], *(_row_block(o, part, rows) for o in operands),
                                    need_grad=need_grad)
        if scale is None:
            result[block] = values
        else:
            result.add_(values.sum())
        if need_grad and scale is None:
            local_grad[block] = block_grad
        elif need_grad:
            torch.mul(block_grad, scale, out=local_grad[block])
    return result if scale is None else result.mul_(scale), local_grad


class _ClosedFormElementwise(torch.autograd.Function):
    """Per-entry loss values whose derivative with respect to the logits is diagonal and is
    computed in closed form by the loss itself: one forward pass, one multiply backward. The
    reduction happens inside (``scale`` is None for per-entry values, else the sum times
    ``scale`` is returned), so no further autograd node follows, and the local gradient is
    kept already multiplied by ``scale``.

    Backward hands that gradient over: when the incoming gradient is exactly 1 (a reduced loss
    after ``loss.backward()``) it is returned as it is, with no further pass over memory
    (autograd then makes it the logits' ``.grad`` without a copy, unless the graph is kept). A
    second backward through a kept graph runs the kernel again. When a second derivative is
    asked for (``create_graph=True``), the local gradient is computed again by the loss's
    ``gradient`` function, written in differentiable operations."""

    @staticmethod
    def forward(ctx, logits, kernel, gradient, operands, scale):
        result, ctx.local_grad = _closed_form_pass(logits, kernel, operands, scale, ctx.needs_input_grad[0])
        ctx.kernel, ctx.gradient, ctx.operands, ctx.scale = kernel, gradient, operands, scale
        ctx.save_for_backward(logits)
        return result

    @staticmethod
    def backward(ctx, grad_result):
        def recompute(logits):
            return _closed_form_pass(logits, ctx.kernel, ctx.operands, ctx.scale, need_grad=True)[1]

        return handed_over_gradient(ctx, grad_result, ctx.gradient, recompute), None, None, None, None


def handed_over_gradient(ctx, grad_result, differentiable, recompute) -> torch.Tensor:
    """Backward of a loss whose forward kept ``ctx.local_grad``, its local gradient already
    multiplied by the reduction's ``ctx.scale`` (None: per-entry values), with the logits saved.
    The gradient is handed over: returned as it is when the incoming gradient is exactly 1, else
    multiplied in place. A second backward through a kept graph gets ``recompute(logits)`` (the
    same passes, so the same numbers); with ``create_graph=True``, ``differentiable(logits)``
    (the local gradient in differentiable operations) times the incoming gradient."""
    logits, = ctx.saved_tensors
    if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable
        if ctx.scale is not None:
            grad_result = grad_result * ctx.scale  # a scalar
        return differentiable(logits) * grad_result
    local_grad, ctx.local_grad = ctx.local_grad, None  # handed over: the caller may change it
    if local_grad is None:  # an earlier backward through this kept graph took it
        local_grad = recompute(logits)
    if ctx.scale is not None and grad_result.device.type == "cpu" and grad_result.item() == 1:
        return local_grad
    return local_grad.mul_(grad_result)


def _row_block(arg, part: slice, rows: int):
    """Rows ``part`` of a ``[B, C]`` tensor argument; other arguments whole."""
    return arg[part] if isinstance(arg, torch.Tensor) and arg.dim() == 2 and arg.shape[0] == rows else arg


def closed_form_loss(kernel, gradient, logits: torch.Tensor, *operands, reduction: str) -> torch.Tensor:
    """Per-entry loss ``kernel(x, *operands, need_grad=...) -> (values, local_grad)`` under
    autograd, reduced: ``"none"`` gives the ``[B, C]`` terms, ``"sum"`` their sum and ``"mean"``
    the sum divided by ``B * C``.

    ``values[i, j]`` must depend on ``x[i, j]`` and on row i of the ``[B, C]`` operands only;
    ``local_grad`` is ``d values / d x`` entry by entry (``None`` when ``need_grad`` is false).
    ``logits`` may also have leading dimensions, ``[..., B, C]`` (BalPoE's experts), which the
    kernel must broadcast its ``[B, C]`` operands against; ``"mean"`` then divides by every entry.
    On CPU, inputs larger than :data:`BLOCK_ENTRIES` are computed block by block of rows, every
    leading index at once (see :func:`row_blocks`). ``gradient(x)`` returns the same local gradient from
    differentiable, out-of-place operations (it captures the labels it needs, not the kernel's
    temporaries, which are freed after the forward pass); it is used only for second
    derivatives (double backward). The kernel runs without autograd, so it may work in place on
    its own temporaries (never on its inputs). Tensor operands are labels: they get no gradient."""
    operands = tuple(o.detach() if isinstance(o, torch.Tensor) else o for o in operands)
    scale = None if reduction == "none" else 1.0 if reduction == "sum" else 1.0 / logits.numel()
    return _ClosedFormElementwise.apply(logits, kernel, gradient, operands, scale)
