"""Data for the book: digit mosaics, yeast, label regimes, samplers, loaders for real datasets.

Every builder returns a :class:`~mlteach.data.splits.MultiLabelData`; every regime maps one to
another with ``targets`` changed and ``true_targets`` kept. Loaders for data sets on disk live
in :mod:`mlteach.data.loaders`; figure functions in :mod:`mlteach.data.plots`.
"""

from mlteach.data.cooccurrence import FIG1_PAIR, PlantedPair, cooccurrence_matrix
from mlteach.data.long_tail import class_split, make_long_tailed_mosaics, pareto_class_counts
from mlteach.data.mosaics import DigitMosaics, make_digit_mosaics
from mlteach.data.regimes import (annotation_groups, apply_full, apply_partial, apply_single_positive, label_statistics,
                                  label_statistics_table)
from mlteach.data.samplers import ClassAwareSampler, ShuffleSampler, class_aware_indices, shuffled_indices
from mlteach.data.splits import LabelledSplit, MultiLabelData
from mlteach.data.yeast import make_yeast

__all__ = ["FIG1_PAIR", "ClassAwareSampler", "DigitMosaics", "LabelledSplit", "MultiLabelData", "PlantedPair",
           "ShuffleSampler", "annotation_groups", "apply_full", "apply_partial", "apply_single_positive", "class_aware_indices",
           "class_split", "cooccurrence_matrix", "label_statistics", "label_statistics_table",
           "make_digit_mosaics", "make_long_tailed_mosaics", "make_yeast", "pareto_class_counts",
           "shuffled_indices"]
