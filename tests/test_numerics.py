"""The naive forms of mlteach.numerics break where their docstrings say, and the log-space forms
do not."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlteach.losses._label_sets import SetLSE, set_logsumexp
from mlteach.numerics import (DTYPES, constant_masked_logsumexp, dtype_limits, error_sweep, failure_table,
                              gradient_errors, log_of_exp, log_with_epsilon, loss_curves, masked_logsumexp,
                              mean_over_set,
                              naive_mean_over_set, negative_log_of_complement)


def test_epsilon_inside_the_log_saturates_and_kills_the_gradient():
    logits = torch.tensor([-40.0, 0.0], dtype=torch.float64, requires_grad=True)
    naive = log_with_epsilon(logits)
    assert naive[0].item() == pytest.approx(-math.log(1e-8), rel=1e-6)  # 18.4 instead of 40
    naive.sum().backward()
    assert abs(logits.grad[0].item()) < 1e-8  # the exact gradient is -1
    assert math.isinf(log_with_epsilon(torch.tensor([-20.0], dtype=torch.float16)).item())  # eps rounds to 0


def test_exp_before_log_overflows_where_the_dtype_ends():
    assert math.isinf(log_of_exp(torch.tensor([-89.0])).item())
    assert math.isinf(log_of_exp(torch.tensor([-12.0], dtype=torch.float16)).item())
    assert log_of_exp(torch.tensor([-88.0])).item() == pytest.approx(88.0, rel=1e-6)


def test_complement_of_the_sigmoid_rounds_to_zero_in_half_precision():
    for dtype, logit in ((torch.float32, 17.0), (torch.float16, 8.5), (torch.bfloat16, 6.5)):
        assert math.isinf(negative_log_of_complement(torch.tensor([logit], dtype=dtype)).item())
        assert F.softplus(torch.tensor([logit], dtype=dtype)).item() == pytest.approx(logit, rel=1e-2)


def test_large_constant_mask_is_wrong_below_the_constant_and_nan_in_half():
    values = torch.tensor([-150.0, 40.0, 0.0], dtype=torch.float64)
    member = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert masked_logsumexp(values, member).item() == -150.0
    assert constant_masked_logsumexp(values, member).item() == pytest.approx(-60.0, abs=1e-6)  # 40 - 100 wins
    half = constant_masked_logsumexp(values.half(), member.half(), constant=1e12)
    assert math.isnan(half.item())


def test_masked_logsumexp_equals_the_books_set_logsumexp_and_an_empty_set_has_zero_gradient():
    torch.manual_seed(0)
    logits = (10 * torch.randn(5, 7, dtype=torch.float64)).requires_grad_()
    targets = torch.randint(-1, 2, (5, 7)).double()
    targets[0] = 0  # no positive in row 0
    (expected,) = set_logsumexp(logits, targets, (SetLSE("negative", 1.0, 1),))
    result = masked_logsumexp(logits, (targets == 0).double(), dim=1)
    assert torch.allclose(result, expected)
    positives = masked_logsumexp(-logits, (targets == 1).double(), dim=1)
    assert positives[0].item() == -math.inf
    F.softplus(positives + result).sum().backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[0] == 0).all()  # softplus(-inf) = 0: no push
    assert torch.autograd.gradcheck(lambda x: masked_logsumexp(x, (targets == 0).double(), dim=1), (logits,))


def test_mean_over_an_empty_set():
    logits = torch.randn(4, 3, requires_grad=True)
    empty = torch.zeros(4, 3)
    assert math.isnan(naive_mean_over_set(F.softplus(-logits), empty).item())
    safe = mean_over_set(F.softplus(-logits), empty)
    safe.backward()
    assert safe.item() == 0.0 and torch.equal(logits.grad, torch.zeros(4, 3))


def test_error_sweep_finds_the_broken_regions_and_spares_the_log_space_forms():
    sweep = error_sweep(scales=[1.0, 30.0, 1000.0])
    log_space = sweep[sweep.form == "log-space"]
    assert not log_space.broken.any()
    assert (log_space.error < 1e-2).all()

    def naive(pattern, dtype, scale):
        return sweep[(sweep.pattern == pattern) & (sweep.form == "naive") & (sweep.dtype == dtype)
                     & (sweep.scale == scale)].iloc[0]

    assert not naive("exp before log", "float32", 30.0).broken and naive("exp before log", "float32", 1000.0).broken
    assert naive("exp before log", "float16", 30.0).broken
    assert naive("epsilon inside a log", "float32", 30.0).error > 0.1
    assert naive("epsilon inside a log", "float32", 1.0).error < 1e-6
    assert naive("large-constant mask", "float32", 1000.0).error > 0.5
    assert naive("mask constant 1e12", "float16", 1.0).broken and not naive("mask constant 1e12", "float32", 1.0).broken
    assert naive("mean over an empty set", "float32", 1.0).broken
    assert naive("half precision", "bfloat16", 30.0).broken and not naive("half precision", "float32", 1.0).broken


def test_loss_curves_show_the_naive_forms_failing():
    curves = loss_curves(1000.0, "float32")
    exact = curves["exact (float64)"]
    assert np.allclose(curves["softplus(-x) (log space)"], exact, atol=1e-6)
    assert np.isinf(curves["log(1 + exp(-x))"][0])
    assert curves["-log(σ(x) + 1e-8)"][0] == pytest.approx(-math.log(1e-8) / 1000, rel=1e-4)


def test_dtype_limits():
    limits = dtype_limits()
    assert limits.loc["float16", "largest"] == 65504.0
    assert limits.loc["float16", "exp overflows at x >"] == pytest.approx(11.09, abs=0.01)
    assert limits.loc["bfloat16", "σ(x) rounds to 1 at x ≥"] < limits.loc["float16", "σ(x) rounds to 1 at x ≥"] \
        < limits.loc["float32", "σ(x) rounds to 1 at x ≥"]
    assert list(limits.index) == list(DTYPES)


def test_failure_table_reproduces_each_failure_and_mlteach_avoids_it():
    table = failure_table().set_index("failure")
    assert table.loc["NaN loss on a batch without positives", "naive result"] == "gradient NaN: True"
    assert table.loc["NaN loss on a batch without positives", "mlteach result"].endswith("gradient finite: True")
    for failure in ("masks of 1e12 overflow half precision", "ASL NaN under mixed precision"):
        assert table.loc[failure, "naive result"] == "nan"
        assert math.isfinite(float(table.loc[failure, "mlteach result"].split(": ")[1]))


def test_gradient_errors_show_what_a_training_step_receives():
    table = gradient_errors(scale=100.0)
    assert (table.xs("log-space", axis=1, level="form") < 0.01).all().all()
    assert table.loc["exp before log", ("float32", "naive")] == math.inf
    assert table.loc["epsilon inside a log", ("float32", "naive")] == pytest.approx(0.5, abs=0.01)  # gradient 0, not -1
    assert table.loc["large-constant mask", ("float32", "naive")] > 0.9
    assert table.loc["mask constant 1e12", ("float16", "naive")] == math.inf
    assert table.loc["mask constant 1e12", ("float32", "naive")] < 1e-6
    assert (table.loc["mean over an empty set"].xs("naive", level="form") == math.inf).all()
