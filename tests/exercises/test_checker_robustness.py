"""A checker cannot be fooled, hung or stopped by a submission, and never blames the student for
its own errors. Every implement-checker is run on: a wrong submission that edits its inputs in
place before computing (it used to pass), a correct one that edits its inputs after computing
(it used to fail), an endless loop and ``sys.exit()``; every SymPy checker on a Matrix, ``zoo``,
an unevaluated integral and an exactly equal expression that cancels badly in floats; and both
kinds on an error of the checker's own code."""

from __future__ import annotations

import signal
import sys

import pytest
import sympy as sp

from mlteach import losses
from mlteach.exercises import (check_apl_update, check_c_lsep, check_cb_focal, check_discriminative_groups,
                               check_large_loss_selection, check_lsep, check_two_way_sample, dr, em, feedback,
                               group_softmax, large_loss, symbolic, two_way)
from mlteach.exercises.feedback import TimeUp, time_limit

from .test_checkers import SYMBOLIC


def unknown_to_negative(x, t):
    t[t == -1] = 0.0


def clamp_logits(x, t, *rest):
    x.clamp_(-1.0, 1.0)


def flip_probs(probs, *rest):
    probs.copy_(1 - probs)


def abs_features(features, *rest):
    features.abs_()


def fill_targets(x, t, *rest):
    t.fill_(5.0)


def zero_first(first, *rest):
    first.zero_()


# name: (checker, reference, module and name of the reference the checker calls,
#        in-place edit that makes a wrong answer, in-place edit after a right one)
IMPLEMENT = {
    "lsep": (check_lsep, lambda x, t, gamma=1.0: losses.lsep_loss(x, t, gamma=gamma),
             (two_way, "lsep_loss"), unknown_to_negative, fill_targets),
    "c_lsep": (check_c_lsep, lambda x, t, gamma=1.0: losses.lsep_loss(x, t, gamma=gamma, class_wise=True),
               (dr, "lsep_loss"), unknown_to_negative, fill_targets),
    "two_way": (check_two_way_sample, lambda x, t, tp=4.0, tn=1.0: losses.two_way_loss(x, t, tp, tn, mode="sample"),
                (two_way, "two_way_loss"), unknown_to_negative, fill_targets),
    "selection": (check_large_loss_selection, lambda x, t, rate: losses.large_loss_selection(x, t, rate=rate),
                  (large_loss, "large_loss_selection"), clamp_logits, fill_targets),
    "apl": (check_apl_update, losses.apl_pseudo_labels, (em, "apl_pseudo_labels"), flip_probs, zero_first),
    "groups": (check_discriminative_groups, losses.discriminative_groups,
               (group_softmax, "discriminative_groups"), abs_features, zero_first),
    "cb_focal": (check_cb_focal, lambda x, t, counts, beta=0.9999, gamma=2.0:
                 losses.class_balanced_focal_loss(x, t, counts, beta=beta, gamma=gamma),
                 (dr, "class_balanced_focal_loss"), clamp_logits, fill_targets),
}


@pytest.fixture
def short_time_limit(monkeypatch):
    monkeypatch.setattr(feedback, "TIME_LIMIT", 0.3)


@pytest.mark.parametrize("name", IMPLEMENT)
def test_a_wrong_answer_that_edits_its_inputs_before_computing_fails(name):
    checker, reference, _, edit_before, _ = IMPLEMENT[name]

    def edits_then_computes(*args, **kwargs):
        edit_before(*args)
        return reference(*args, **kwargs)

    result = checker(edits_then_computes)
    assert result.status == "failed", repr(result)
    wrong_values = [case for case in result.cases if not case.passed and not case.detail.startswith("raised")]
    assert wrong_values, repr(result)


@pytest.mark.parametrize("name", IMPLEMENT)
def test_a_right_answer_that_edits_its_inputs_after_computing_passes(name):
    checker, reference, _, _, edit_after = IMPLEMENT[name]

    def computes_then_edits(*args, **kwargs):
        value = reference(*args, **kwargs)
        edit_after(*args)
        return value

    result = checker(computes_then_edits)
    failed = [case.name for case in result.cases if not case.passed]
    # APL's contract forbids editing the caller's tensors: only the case that says so fails
    assert failed == (["the caller's tensors are not modified"] if name == "apl" else []), repr(result)


@pytest.mark.parametrize("catch_everything", [False, True], ids=["loop", "loop-that-catches-exceptions"])
@pytest.mark.parametrize("name", IMPLEMENT)
def test_an_endless_loop_is_stopped_after_the_time_limit(name, catch_everything, short_time_limit):
    def endless(*args, **kwargs):
        while True:
            try:
                pass
            except Exception:
                if not catch_everything:
                    raise

    result = IMPLEMENT[name][0](endless)
    assert result.status == "failed" and len(result.cases) == 1, repr(result)
    assert result.cases[0].detail == "stopped after 0.3 s"
    assert "a loop that never ends" in result.hint


@pytest.mark.parametrize("code", [None, 1, "bye"])
@pytest.mark.parametrize("name", IMPLEMENT)
def test_sys_exit_is_reported_as_your_code_exited(name, code):
    def exits(*args, **kwargs):
        sys.exit(code)

    result = IMPLEMENT[name][0](exits)
    assert result.status == "failed" and len(result.cases) == 1, repr(result)
    assert result.cases[0].detail.startswith("your code exited (sys.exit(")
    assert "sys.exit(), exit() and quit() end the whole program" in result.hint


@pytest.mark.parametrize("name", IMPLEMENT)
def test_an_error_of_the_checker_itself_is_not_blamed_on_the_student(name, monkeypatch):
    checker, reference, (module, attribute), _, _ = IMPLEMENT[name]

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the checker")

    monkeypatch.setattr(module, attribute, broken)
    result = checker(reference)
    assert result.status == "checker error" and not result.passed
    assert result.cases[-1].checker_error and "a bug in the checker" in result.cases[-1].detail
    assert "not your mistake" in repr(result) and "not of your answer" in result.hint


def test_assert_passed_prints_the_report_and_raises_unless_every_check_passed(capsys):
    passed = check_lsep(IMPLEMENT["lsep"][1])
    assert passed.assert_passed() is None and "all checks passed" in capsys.readouterr().out

    def exits(*args, **kwargs):
        sys.exit()

    with pytest.raises(AssertionError, match="LSEP \\(per sample\\): failed"):
        check_lsep(exits).assert_passed()
    assert "your code exited" in capsys.readouterr().out


def test_the_time_limit_without_sigalrm_interrupts_the_main_thread(monkeypatch):
    """Where there is no SIGALRM (Windows), a timer thread interrupts the main thread."""
    monkeypatch.delattr(signal, "setitimer")
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job: must not matter
    with pytest.raises(TimeUp):
        with time_limit(0.2):
            while True:
                pass
    with time_limit(5.0):  # a block that ends in time is not interrupted later
        total = sum(range(1000))
    assert total == 499500
    assert signal.signal(signal.SIGINT, ignored) == signal.SIG_IGN  # the caller's handler is restored


def test_outside_the_main_thread_the_block_runs_without_a_limit():
    """Only the main thread can be interrupted safely; elsewhere the block must still complete."""
    import threading
    import time

    finished = []

    def worker():
        with time_limit(0.05):
            time.sleep(0.2)
        finished.append(True)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert finished == [True]


# ----------------------------------------------------------------------------- SymPy checkers
@pytest.mark.parametrize("name", SYMBOLIC)
def test_a_matrix_is_named_not_blamed_as_a_wrong_value(name):
    checker, answer = SYMBOLIC[name]
    result = checker(sp.Matrix([answer]))
    assert result.status == "failed" and result.cases[0].detail == "a Matrix, not a single expression"
    assert "one scalar expression" in result.hint


@pytest.mark.parametrize("name", SYMBOLIC)
def test_zoo_is_named_as_a_division_by_zero(name):
    checker, answer = SYMBOLIC[name]
    result = checker(answer + sp.Integer(1) / 0)
    assert result.status == "failed" and "zoo (complex infinity)" in result.cases[0].detail
    assert "division by zero" in result.hint


@pytest.mark.parametrize("name", SYMBOLIC)
def test_an_unevaluated_integral_is_evaluated_or_named(name):
    checker, answer = SYMBOLIC[name]
    u = sp.Symbol("u")
    assert checker(answer * sp.Integral(2 * u, (u, 0, 1))).passed  # SymPy computes it: accepted
    result = checker(answer + sp.Integral(sp.Function("f")(u), (u, 0, 1)))
    assert result.status == "failed" and "unevaluated Integral" in result.cases[0].detail


@pytest.mark.parametrize("name", SYMBOLIC)
def test_an_exactly_equal_expression_that_cancels_in_floats_is_accepted(name, monkeypatch):
    checker, answer = SYMBOLIC[name]
    first = sorted(answer.free_symbols, key=lambda s: s.name)[0]
    big = sp.exp(50)  # 5e21: in double precision big (1 + x) - big x - big keeps no digit of the answer
    cancelling = answer + big * (1 + first) - big * first - big
    assert checker(cancelling).passed
    monkeypatch.setattr(symbolic, "is_identity", lambda *args: False)  # no exact proof: the 50-digit check decides
    result = checker(cancelling)
    assert result.passed and "50 digits" in result.cases[-1].detail, repr(result)
    assert checker(cancelling + 1).status == "failed"


@pytest.mark.parametrize("name", SYMBOLIC)
def test_a_symbolic_checker_error_is_not_blamed_on_the_student(name, monkeypatch):
    checker, answer = SYMBOLIC[name]

    def broken(*args):
        raise RuntimeError("a bug in the checker")

    monkeypatch.setattr(symbolic, "is_identity", broken)
    result = checker(answer)
    assert result.status == "checker error" and "a bug in the checker" in result.cases[-1].detail


def test_a_hanging_proof_falls_back_to_numbers(monkeypatch):
    checker, answer = SYMBOLIC["corrected"]
    monkeypatch.setattr(symbolic, "EXACT_TIME_LIMIT", 0.2)

    def endless(*args):
        while True:
            pass

    monkeypatch.setattr(symbolic, "is_identity", endless)
    result = checker(answer)
    assert result.passed and "accepted on the numeric agreement" in result.cases[-1].detail
