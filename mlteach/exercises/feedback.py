"""What a checker answers: which cases passed, and a specific hint for the first that failed.

A checker runs a student's submission on a list of *cases* (named inputs chosen to expose one
mistake each) and returns a :class:`CheckResult`. The result prints as text and displays as a
small HTML report in a notebook. A case fails by raising :class:`Failure` with what happened
(``detail``) and what the likely mistake is (``hint``). A submission that is still the stub
(it raises ``NotImplementedError``, or is ``None``) gets a "not implemented yet" result
instead of failures, so a checker cell under a stub never fails the book build. Warnings the
submission emits are recorded in the case's detail rather than written to stderr.

A submission cannot fool or stop a checker: :func:`call` hands it *copies* of the case's
tensors (so editing its inputs in place changes neither the expected value nor a later case),
stops it after :data:`TIME_LIMIT` seconds ("stopped after N s") and turns ``sys.exit()`` into
"your code exited". An error in the checker's own code is reported as a *checker error*
(status ``"checker error"``), never as the student's mistake.

>>> def case_positive(fn):
...     if fn(2) <= 0:
...         raise Failure(f"fn(2) = {fn(2)}", "return a positive number")
...     return "fn(2) > 0"
>>> print(run_cases("toy exercise", lambda x: -x, {"a positive input": case_positive}))
toy exercise: 0 of 1 checks passed
  ✘ a positive input: fn(2) = -2
Hint (a positive input): return a positive number
"""

from __future__ import annotations

import _thread
import copy
import html
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

__all__ = ["CaseResult", "CheckResult", "Failure", "Stopped", "TimeUp", "run_cases", "call", "copy_inputs",
           "time_limit", "not_implemented", "scalar_loss", "TIME_LIMIT"]

PASS, FAIL = "✔", "✘"

#: Seconds one call of a submission may run (``MLTEACH_CHECK_TIME_LIMIT`` overrides it).
TIME_LIMIT = float(os.environ.get("MLTEACH_CHECK_TIME_LIMIT", "10"))


class Failure(Exception):
    """Raised by a case: ``detail`` says what the submission did, ``hint`` what to change."""

    def __init__(self, detail: str, hint: str):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class Stopped(Failure):
    """A failure after which the checker runs no further case: the submission ran past the time
    limit or exited."""


class TimeUp(BaseException):
    """Raised inside a submission that ran past its time limit (a ``BaseException``, so that an
    ``except Exception`` in the submission does not swallow it)."""


@dataclass(frozen=True)
class CaseResult:
    """One case: its name, whether it passed, what happened, and a hint if it failed."""

    name: str
    passed: bool
    detail: str = ""
    hint: str = ""
    checker_error: bool = False


@dataclass(frozen=True)
class CheckResult:
    """The answer of a checker. ``status`` is ``"passed"``, ``"failed"``, ``"not implemented"``
    or ``"checker error"`` (the checker itself failed on a case: not the student's mistake);
    ``hint`` is the hint of the first failing case (empty when everything passed, the stub
    message when nothing is implemented yet)."""

    exercise: str
    cases: tuple[CaseResult, ...]
    stub_message: str = ""

    @property
    def status(self) -> str:
        if self.stub_message:
            return "not implemented"
        if any(case.checker_error for case in self.cases):
            return "checker error"
        return "passed" if all(case.passed for case in self.cases) else "failed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def first_failure(self) -> CaseResult | None:
        return next((case for case in self.cases if not case.passed), None)

    @property
    def hint(self) -> str:
        if self.stub_message:
            return self.stub_message
        failure = self.first_failure
        return failure.hint if failure else ""

    def _headline(self) -> str:
        if self.stub_message:
            return f"{self.exercise}: not implemented yet"
        if self.status == "checker error":
            return f"{self.exercise}: the checker itself failed (not your mistake)"
        passed = sum(case.passed for case in self.cases)
        verdict = "all checks passed" if self.passed else f"{passed} of {len(self.cases)} checks passed"
        return f"{self.exercise}: {verdict}"

    def assert_passed(self) -> None:
        """Print the report; raise ``AssertionError`` with it unless every check passed (the
        graded cells of :mod:`mlteach.exercises.grading` call this)."""
        print(repr(self))
        if not self.passed:
            raise AssertionError(f"{self.exercise}: {self.status}")

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.stub_message:
            return "\n".join(lines + [f"  {self.stub_message}"])
        for case in self.cases:
            mark = PASS if case.passed else FAIL
            lines.append(f"  {mark} {case.name}" + (f": {case.detail}" if case.detail else ""))
        failure = self.first_failure
        if failure is not None:
            lines.append(f"Hint ({failure.name}): {failure.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"passed": "#2e7d32", "failed": "#c62828", "not implemented": "#9a6700",
                  "checker error": "#6a1b9a"}[self.status]
        parts = [f'<div class="mlteach-check"><p style="margin-bottom:0.3em"><strong style="color:{colour}">'
                 f"{html.escape(self._headline())}</strong></p>"]
        if self.stub_message:
            parts.append(f"<p>{html.escape(self.stub_message)}</p></div>")
            return "".join(parts)
        parts.append('<ul style="list-style:none;padding-left:0.5em;margin-top:0">')
        for case in self.cases:
            mark, mark_colour = (PASS, "#2e7d32") if case.passed else (FAIL, "#c62828")
            detail = f' <span style="opacity:0.75">&mdash; {html.escape(case.detail)}</span>' if case.detail else ""
            parts.append(f'<li><span style="color:{mark_colour}">{mark}</span> {html.escape(case.name)}{detail}</li>')
        parts.append("</ul>")
        failure = self.first_failure
        if failure is not None:
            parts.append(f"<p><strong>Hint</strong> ({html.escape(failure.name)}): {html.escape(failure.hint)}</p>")
        parts.append("</div>")
        return "".join(parts)


def not_implemented(exercise: str, message: str) -> CheckResult:
    """The result for a submission that is still the stub."""
    return CheckResult(exercise, (), stub_message=message)


def _stub_message(submission) -> str:
    if submission is None:
        return "replace None by your answer, run that cell, then run this one again."
    name = getattr(submission, "__name__", "your function")
    return (f"{name} raised NotImplementedError: write your code in its cell, run that cell, "
            "then run this one again.")


def copy_inputs(value):
    """A copy of ``value`` whose tensors are clones (still connected to the autograd graph of
    the originals) and whose lists, tuples and dicts are new; other objects are deep-copied
    when they can be, shared otherwise (SymPy expressions, numbers and strings are immutable)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return type(value)(copy_inputs(item) for item in value)
    if isinstance(value, dict):
        return {key: copy_inputs(item) for key, item in value.items()}
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied is passed as it is
        return value


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeUp` inside the block once it has run ``seconds`` (``None``: no limit).

    In the main thread (where a Jupyter kernel runs cells) a ``SIGALRM`` timer interrupts the
    block; without ``SIGALRM`` (Windows) a timer thread interrupts the main thread. Outside the
    main thread nothing can interrupt the block safely, and it runs without a limit. Python code
    is stopped at once, a single long C call (one huge matrix product) when it returns."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    if hasattr(signal, "setitimer"):
        def alarm(signum, frame):
            raise TimeUp(seconds)

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    fired = threading.Event()

    def interrupt():
        fired.set()
        _thread.interrupt_main()

    # interrupt_main does nothing while SIGINT is ignored (a process started in the background
    # by a shell without job control): Python's own handler is put in place for the block.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        yield
    except KeyboardInterrupt:
        if fired.is_set():
            raise TimeUp(seconds) from None
        raise
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


def call(function: Callable, *args, on_error: str, copy_arguments: bool = True, **kwargs):
    """``function(*args, **kwargs)`` on copies of the arguments (see :func:`copy_inputs`; pass
    ``copy_arguments=False`` to hand over the originals), stopped after :data:`TIME_LIMIT`
    seconds. An exception other than ``NotImplementedError`` becomes a :class:`Failure` whose
    hint is ``on_error``; running past the limit or exiting becomes a :class:`Stopped`."""
    if copy_arguments:
        args, kwargs = copy_inputs(args), copy_inputs(kwargs)
    limit = TIME_LIMIT
    try:
        with time_limit(limit):
            return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except TimeUp:
        raise Stopped(f"stopped after {limit:g} s",
                      f"your code was still running after {limit:g} s on a small input: look for a loop "
                      "that never ends (a while loop whose condition never changes).") from None
    except SystemExit as error:
        raise Stopped(f"your code exited (sys.exit({'' if error.code is None else repr(error.code)}))",
                      "a function must return its result; sys.exit(), exit() and quit() end the whole "
                      "program (in a notebook: the cell). Remove the call.") from None
    except Exception as error:  # the student's code may raise anything; report it as a failure
        raise Failure(f"raised {type(error).__name__}: {error}", on_error) from error


def scalar_loss(value, terms: str) -> torch.Tensor:
    """``value`` if a submitted loss returned what a loss must: a torch tensor holding one number
    (``terms`` names what it averages, e.g. "the B C per-entry terms"); a :class:`Failure` that
    says what came back otherwise."""
    if not isinstance(value, torch.Tensor):
        raise Failure(f"returned a {type(value).__name__}",
                      "return a torch tensor computed with torch operations (not a Python float or a NumPy "
                      "value), so that autograd can differentiate it.")
    if value.numel() != 1:
        raise Failure(f"returned a tensor of shape {tuple(value.shape)}",
                      f"return one number for the batch: the mean of {terms}, not the terms themselves.")
    return value


def run_cases(exercise: str, submission, cases: Mapping[str, Callable], stop_at_failure: bool = False) -> CheckResult:
    """Run every case on ``submission`` (each case is ``case(submission) -> detail``, raising
    :class:`Failure` to fail), or the cases up to the first failure if ``stop_at_failure``
    (for cases that build on each other). A ``None`` submission, or one that raises
    ``NotImplementedError``, gives the "not implemented yet" result. After a :class:`Stopped`
    failure (time limit, exit) or a checker error no further case runs."""
    if submission is None:
        return not_implemented(exercise, _stub_message(None))
    results = []
    for name, case in cases.items():
        stopped = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = CaseResult(name, True, case(submission) or "")
            except NotImplementedError:
                return not_implemented(exercise, _stub_message(submission))
            except Failure as failure:
                result = CaseResult(name, False, failure.detail, failure.hint)
                stopped = isinstance(failure, Stopped)
            except Exception as error:  # the checker's own code failed (the submission's errors are Failures)
                result = CaseResult(name, False, f"the checker raised {type(error).__name__}: {error}",
                                    "this is an error of the checker, not of your answer; please report it "
                                    "with your answer.", checker_error=True)
        if caught:
            note = f"(your code warned: {caught[0].message})"
            result = CaseResult(result.name, result.passed, f"{result.detail} {note}".strip(), result.hint)
        results.append(result)
        if not result.passed and (stop_at_failure or stopped or result.checker_error):
            break
    return CheckResult(exercise, tuple(results))
