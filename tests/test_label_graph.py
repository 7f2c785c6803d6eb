"""The label-graph classifier head (an ML-GCN substitute): the graph built by hand from a small
label matrix, the head's shapes, its computation written out, gradient flow, errors."""

import pytest
import torch
import torch.nn.functional as F

from mlteach.label_graph import (LabelGraphClassifier, conditional_probabilities, correlation_matrix,
                                 label_statistics, normalized_adjacency)

# five samples, four classes: 0 and 1 often together, 2 alone, 3 once with 0; one unknown entry
LABELS = torch.tensor([
    [1, 1, 0, 0],
    [1, 1, 0, 0],
    [1, 0, 0, 1],
    [0, 1, -1, 0],
    [0, 0, 1, 0],
])


def test_statistics_by_hand():
    counts, pairs = label_statistics(LABELS)
    assert counts.tolist() == [3.0, 3.0, 1.0, 1.0]  # the unknown entry of class 2 is not counted
    assert pairs.tolist() == [[3.0, 2.0, 0.0, 1.0],
                              [2.0, 3.0, 0.0, 0.0],
                              [0.0, 0.0, 1.0, 0.0],
                              [1.0, 0.0, 0.0, 1.0]]
    # P(L_j | L_i) = M_ij / n_i, row i
    torch.testing.assert_close(conditional_probabilities(LABELS), torch.tensor([
        [1.0, 2 / 3, 0.0, 1 / 3],
        [2 / 3, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0, 1.0]], dtype=torch.float64))


def test_correlation_matrix_by_hand():
    # tau = 0.4 keeps P >= 0.4: 0 -> 1 (2/3), 1 -> 0 (2/3), 3 -> 0 (1); 0 -> 3 (1/3) is dropped.
    # p = 0.2 is spread over each row's neighbours; the diagonal keeps 1 - p = 0.8.
    want = torch.tensor([[0.8, 0.2, 0.0, 0.0],
                         [0.2, 0.8, 0.0, 0.0],
                         [0.0, 0.0, 0.8, 0.0],
                         [0.2, 0.0, 0.0, 0.8]], dtype=torch.float64)
    torch.testing.assert_close(correlation_matrix(LABELS), want)
    # tau = 0.3 keeps 0 -> 3 as well: row 0 splits p over two neighbours
    lower = correlation_matrix(LABELS, threshold=0.3, reweight=0.5)
    torch.testing.assert_close(lower[0], torch.tensor([0.5, 0.25, 0.0, 0.25], dtype=torch.float64))
    # p = 0: no propagation at all
    torch.testing.assert_close(correlation_matrix(LABELS, reweight=0.0), torch.eye(4, dtype=torch.float64))


def test_normalized_adjacency_by_hand():
    correlation = correlation_matrix(LABELS)
    degree = torch.tensor([1.0, 1.0, 0.8, 1.0], dtype=torch.float64)  # row sums of A'
    want = correlation / degree.sqrt().unsqueeze(1) / degree.sqrt().unsqueeze(0)
    torch.testing.assert_close(normalized_adjacency(correlation), want)
    assert normalized_adjacency(correlation)[2, 2].item() == pytest.approx(1.0)


def test_head_shapes_and_computation():
    torch.manual_seed(0)
    head = LabelGraphClassifier(LABELS, feature_dim=6, hidden_dim=5)
    features = torch.randn(7, 6)
    logits = head(features)
    assert logits.shape == (7, 4) and head.class_weights().shape == (4, 6)
    adjacency = normalized_adjacency(correlation_matrix(LABELS)).float()
    inputs = conditional_probabilities(LABELS).float()
    hidden = F.leaky_relu(adjacency @ inputs @ head.first.weight.T, 0.2)
    weights = adjacency @ hidden @ head.second.weight.T
    torch.testing.assert_close(logits, features @ weights.T)
    assert [name for name, _ in head.named_parameters()] == ["first.weight", "second.weight"]
    assert {name for name, _ in head.named_buffers()} == {"adjacency", "node_inputs"}


def test_gradients_reach_both_gcn_layers_and_the_features():
    torch.manual_seed(1)
    head = LabelGraphClassifier(LABELS, feature_dim=3, hidden_dim=8)
    features = torch.randn(5, 3, requires_grad=True)
    targets = LABELS.clamp(min=0).float()
    F.binary_cross_entropy_with_logits(head(features), targets).backward()
    for tensor in (head.first.weight, head.second.weight, features):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0
    assert head.adjacency.grad is None and not head.adjacency.requires_grad


def test_graph_couples_the_classifiers_of_co_occurring_classes():
    # with p = 0 every class's weight vector comes from its own node only; with p > 0, changing
    # the node input of class 1 changes the weight vector of its neighbour 0, not of class 2
    torch.manual_seed(2)
    for reweight, coupled in ((0.0, False), (0.2, True)):
        head = LabelGraphClassifier(LABELS, feature_dim=3, hidden_dim=4, reweight=reweight)
        before = head.class_weights().detach()
        head.node_inputs[1] += 1.0
        after = head.class_weights().detach()
        assert (not torch.allclose(before[0], after[0])) == coupled
        torch.testing.assert_close(before[2], after[2])


def test_float64_and_module_state():
    head = LabelGraphClassifier(LABELS, feature_dim=3, hidden_dim=4).double()
    assert head(torch.randn(2, 3, dtype=torch.float64)).dtype == torch.float64
    assert "num_classes=4" in repr(head) and "threshold=0.4" in repr(head)
    copy = LabelGraphClassifier(LABELS, feature_dim=3, hidden_dim=4).double()
    copy.load_state_dict(head.state_dict())
    torch.testing.assert_close(copy.class_weights(), head.class_weights())


@pytest.mark.parametrize("make, message", [
    (lambda: LabelGraphClassifier(LABELS * 2, 3), "labels must be 1"),
    (lambda: LabelGraphClassifier(LABELS[0], 3), r"\[N, C\]"),
    (lambda: LabelGraphClassifier(LABELS, 0), "feature_dim must be a positive integer"),
    (lambda: LabelGraphClassifier(LABELS, 3, hidden_dim=2.5), "hidden_dim must be a positive integer"),
    (lambda: LabelGraphClassifier(LABELS, 3, threshold=0.0), r"threshold must be a number in \(0, 1\]"),
    (lambda: LabelGraphClassifier(LABELS, 3, reweight=1.0), r"reweight must be a number in \[0, 1\)"),
    (lambda: LabelGraphClassifier(LABELS, 3, negative_slope=-0.1), "negative_slope"),
    (lambda: correlation_matrix(LABELS, threshold=True), "threshold"),
    (lambda: normalized_adjacency(torch.zeros(2, 3)), "square"),
    (lambda: normalized_adjacency(torch.zeros(2, 2)), "positive sum"),
])
def test_bad_input_raises(make, message):
    with pytest.raises(ValueError, match=message):
        make()
