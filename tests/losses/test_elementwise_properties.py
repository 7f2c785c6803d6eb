"""Properties shared by every element-wise loss (the BCE family of balanced.py and
partial.py): block-wise computation equals the whole-tensor one, the caller's tensors are
never modified, the memory layout of the logits does not matter, degenerate label matrices give
finite values and gradients, and half-precision logits are accumulated in float32."""

import pytest
import torch

from mlteach.losses import _checks

from .conftest import BALANCED_LOSSES, PARTIAL_LOSSES, random_problem

LOSSES = {**BALANCED_LOSSES, **PARTIAL_LOSSES}
parametrize_losses = pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())


@parametrize_losses
def test_row_blocks_give_the_whole_tensor_result(loss, monkeypatch):
    # Large inputs are computed in blocks of rows (mlteach.losses._checks.row_blocks);
    # shrinking the block to 7 entries (1-2 rows here) must not change values or gradients.
    logits, targets = random_problem(13, 9, 5)
    x_whole = logits.clone().requires_grad_(True)
    whole = loss(x_whole, targets)
    whole.backward()
    monkeypatch.setattr(_checks, "BLOCK_ENTRIES", 7)
    x_blocks = logits.clone().requires_grad_(True)
    blocks = loss(x_blocks, targets)
    blocks.backward()
    torch.testing.assert_close(blocks, whole)
    torch.testing.assert_close(x_blocks.grad, x_whole.grad)


@parametrize_losses
def test_a_kept_graph_gives_the_same_gradient_again(loss):
    # Backward hands the saved gradient over (it may become the logits' .grad without a copy);
    # a caller who then changes it must not change what a second backward through the kept
    # graph returns, and an incoming gradient other than 1 scales it.
    logits, targets = random_problem(21, 6, 5)
    x = logits.clone().requires_grad_(True)
    value = loss(x, targets)
    (first,) = torch.autograd.grad(value, x, retain_graph=True)
    expected = first.clone()
    first.zero_()
    (second,) = torch.autograd.grad(value, x, retain_graph=True)
    assert torch.equal(second, expected)
    (tripled,) = torch.autograd.grad(value * 3, x)
    torch.testing.assert_close(tripled, 3 * expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("row", [0, 6, 12])
@pytest.mark.parametrize("dtype, bad", [(torch.float32, 0.5), (torch.float32, 2.0), (torch.float32, -2.0),
                                        (torch.float32, float("nan")), (torch.int64, 2), (torch.int64, -2)])
def test_a_bad_label_in_any_block_is_refused(row, dtype, bad, monkeypatch):
    # Large targets are checked in blocks of rows, with one synchronisation at the end; with
    # blocks of one row here, a bad entry in the first, a middle or the last block is found.
    monkeypatch.setattr(_checks, "LABEL_CHECK_ENTRIES", 9)
    logits, targets = random_problem(22, 13, 9)
    targets = targets.to(dtype)
    _checks.check_logits_targets(logits, targets)  # valid labels pass block by block
    targets[row, 4] = bad
    with pytest.raises(ValueError, match=r"targets must be 1 \(positive\), 0 \(negative\) or -1"):
        _checks.check_logits_targets(logits, targets)
    assert len(_checks.row_blocks(targets, _checks.LABEL_CHECK_ENTRIES)) == 13


@parametrize_losses
def test_inputs_are_not_modified(loss):
    logits, targets = random_problem(3, 4, 3)
    logits_copy, targets_copy = logits.clone(), targets.clone()
    loss(logits.requires_grad_(True), targets).backward()
    assert torch.equal(logits.detach(), logits_copy) and torch.equal(targets, targets_copy)


@parametrize_losses
def test_non_contiguous_logits(loss):
    logits, targets = random_problem(14, 5, 4)
    transposed = logits.t().contiguous().t().requires_grad_(True)  # same values, column-major
    contiguous = logits.clone().requires_grad_(True)
    torch.testing.assert_close(loss(transposed, targets), loss(contiguous, targets))
    loss(transposed, targets).backward()
    loss(contiguous, targets).backward()
    torch.testing.assert_close(transposed.grad, contiguous.grad)


EDGE_TARGETS = {
    "no_positive": torch.tensor([[0.0, -1.0, 0.0], [-1.0, -1.0, 0.0]]),
    "all_unknown": torch.full((2, 3), -1.0),
    "all_positive": torch.ones(2, 3),
    "single_positive": torch.tensor([[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]),
    "one_class_known": torch.tensor([[1.0], [0.0]]),
    "one_class_unknown": torch.tensor([[1.0], [-1.0]]),
    "batch_of_one": torch.tensor([[1.0, -1.0, 0.0]]),
}


@parametrize_losses
@pytest.mark.parametrize("targets", EDGE_TARGETS.values(), ids=EDGE_TARGETS.keys())
def test_edge_cases_finite_with_gradient(loss, targets):
    x = torch.randn(targets.shape, requires_grad=True)
    value = loss(x, targets)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@parametrize_losses
def test_half_precision_inputs_accumulate_in_float32(loss, dtype):
    logits, targets = random_problem(5, 8, 6, scale=4.0)
    x = logits.to(dtype).requires_grad_(True)
    value = loss(x, targets)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    torch.testing.assert_close(value, loss(x.detach().double(), targets).float(), rtol=1e-5, atol=1e-6)
    value.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()
    big = torch.tensor([[6e4, -6e4, 6e4], [-6e4, 6e4, -6e4]], dtype=dtype, requires_grad=True)
    value = loss(big, torch.tensor([[1.0, 0.0, -1.0], [1.0, -1.0, 0.0]]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(big.grad).all()
