"""Group softmax loss: the definitions with explicit ingredient logits, Proposition 1, Lemma 1 by
brute force over all equal partitions, the G = 1 special case, gradients, edge cases, errors."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlteach.losses import GroupSoftmaxLoss, discriminative_groups, group_logits, group_softmax_loss

GROUPINGS = ("discriminative", "contiguous", "random")


# ---------------------------------------------------------------- reference definitions
def ingredient_logits(features, weight):
    """z[b, j, c] = x_bj W_jc (the B x D x C tensor the module never builds)."""
    return features[:, :, None] * weight[None]


def reference_loss(features, weight, targets, assignment, groups, kind, bias=None):
    """Supplement eq. A.2 per sample, one group at a time."""
    z = ingredient_logits(features, weight)
    losses = []
    for b in range(features.shape[0]):
        total = 0.0
        for i in range(groups):
            members = assignment[b] == i
            zbar = z[b, members].sum(0) + (0 if bias is None else bias / groups)
            scale = groups if kind == "I" else 1
            total = total - torch.log_softmax(scale * zbar, 0)[targets[b]] / scale
        losses.append(total)
    return torch.stack(losses)


def relaxed_objective(scores, groups_of_elements):
    """Eq. A.20: sum over groups of sp(sum of the group's scores), sp(a) = log(1 + e^{-a})."""
    return sum(F.softplus(-scores[list(group)].sum()).item() for group in groups_of_elements)


def equal_partitions(elements, size):
    """All partitions of ``elements`` into blocks of ``size`` (unordered)."""
    if not elements:
        yield []
        return
    first, rest = elements[0], elements[1:]
    for others in itertools.combinations(rest, size - 1):
        remaining = [e for e in rest if e not in others]
        for partition in equal_partitions(remaining, size):
            yield [(first, *others), *partition]


def problem(batch=5, dim=8, classes=4, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, dim, dtype=dtype, generator=generator)
    weight = torch.randn(dim, classes, dtype=dtype, generator=generator)
    targets = torch.randint(0, classes, (batch,), generator=generator)
    return features, weight, targets


# ---------------------------------------------------------------- definitions
@pytest.mark.parametrize("kind", ["I", "II"])
@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("with_bias", [False, True])
def test_equals_definition(kind, grouping, with_bias):
    features, weight, targets = problem()
    bias = torch.randn(4, dtype=torch.float64) if with_bias else None
    generator = torch.Generator().manual_seed(7)
    terms = group_softmax_loss(features, weight, targets, 4, kind, grouping, bias, "none", generator)
    if grouping == "discriminative":
        assignment = discriminative_groups(features, weight, targets, 4)
    elif grouping == "contiguous":
        assignment = torch.arange(8).div(2, rounding_mode="floor").expand(5, 8)
    else:
        order = torch.rand(5, 8, generator=torch.Generator().manual_seed(7)).argsort(1)
        assignment = torch.empty_like(order).scatter_(1, order, torch.arange(8).div(2, rounding_mode="floor")
                                                      .expand(5, 8))
    torch.testing.assert_close(terms, reference_loss(features, weight, targets, assignment, 4, kind, bias))
    mean = group_softmax_loss(features, weight, targets, 4, kind, grouping, bias,
                              generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(mean, terms.mean())


def test_group_logits_sum_to_the_whole_logits():
    features, weight, targets = problem(batch=3, dim=6, classes=5)
    bias = torch.randn(5, dtype=torch.float64)
    assignment = discriminative_groups(features, weight, targets, 3)
    logits = group_logits(features, weight, assignment, 3, bias)
    assert logits.shape == (3, 3, 5)
    torch.testing.assert_close(logits.sum(1), features @ weight + bias)  # eq. A.1
    z = ingredient_logits(features, weight)
    for b, i in itertools.product(range(3), range(3)):
        torch.testing.assert_close(logits[b, i], z[b, assignment[b] == i].sum(0) + bias / 3)


@pytest.mark.parametrize("kind", ["I", "II"])
@pytest.mark.parametrize("grouping", GROUPINGS)
def test_one_group_is_softmax_cross_entropy(kind, grouping):
    features, weight, targets = problem(batch=6, dim=5, classes=3)
    bias = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(group_softmax_loss(features, weight, targets, 1, kind, grouping, bias),
                               F.cross_entropy(features @ weight + bias, targets))


def test_discriminative_groups_sort_the_scores():
    features, weight, targets = problem(batch=4, dim=12, classes=5)
    assignment = discriminative_groups(features, weight, targets, 3)
    z = ingredient_logits(features, weight)
    for b in range(4):
        y = targets[b]
        others = torch.cat([z[b, :, :y], z[b, :, y + 1:]], 1).mean(1)
        scores = z[b, :, y] - others  # eq. A.14
        assert torch.bincount(assignment[b], minlength=3).tolist() == [4, 4, 4]
        for lower, upper in ((0, 1), (1, 2)):
            assert scores[assignment[b] == lower].max() <= scores[assignment[b] == upper].min()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), special=st.sampled_from([0.0, -0.0, 1.5, -1.5, math.inf, -math.inf, math.nan]))
def test_the_fast_float32_sort_is_torchs_stable_argsort(seed, special):
    """Discriminative groups sort float32 scores on CPU by integer keys (group_softmax.
    _stable_row_order); ties (including -0.0 against +0.0), infinities and NaN order as in
    torch's stable sort."""
    from mlteach.losses.group_softmax import _stable_row_order

    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(6, 40, generator=generator).round()  # many ties
    scores[torch.rand(6, 40, generator=generator) < 0.2] = special
    scores[0, :5] = -0.0
    assert torch.equal(_stable_row_order(scores), scores.argsort(dim=1, stable=True))


@pytest.mark.parametrize("dim,groups", [(6, 2), (6, 3), (8, 2), (8, 4)])
def test_discriminative_grouping_beats_every_equal_partition_of_a20(dim, groups):
    """Lemma 1 by brute force: no equal partition scores higher on the relaxed problem (A.20)."""
    for seed in range(3):
        features, weight, targets = problem(batch=2, dim=dim, classes=4, seed=seed)
        assignment = discriminative_groups(features, weight, targets, groups)
        z = ingredient_logits(features, weight)
        for b in range(2):
            y = targets[b]
            scores = z[b, :, y] - (z[b].sum(1) - z[b, :, y]) / 3
            chosen = [torch.nonzero(assignment[b] == i).flatten().tolist() for i in range(groups)]
            best = relaxed_objective(scores, chosen)
            others = [relaxed_objective(scores, p) for p in equal_partitions(list(range(dim)), dim // groups)]
            assert len(others) == math.factorial(dim) // (math.factorial(dim // groups) ** groups
                                                         * math.factorial(groups))
            assert best >= max(others) - 1e-12


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), groups=st.sampled_from([2, 3, 6]), grouping=st.sampled_from(GROUPINGS),
       scale=st.floats(0.1, 10.0))
def test_proposition_1_softmax_le_type_i_le_type_ii(seed, groups, grouping, scale):
    features, weight, targets = problem(batch=6, dim=12, classes=5, seed=seed)
    features = features * scale
    softmax = F.cross_entropy(features @ weight, targets, reduction="none")
    type_i = group_softmax_loss(features, weight, targets, groups, "I", grouping, reduction="none",
                                generator=torch.Generator().manual_seed(seed))
    type_ii = group_softmax_loss(features, weight, targets, groups, "II", grouping, reduction="none",
                                 generator=torch.Generator().manual_seed(seed))
    assert torch.all(softmax <= type_i + 1e-10)
    assert torch.all(type_i <= type_ii + 1e-10)


def test_discriminative_grouping_raises_the_loss_over_contiguous_on_average():
    """The grouping is adversarial (eq. A.27): it usually increases the type II loss."""
    features, weight, targets = problem(batch=200, dim=16, classes=6)
    discriminative = group_softmax_loss(features, weight, targets, 4, grouping="discriminative")
    contiguous = group_softmax_loss(features, weight, targets, 4, grouping="contiguous")
    assert discriminative > contiguous


def test_any_integer_targets_work():
    features, weight, targets = problem()
    torch.testing.assert_close(group_softmax_loss(features, weight, targets.int(), 4),
                               group_softmax_loss(features, weight, targets, 4))


def test_random_grouping_follows_the_generator():
    features, weight, targets = problem()
    first = group_softmax_loss(features, weight, targets, 2, grouping="random",
                               generator=torch.Generator().manual_seed(1))
    again = group_softmax_loss(features, weight, targets, 2, grouping="random",
                               generator=torch.Generator().manual_seed(1))
    other = group_softmax_loss(features, weight, targets, 2, grouping="random",
                               generator=torch.Generator().manual_seed(2))
    assert first == again and first != other


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", ["I", "II"])
@pytest.mark.parametrize("grouping", GROUPINGS)
def test_gradcheck(kind, grouping):
    features, weight, targets = problem(batch=3, dim=6, classes=4)
    bias = torch.randn(4, dtype=torch.float64)
    inputs = tuple(v.clone().requires_grad_() for v in (features, weight, bias))

    def loss(x, w, b):
        return group_softmax_loss(x, w, targets, 3, kind, grouping, b, "none",
                                  generator=torch.Generator().manual_seed(0))

    assert torch.autograd.gradcheck(loss, inputs)


# ---------------------------------------------------------------- edge cases and precision
@pytest.mark.parametrize("batch,classes", [(1, 4), (5, 1)])
def test_batch_of_one_and_one_class(batch, classes):
    features, weight, targets = problem(batch=batch, dim=4, classes=classes)
    features.requires_grad_()
    value = group_softmax_loss(features, weight, targets, 2)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(features.grad).all()
    if classes == 1:
        assert value.item() == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["I", "II"])
def test_half_precision_and_large_logits(dtype, kind):
    features, weight, targets = problem(batch=16, dim=8, classes=5, dtype=torch.float32)
    big = (features * 100).to(dtype).requires_grad_()  # logits of order 1e3, 1e4 after G scaling
    value = group_softmax_loss(big, weight.to(dtype), targets, 4, kind)
    (grad,) = torch.autograd.grad(value, big)
    assert value.dtype == torch.float32 and grad.dtype == dtype
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    torch.testing.assert_close(value, group_softmax_loss(big.detach().float(), weight.to(dtype).float(), targets,
                                                         4, kind))


def test_inputs_are_not_modified():
    features, weight, targets = problem()
    copies = [v.clone() for v in (features, weight, targets)]
    group_softmax_loss(features.requires_grad_(), weight, targets, 4).backward()
    assert all(torch.equal(a.detach(), b) for a, b in zip((features, weight, targets), copies))


# ---------------------------------------------------------------- module and errors
def test_module_matches_function():
    features, weight, targets = problem()
    module = GroupSoftmaxLoss(groups=2, kind="I", grouping="contiguous")
    torch.testing.assert_close(module(features, weight, targets),
                               group_softmax_loss(features, weight, targets, 2, "I", "contiguous"))
    assert "kind='I'" in repr(module)


@pytest.mark.parametrize("call_bad,match", [
    (lambda x, w, y: group_softmax_loss(x, w, y, 3), "not divisible by groups=3"),
    (lambda x, w, y: group_softmax_loss(x, w, y, 0), "groups must be an integer"),
    (lambda x, w, y: group_softmax_loss(x, w.T, y, 2), "weight must be"),
    (lambda x, w, y: group_softmax_loss(x.long(), w, y, 2), "features must be a floating"),
    (lambda x, w, y: group_softmax_loss(x, w, y.double(), 2), "integer tensor of class indices"),
    (lambda x, w, y: group_softmax_loss(x, w, y + 4, 2), r"class indices in \[0, 4\)"),
    (lambda x, w, y: group_softmax_loss(x, w, y[:2], 2), "targets shape"),
    (lambda x, w, y: group_softmax_loss(x, w, y, 2, kind="III"), "kind"),
    (lambda x, w, y: group_softmax_loss(x, w, y, 2, grouping="sorted"), "grouping"),
    (lambda x, w, y: group_softmax_loss(x, w, y, 2, reduction="avg"), "reduction"),
    (lambda x, w, y: group_softmax_loss(x, w, y, 2, bias=torch.zeros(3)), "bias"),
    (lambda x, w, y: group_logits(x, w, torch.zeros(5, 8), 2), "assignment"),
    (lambda x, w, y: GroupSoftmaxLoss(groups=2, kind="I+II"), "kind"),
])
def test_bad_input_raises_value_error(call_bad, match):
    features, weight, targets = problem()
    with pytest.raises(ValueError, match=match):
        call_bad(features, weight, targets)
