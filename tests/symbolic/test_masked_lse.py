"""The masked log-sum-exp derivation holds exactly, and the check catches wrong implementations."""

import pytest
import sympy as sp
import torch

from mlteach.numerics import constant_masked_logsumexp
from mlteach.symbolic.masked_lse import check_set_logsumexp, derive, line_symbols, masked_lse


def test_derivation_steps_hold_exactly():
    steps = derive(n=3)
    values, members, scale, _ = line_symbols(3)
    assert steps["lse"] == masked_lse(values, members, scale)
    assert sp.simplify(steps["gradient"].subs(members[0], 0)) == 0


def test_the_books_one_pass_set_logsumexp_passes():
    check_set_logsumexp()


def test_a_large_constant_mask_fails_the_check():
    def constant_mask(logits, targets):
        return constant_masked_logsumexp(logits, (targets == 0).double(), constant=100.0, dim=1)

    with pytest.raises(AssertionError, match="LSE of row|empty set"):
        check_set_logsumexp(constant_mask, seed=1)


def test_a_flipped_gradient_fails_the_check(flip_gradient):
    def plain(logits, targets):
        masked = torch.where(targets == 0, logits, -float("inf"))
        empty = ~(targets == 0).any(dim=1, keepdim=True)
        return torch.where(empty.squeeze(1), -float("inf"), torch.where(empty, 0.0, masked).logsumexp(dim=1))

    check_set_logsumexp(plain)  # the plain torch form is right
    with pytest.raises(AssertionError, match="closed-form gradient"):
        check_set_logsumexp(flip_gradient(plain))
