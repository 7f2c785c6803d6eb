"""Second derivatives of every loss are exact: the closed-form backward passes are themselves
differentiable (gradient penalties, Hessian-vector products), checked with ``gradgradcheck``
and against plain-autograd formulas."""

import pytest
import torch
import torch.nn.functional as F

from mlteach.losses import entropy_maximization_loss, focal_loss, group_softmax_loss, lsep_loss

from .conftest import ALL_LOSSES, random_problem


@pytest.mark.parametrize("loss", ALL_LOSSES.values(), ids=ALL_LOSSES.keys())
def test_gradgradcheck(loss):
    logits, targets = random_problem(3, 5, 4, scale=1.5)
    logits.requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda x: loss(x, targets), (logits,))


@pytest.mark.parametrize("kind", ["I", "II"])
def test_gradgradcheck_group_softmax(kind):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(4, 6, dtype=torch.float64, generator=generator, requires_grad=True)
    weight = torch.randn(6, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    targets = torch.tensor([0, 2, 1, 1])
    assert torch.autograd.gradgradcheck(
        lambda f, w: group_softmax_loss(f, w, targets, groups=2, kind=kind, grouping="contiguous"),
        (features, weight))


def _penalty_gradient(loss, features, targets, weight):
    """d/dW of the gradient penalty ||dL/dW||^2 of a linear model ``features @ W``."""
    weight = weight.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(features @ weight, targets), weight, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), weight)
    return second


REFERENCES = {  # the same losses in plain autograd operations
    focal_loss: lambda x, t: (-(1 - torch.sigmoid(x * (2 * t.clamp(min=0) - 1))) ** 2
                              * F.logsigmoid(x * (2 * t.clamp(min=0) - 1))).mean(),
    lsep_loss: lambda x, t: torch.stack([
        torch.log1p(torch.exp(row[target == 0].unsqueeze(0) - row[target == 1].unsqueeze(1)).sum())
        for row, target in zip(x, t) if (target == 1).any()]).mean(),
    entropy_maximization_loss: lambda x, t: torch.where(
        t == 1, -F.logsigmoid(x), torch.where(
            t == 0, -F.logsigmoid(-x),
            -0.1 * -(torch.sigmoid(x) * F.logsigmoid(x) + torch.sigmoid(-x) * F.logsigmoid(-x)))).mean(),
}


@pytest.mark.parametrize("loss", REFERENCES, ids=lambda f: f.__name__)
def test_gradient_penalty_through_a_linear_model_matches_plain_autograd(loss):
    """A linear model is where the old first-order-only backward failed outright ("element 0
    of tensors does not require grad"); deeper models silently lost the loss's curvature."""
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(6, 4, dtype=torch.float64, generator=generator)
    weight = torch.randn(4, 5, dtype=torch.float64, generator=generator)
    _, targets = random_problem(2, 6, 5)
    targets[:, 0], targets[:, 1] = 1.0, 0.0
    torch.testing.assert_close(_penalty_gradient(loss, features, targets, weight),
                               _penalty_gradient(REFERENCES[loss], features, targets, weight))
