"""A label-graph classifier head: a *substitute* for ML-GCN (Chen et al., CVPR 2019), the "ML-GCN"
row of the DR paper's Table 1.

ML-GCN learns the classifier of a multi-label model from a graph over the classes. Each class
is a node; a node's input is the word embedding of the class name (GloVe, 300-d); the edges
come from how often labels co-occur in the training set; a 2-layer graph convolutional network
(GCN) maps the node inputs to one weight vector per class, and the logits are the products of
those vectors with the image feature. Word embeddings cannot ship offline, so here the node
inputs come from label co-occurrence as well: node c's input is row c of the conditional
probability matrix, :math:`P(L_j \\mid L_c)` for every class j (a class is described by the
company it keeps). Everything else follows ML-GCN: the binarised, re-weighted correlation
matrix, the 2-layer GCN with a LeakyReLU between the layers, the classifier made of its output.
Results of this head are those of the substitute, not of ML-GCN.

- :func:`label_statistics` -- class counts :math:`n_i` and co-occurrence counts :math:`M_{ij}`;
- :func:`conditional_probabilities` -- :math:`P_{ij} = M_{ij} / n_i`, the node inputs;
- :func:`correlation_matrix` -- ML-GCN's binarised (threshold tau) and re-weighted (p) graph;
- :func:`normalized_adjacency` -- :math:`D^{-1/2} A D^{-1/2}`, what the GCN propagates with;
- :class:`LabelGraphClassifier` -- the head: ``[B, D]`` features in, ``[B, C]`` logits out.

Labels are ``[N, C]`` training targets in {1, 0, -1}: only known positives (1) count as
occurrences, so an unknown label (-1) is simply not counted.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["label_statistics", "conditional_probabilities", "correlation_matrix", "normalized_adjacency",
           "LabelGraphClassifier"]


def _check_labels(labels, *, name: str) -> torch.Tensor:
    """The labels as a float64 ``[N, C]`` tensor of 1, 0 and -1; ``ValueError`` otherwise."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 2 or labels.shape[0] == 0 or labels.shape[1] == 0:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"{name}: labels must be a non-empty [N, C] tensor of training targets, got {shape}")
    values = labels.detach().to(torch.float64)
    if not bool(((values == 1) | (values == 0) | (values == -1)).all()):
        raise ValueError(f"{name}: labels must be 1 (positive), 0 (negative) or -1 (unknown)")
    return values


def _check_fraction(value, what: str, low_closed: bool, high_closed: bool, *, name: str) -> None:
    low_ok = (value >= 0) if low_closed else (value > 0)
    high_ok = (value <= 1) if high_closed else (value < 1)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (low_ok and high_ok):
        allowed = f"{'[' if low_closed else '('}0, 1{']' if high_closed else ')'}"
        raise ValueError(f"{name}: {what} must be a number in {allowed}, got {value!r}")


def label_statistics(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class counts ``n`` (``[C]``: samples where class i is positive) and co-occurrence counts
    ``M`` (``[C, C]``: samples where i and j are both positive; ``M_ii = n_i``), in float64.

    >>> counts, pairs = label_statistics(torch.tensor([[1, 1, 0], [1, 0, -1], [0, 1, 1]]))
    >>> counts.tolist(), pairs[0].tolist()
    ([2.0, 2.0, 1.0], [2.0, 1.0, 0.0])
    """
    positive = (_check_labels(labels, name="label_statistics") == 1).to(torch.float64)
    return positive.sum(0), positive.T @ positive


def conditional_probabilities(labels: torch.Tensor) -> torch.Tensor:
    r""":math:`P_{ij} = P(L_j \mid L_i) = M_{ij} / n_i`, the share of the samples with class i
    that also have class j (``[C, C]``, float64, row i; a row of zeros for a class never
    positive). These rows are the node inputs of :class:`LabelGraphClassifier`.

    >>> conditional_probabilities(torch.tensor([[1, 1], [1, 0]])).tolist()
    [[1.0, 0.5], [1.0, 1.0]]
    """
    counts, pairs = label_statistics(labels)
    return pairs / counts.clamp(min=1).unsqueeze(1)


def correlation_matrix(labels: torch.Tensor, threshold: float = 0.4, reweight: float = 0.2) -> torch.Tensor:
    r"""ML-GCN's correlation matrix (Chen et al., Sec. 3.4): binarise the conditional
    probabilities, :math:`A_{ij} = [P_{ij} \ge \tau]` (``threshold`` = tau; this drops rare,
    noisy co-occurrences), then re-weight so that a node keeps the share :math:`1 - p` of itself
    and spreads ``reweight`` = p evenly over its neighbours (against over-smoothing):

    .. math:: A'_{ij} = \begin{cases} p\, A_{ij} / \sum_{k \ne i} A_{ik} & i \ne j \\ 1 - p & i = j. \end{cases}

    A class without neighbours keeps only its diagonal :math:`1 - p`. Returns ``[C, C]``
    float64, row i for class i (not symmetric in general). The paper's values: tau = 0.4,
    p = 0.2.

    >>> correlation_matrix(torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 1]]), threshold=0.5).tolist()
    [[0.8, 0.2, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 0.8]]
    """
    name = "correlation_matrix"
    _check_fraction(threshold, "threshold", False, True, name=name)
    _check_fraction(reweight, "reweight", True, False, name=name)
    probabilities = conditional_probabilities(labels)
    off_diagonal = 1 - torch.eye(probabilities.shape[0], dtype=torch.float64)
    binary = (probabilities >= threshold).to(torch.float64) * off_diagonal
    neighbours = binary.sum(1, keepdim=True)
    spread = torch.where(neighbours > 0, reweight * binary / neighbours.clamp(min=1), 0.0)
    return spread + (1 - reweight) * torch.eye(probabilities.shape[0], dtype=torch.float64)


def normalized_adjacency(correlation: torch.Tensor) -> torch.Tensor:
    r"""The GCN propagation matrix :math:`\hat A = D^{-1/2} A' D^{-1/2}` with
    :math:`D_{ii} = \sum_j A'_{ij}` (Kipf and Welling's normalisation, as the ML-GCN paper
    states it; the authors' code normalises the transpose of :math:`A'`). Every row sum of
    :math:`A'` must be positive, which :func:`correlation_matrix` guarantees (its diagonal is
    :math:`1 - p > 0`).

    >>> normalized_adjacency(torch.tensor([[1.0, 0.0], [0.0, 4.0]])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if not isinstance(correlation, torch.Tensor) or correlation.dim() != 2 \
            or correlation.shape[0] != correlation.shape[1]:
        raise ValueError("normalized_adjacency: correlation must be a square [C, C] tensor")
    degree = correlation.sum(1)
    if not bool((degree > 0).all()):
        raise ValueError("normalized_adjacency: every row of the correlation matrix must have a positive sum")
    scale = degree.rsqrt()
    return scale.unsqueeze(1) * correlation * scale.unsqueeze(0)


class LabelGraphClassifier(nn.Module):
    r"""Classifier head whose weights a 2-layer GCN computes from the label graph (an ML-GCN
    substitute: node inputs from co-occurrence instead of word embeddings; see the module).

    With the propagation matrix :math:`\hat A` (``[C, C]``, from the training ``labels``), node
    inputs :math:`X = P` (``[C, C]``, :func:`conditional_probabilities`) and the GCN layer rule
    :math:`H^{l+1} = h(\hat A H^l W^l)` of Chen et al.:

    .. math:: W = \hat A\, \operatorname{LeakyReLU}(\hat A X W^0)\, W^1 \in \mathbb R^{C \times D},
              \qquad \hat y = W x,

    for a ``[B, D]`` feature batch x (``forward`` returns the ``[B, C]`` logits). The
    parameters are :math:`W^0` (``C x hidden_dim``) and :math:`W^1` (``hidden_dim x
    feature_dim``), linear maps without bias; :math:`\hat A` and X are fixed buffers. ML-GCN's
    settings: ``threshold`` 0.4, ``reweight`` 0.2, LeakyReLU slope 0.2, hidden width 1024 (from
    300-d word embeddings to 2048-d ResNet-101 features).

    >>> labels = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]])
    >>> head = LabelGraphClassifier(labels, feature_dim=8, hidden_dim=4)
    >>> head(torch.randn(5, 8)).shape, head.class_weights().shape
    (torch.Size([5, 3]), torch.Size([3, 8]))
    """

    def __init__(self, labels: torch.Tensor, feature_dim: int, hidden_dim: int = 1024, threshold: float = 0.4,
                 reweight: float = 0.2, negative_slope: float = 0.2):
        super().__init__()
        name = type(self).__name__
        for what, value in (("feature_dim", feature_dim), ("hidden_dim", hidden_dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real) or not negative_slope >= 0:
            raise ValueError(f"{name}: negative_slope must be a number >= 0, got {negative_slope!r}")
        _check_labels(labels, name=name)
        _check_fraction(threshold, "threshold", False, True, name=name)
        _check_fraction(reweight, "reweight", True, False, name=name)
        num_classes = labels.shape[1]
        self.register_buffer("adjacency", normalized_adjacency(correlation_matrix(labels, threshold, reweight)).float())
        self.register_buffer("node_inputs", conditional_probabilities(labels).float())
        self.first = nn.Linear(num_classes, hidden_dim, bias=False)
        self.second = nn.Linear(hidden_dim, feature_dim, bias=False)
        self.negative_slope, self.threshold, self.reweight = negative_slope, threshold, reweight

    def class_weights(self) -> torch.Tensor:
        """The ``[C, feature_dim]`` classifier the GCN computes (one row per class)."""
        hidden = F.leaky_relu(self.adjacency @ self.first(self.node_inputs), self.negative_slope)
        return self.adjacency @ self.second(hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.class_weights().T

    def extra_repr(self) -> str:
        return (f"num_classes={self.adjacency.shape[0]}, hidden_dim={self.first.out_features}, "
                f"feature_dim={self.second.out_features}, threshold={self.threshold}, reweight={self.reweight}, "
                f"negative_slope={self.negative_slope}")
