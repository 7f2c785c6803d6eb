"""Property tests (hypothesis): every loss and its gradient are finite for finite logits up to
the scales the dtype can hold and for extreme valid hyper-parameters, and agree with the same
loss computed in float64 on the same (rounded) inputs. Example counts are kept small so the
suite stays fast."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlteach.losses import (asymmetric_loss, dr_loss, entropy_maximization_loss, focal_loss, lsep_loss,
                            margin_bias_two_way_loss, two_way_loss)

from .conftest import ALL_LOSSES

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
#: largest logit magnitude (log10) per dtype: half inputs are computed in float32, so they may
#: go up to their own maximum; float32 stops where sums of B * C terms of gamma |x| still fit
LARGEST_SCALE = {torch.float32: 33, torch.float16: math.log10(60000), torch.bfloat16: 33}
#: tolerance relative to the float64 result: float32 arithmetic, or half-precision gradients
TOLERANCE = {torch.float32: 1e-4, torch.float16: 2e-3, torch.bfloat16: 1e-2}


@st.composite
def problems(draw, dtype):
    """Logits ``[B, C]`` of one magnitude (10^-3 to the dtype's largest scale) and targets in
    {1, 0, -1}; every problem has a positive and a negative."""
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    exponent = draw(st.floats(-3, LARGEST_SCALE[dtype]))
    unit = draw(st.lists(st.floats(-1, 1), min_size=rows * cols, max_size=rows * cols))
    labels = draw(st.lists(st.sampled_from([1.0, 0.0, -1.0]), min_size=rows * cols, max_size=rows * cols))
    logits = (torch.tensor(unit, dtype=torch.float64) * 10 ** exponent).view(rows, cols).to(dtype)
    targets = torch.tensor(labels).view(rows, cols)
    targets[0, 0], targets[-1, -1] = 1.0, 0.0
    return logits, targets


def value_and_gradient(loss, logits, targets):
    x = logits.clone().requires_grad_(True)
    value = loss(x, targets)
    (grad,) = torch.autograd.grad(value, x)
    return value, grad


def assert_finite_and_close_to_float64(loss, logits, targets, close=True):
    value, grad = value_and_gradient(loss, logits, targets)
    assert torch.isfinite(value).all(), f"loss {value}"
    assert torch.isfinite(grad).all(), f"gradient {grad}"
    if not close:
        return
    reference, reference_grad = value_and_gradient(loss, logits.double(), targets)
    tolerance = TOLERANCE[logits.dtype]
    # errors scale with the logits: float32 rounds |x| * 1e-7 before any loss arithmetic
    scale = 1.0 + float(logits.double().abs().max())
    torch.testing.assert_close(value.double(), reference, rtol=tolerance, atol=tolerance * scale)
    torch.testing.assert_close(grad.double(), reference_grad.to(grad.dtype).double(), rtol=tolerance,
                               atol=tolerance * float(reference_grad.abs().max().clamp(min=1e-3)))


#: Large Loss rejects the k largest losses: float32 rounding can make or break a tie at the
#: k-th loss and so change the selection (a jump, not an error); only finiteness is asked
DISCONTINUOUS = ("LL-R", "LL-Ct")


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("name", ALL_LOSSES)
def test_finite_and_close_to_float64_at_every_scale(name, dtype):
    @settings(max_examples=10, deadline=None, derandomize=True)
    @given(problems(dtype))
    def check(problem):
        assert_finite_and_close_to_float64(ALL_LOSSES[name], *problem, close=name not in DISCONTINUOUS)

    check()


EXTREME_SETTINGS = {  # hyper-parameters drawn over many orders of magnitude (log10 ranges)
    "two-way temperatures": (lambda x, t, a, b: two_way_loss(x, t, tp=a, tn=b), (-10, 10), (-10, 10)),
    "margin-bias margin": (lambda x, t, a, b: margin_bias_two_way_loss(x, t, margin=a * b), (-6, 6), (-1, 0)),
    "LSEP gamma": (lambda x, t, a, b: lsep_loss(x, t, gamma=a), (-10, 10), (0, 0)),
    "DR gammas": (lambda x, t, a, b: dr_loss(x, t, gamma1=a, gamma2=b, constraint="both"), (-10, 10), (-10, 10)),
    "focal gamma": (lambda x, t, a, b: focal_loss(x, t, gamma=a), (-6, 3), (0, 0)),
    "ASL gammas": (lambda x, t, a, b: asymmetric_loss(x, t, gamma_neg=a, gamma_pos=b), (-6, 3), (-6, 3)),
    "ASL eps": (lambda x, t, a, b: asymmetric_loss(x, t, eps=a / 1e10), (-20, 9), (0, 0)),
    "EM weights": (lambda x, t, a, b: entropy_maximization_loss(x, t, alpha=a, beta=b), (-6, 6), (-6, 6)),
}


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("name", EXTREME_SETTINGS)
def test_finite_and_close_to_float64_at_extreme_settings(name, dtype):
    loss, (low_a, high_a), (low_b, high_b) = EXTREME_SETTINGS[name]

    @settings(max_examples=10, deadline=None, derandomize=True)
    @given(st.floats(low_a, high_a), st.floats(low_b, high_b),
           st.lists(st.floats(-4, 4), min_size=12, max_size=12))
    def check(a, b, unit):
        logits = torch.tensor(unit, dtype=torch.float64).view(3, 4).to(dtype)
        targets = torch.tensor([[1.0, 0.0, -1.0, 1.0], [0.0, 1.0, 0.0, -1.0], [1.0, -1.0, 0.0, 0.0]])
        setting_a, setting_b = 10 ** a, 10 ** b
        if dtype == torch.float16 and max(setting_a, setting_b) > 1e3:
            return  # gradients of about gamma exceed float16's range (65504): not representable
        # A temperature T above 100 makes the soft maximum m + T log(sum ...) about T log(C): its
        # float32 rounding (1e-7 T) is then no longer small against the differences of the logits
        # the gradient depends on, so only finiteness is asked there
        close = not (name == "two-way temperatures" and max(setting_a, setting_b) > 100)
        assert_finite_and_close_to_float64(lambda x, y: loss(x, y, setting_a, setting_b), logits, targets, close)

    check()
