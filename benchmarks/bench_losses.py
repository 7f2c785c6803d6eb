"""Loss benchmark: forward+backward time and peak memory of every loss in :mod:`mlteach.losses`,
relative to ``F.binary_cross_entropy_with_logits`` on the same tensors, measured in one run.

    python benchmarks/bench_losses.py [--device auto|cpu|cuda] [--threads 1] [--repeats 21] [--quick]
                                      [--compiled] [--output benchmarks/results/bench_losses-cpu.json]

A full run also writes its numbers and where they were measured (date, machine, load, device,
thread count, torch version) to a JSON results file, ``benchmarks/results/bench_losses-<device>.json``
unless ``--output`` says otherwise; the book's appendix shows that file (``book/_ext/loss_index.py``),
never hand-typed numbers. A ``--quick`` run writes a file only when ``--output`` is given. On
Linux the script runs itself again with glibc's malloc set to keep freed memory
(:data:`KEEP_FREED_MEMORY`, recorded in the file), so that page faults do not decide the times.

Three markdown tables, and a fourth with ``--compiled``:

1. every ``*_loss`` function exported by ``mlteach.losses`` (except the group softmax, which
   takes features) at (B, C) = (256, 80) and (4096, 1000). Targets: about 3 positives per
   sample, 20% of the entries unknown (-1); BCE gets the same logits with unknowns read as 0.
   Each repeat times BCE and the loss back to back, so machine load hits both alike; the time
   ratio is the median of the per-repeat ratios. Losses named by the specification but not
   (yet) exported are listed as skipped. BalPoE takes the ``[E, B, C]`` logits of E = 3
   experts, and its row's BCE reference is BCE on those same ``[E, B, C]`` logits (the loss
   does E experts' work);
2. the O(B*C) LSEP, C-LSEP and DR against naive pairwise versions that build the
   ``|P| x |N|`` pair tensor (as ``[lines, n, n]`` with masks) at C = 1000. B is chosen so that
   one pair tensor holds 16M entries (64 MiB in float32): B = 16 for sample-wise LSEP
   (B x C x C) and B = 129 for the class-wise losses (C x B x B);
3. the group softmax loss against G plain linear layers (one ``nn.Linear(D/G, C)`` per group
   and a cross-entropy each: type II with contiguous groups), and the plain softmax loss; the
   ratio to the plain layers is again a median of per-repeat ratios;
4. (``--compiled``) at the small size, each loss of table 1 as exported and the same function
   under ``torch.compile`` (inductor; the first call, which traces and compiles unless torch's
   on-disk cache already holds the kernels, is timed apart), both against eager BCE in the same
   repeats, with ``(x * t).sum()`` compiled as the floor: the fixed cost of compiled code per
   forward+backward. A loss that fails to compile is listed with its error.

Peak memory: the largest net allocation during one forward+backward (CUDA:
``torch.cuda.max_memory_allocated``; CPU: the allocation events of ``torch.profiler``), the
inputs themselves not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

import mlteach.losses as losses

EXPECTED = ("two_way_loss", "margin_bias_two_way_loss", "lsep_loss", "zlpr_loss", "dr_loss", "asymmetric_loss",
            "focal_loss", "distribution_balanced_loss", "assume_negative_loss", "entropy_maximization_loss",
            "large_loss", "bce_loss", "multilabel_softmax_loss", "warp_loss", "group_softmax_loss",
            "reweighted_bce_loss", "class_balanced_focal_loss", "ldam_loss", "balpoe_loss", "circle_loss")
NOT_LOGIT_LOSSES = ("group_softmax_loss",)
#: losses of E experts' logits ``[E, B, C]`` (BalPoE), and the number of experts timed
EXPERT_LOSSES, EXPERTS = ("balpoe_loss",), 3


def extra_arguments(name: str, batch: int, classes: int, device: torch.device) -> list[tuple[str, dict]]:
    """Variants to time for one loss: (label, keyword arguments beyond logits and targets)."""
    if name == "lsep_loss":
        return [("lsep_loss", {}), ("lsep_loss (class-wise, C-LSEP)", dict(class_wise=True))]
    if name == "zlpr_loss":
        return [("zlpr_loss", {}), ("zlpr_loss (class-wise)", dict(class_wise=True))]
    if name == "dr_loss":
        return [("dr_loss (gamma2=10)", dict(gamma2=10.0))]
    if name == "two_way_loss":
        return [("two_way_loss", {}), ("two_way_loss (sample-wise)", dict(mode="sample"))]
    counts = torch.linspace(math.log(0.6 * batch), math.log(2.0), classes).exp().round()
    if name in ("distribution_balanced_loss", "balpoe_loss"):
        label = name + (f" ({EXPERTS} experts)" if name in EXPERT_LOSSES else "")
        return [(label, dict(class_counts=counts.to(device), num_samples=batch))]
    if name in ("reweighted_bce_loss", "class_balanced_focal_loss", "ldam_loss"):
        return [(name, dict(class_counts=counts.to(device)))]
    if name == "large_loss":
        return [(name + " (LL-R, rate 0.2)", dict(rate=0.2))]
    return [(name, {})]


def make_inputs(batch: int, classes: int, device: torch.device, generator: torch.Generator):
    logits = torch.randn(batch, classes, generator=generator).mul_(2).to(device)
    draw = torch.rand(batch, classes, generator=generator)
    targets = (draw < min(0.5, 3.0 / classes)).float()
    targets[torch.rand(batch, classes, generator=generator) < 0.2] = -1
    return logits.requires_grad_(), targets.to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_seconds(step, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


def peak_bytes(step: "Step", device: torch.device) -> int:
    """Largest net allocation while ``step`` runs (gradients from earlier steps freed first)."""
    step.clear()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        step()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    with native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    return max(itertools.accumulate((e.nbytes() for e in events), initial=0))


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 sent to /dev/null: the CPU profiler's C++ side (kineto) writes a
    "USDT ... profiler_start/stop" line there for every profile, which no setting turns off.
    Python's own errors are raised after the descriptor is restored."""
    sys_stderr = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(sys_stderr, 2)
            os.close(sys_stderr)


class Step:
    """One training step of a loss: clear the gradients, evaluate the loss, back-propagate."""

    def __init__(self, loss_fn, *tensors):
        self.loss_fn, self.tensors = loss_fn, tensors

    def clear(self) -> None:
        for tensor in self.tensors:
            tensor.grad = None

    def __call__(self) -> None:
        self.clear()
        self.loss_fn().backward()


def timed_repeats(steps: dict[str, Step], device: torch.device, repeats: int) -> dict[str, list[float]]:
    """Seconds of each step in every repeat; the steps take turns within a repeat. Each timed
    call follows an untimed call of the same step, so it starts from that step's own state of
    the caches and the allocator, not from the other step's."""
    for step in steps.values():  # warm-up
        step()
        step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            step()
            times[name].append(step_seconds(step, device))
    return times


def compare(steps: dict[str, Step], device: torch.device, repeats: int) -> dict[str, tuple[float, int]]:
    """Median seconds (interleaved repeats) and peak bytes of each step."""
    times = timed_repeats(steps, device, repeats)
    return {name: (statistics.median(times[name]), peak_bytes(step, device)) for name, step in steps.items()}


def logit_losses(sizes, device, repeats, generator):
    """Table 1 rows: label -> {size: (seconds, bytes, time ratio, memory ratio)}."""
    exported = [name for name in losses.__all__ if name.endswith("_loss") and name not in NOT_LOGIT_LOSSES]
    skipped = [name for name in EXPECTED if name not in losses.__all__]
    rows: dict[str, dict] = {}
    for batch, classes in sizes:
        logits, targets = make_inputs(batch, classes, device, generator)
        bce_targets = targets.clamp(min=0)
        experts = logits.detach().expand(EXPERTS, -1, -1).clone().requires_grad_()
        expert_targets = bce_targets.expand(EXPERTS, -1, -1)
        references = {False: Step(lambda: F.binary_cross_entropy_with_logits(logits, bce_targets), logits),
                      True: Step(lambda: F.binary_cross_entropy_with_logits(experts, expert_targets), experts)}
        for name in exported:
            inputs = experts if name in EXPERT_LOSSES else logits
            reference = references[name in EXPERT_LOSSES]
            for label, kwargs in extra_arguments(name, batch, classes, device):
                loss = getattr(losses, name)
                step = Step(lambda loss=loss, inputs=inputs, kwargs=kwargs: loss(inputs, targets, **kwargs), inputs)
                try:
                    step()
                except (TypeError, ValueError) as error:
                    if f"{label} ({error})" not in skipped:  # once, not once per size
                        skipped.append(f"{label} ({error})")
                    continue
                times = timed_repeats({"bce": reference, label: step}, device, repeats)
                bce_s, loss_s = statistics.median(times["bce"]), statistics.median(times[label])
                # paired: the median of the per-repeat ratios, which machine load shifts less than either time
                ratio = statistics.median(loss / bce for loss, bce in zip(times[label], times["bce"]))
                bce_b, loss_b = peak_bytes(reference, device), peak_bytes(step, device)
                rows.setdefault(label, {})[(batch, classes)] = (loss_s, loss_b, ratio, loss_b / max(bce_b, 1))
                if name not in EXPERT_LOSSES:
                    rows.setdefault("F.binary_cross_entropy_with_logits", {})[(batch, classes)] = (bce_s, bce_b, 1.0,
                                                                                                    1.0)
    return rows, skipped


def pairwise_lse(x, pos, neg, gamma):
    """log-sum-exp over all (i in P, j in N) pairs of gamma (s_j - s_i), per line: [L, n, n]."""
    pairs = gamma * (x[:, None, :] - x[:, :, None])
    mask = pos[:, :, None] & neg[:, None, :]
    return torch.logsumexp(torch.where(mask, pairs, -math.inf).flatten(1), 1)


def naive_lsep(x, t, gamma=1.0, class_wise=False):
    if class_wise:
        x, t = x.T, t.T
    exponent = pairwise_lse(x, t == 1, t == 0, gamma)
    has_positive = (t == 1).any(1)
    return F.softplus(exponent).sum() / has_positive.sum().clamp(min=1)


def naive_dr(x, t, gamma1=5.0, gamma2=10.0):
    x, t = x.T, t.T
    neg = t == 0
    ngc = torch.logsumexp(torch.where(neg, gamma2 * x, -math.inf), 1)
    exponent = torch.logaddexp(pairwise_lse(x, t == 1, neg, gamma1), ngc)
    return F.softplus(exponent).mean()


def pairwise_table(classes, pair_entries, device, repeats, generator):
    """Table 2 rows: (loss, B, O(B*C) seconds/bytes, pairwise seconds/bytes)."""
    sample_batch = max(1, pair_entries // classes**2)
    class_batch = max(2, int(math.sqrt(pair_entries / classes)))
    cases = [
        ("LSEP", sample_batch, lambda x, t: losses.lsep_loss(x, t), naive_lsep),
        ("C-LSEP", class_batch, lambda x, t: losses.lsep_loss(x, t, class_wise=True),
         lambda x, t: naive_lsep(x, t, class_wise=True)),
        ("DR (gamma2=10)", class_batch, lambda x, t: losses.dr_loss(x, t, gamma2=10.0), naive_dr),
    ]
    rows = []
    for label, batch, fast, naive in cases:
        logits, targets = make_inputs(batch, classes, device, generator)
        torch.testing.assert_close(fast(logits, targets), naive(logits, targets), rtol=1e-4, atol=1e-5)
        measured = compare({"fast": Step(lambda: fast(logits, targets), logits),
                            "naive": Step(lambda: naive(logits, targets), logits)}, device, repeats)
        rows.append((label, batch, measured["fast"], measured["naive"]))
    return rows


class GroupLinearLayers(nn.Module):
    """G separate linear layers on contiguous feature chunks, each with its own cross-entropy."""

    def __init__(self, weight: torch.Tensor, groups: int):
        super().__init__()
        chunks = weight.detach().chunk(groups, dim=0)
        self.layers = nn.ModuleList(nn.Linear(chunk.shape[0], chunk.shape[1], bias=False) for chunk in chunks)
        for layer, chunk in zip(self.layers, chunks):
            layer.weight.data.copy_(chunk.T)

    def forward(self, features, targets):
        parts = features.chunk(len(self.layers), dim=1)
        return sum(F.cross_entropy(layer(part), targets) for layer, part in zip(self.layers, parts))


def group_table(batch, dim, classes, groups, device, repeats, generator):
    features = torch.randn(batch, dim, generator=generator).to(device).requires_grad_()
    weight = (torch.randn(dim, classes, generator=generator) / math.sqrt(dim)).to(device).requires_grad_()
    targets = torch.randint(0, classes, (batch,), generator=generator).to(device)
    layers = GroupLinearLayers(weight, groups).to(device)
    loss_contiguous = losses.group_softmax_loss(features, weight, targets, groups, grouping="contiguous")
    torch.testing.assert_close(loss_contiguous, layers(features, targets), rtol=1e-4, atol=1e-4)
    layer_weights = [layer.weight for layer in layers.layers]
    steps = {
        "softmax cross-entropy (x @ W)": Step(lambda: F.cross_entropy(features @ weight, targets), features, weight),
        f"{groups} plain linear layers + cross-entropy each": Step(lambda: layers(features, targets), features,
                                                                      *layer_weights),
        "group_softmax_loss (type II, contiguous)": Step(
            lambda: losses.group_softmax_loss(features, weight, targets, groups, grouping="contiguous"), features,
            weight),
        "group_softmax_loss (type II, discriminative)": Step(
            lambda: losses.group_softmax_loss(features, weight, targets, groups), features, weight),
        "group_softmax_loss (type I, discriminative)": Step(
            lambda: losses.group_softmax_loss(features, weight, targets, groups, kind="I"), features, weight),
    }
    plain = f"{groups} plain linear layers + cross-entropy each"
    times = timed_repeats(steps, device, repeats)
    return {name: (statistics.median(times[name]), peak_bytes(step, device),
                   statistics.median(t / base for t, base in zip(times[name], times[plain])))
            for name, step in steps.items()}


def compiled_table(batch, classes, device, repeats, generator, names=None):
    """Table 4 rows: label -> (eager time x BCE, compiled time x BCE, first-call seconds, error)."""
    logits, targets = make_inputs(batch, classes, device, generator)
    bce_targets = targets.clamp(min=0)
    reference = Step(lambda: F.binary_cross_entropy_with_logits(logits, bce_targets), logits)
    names = names or [name for name in losses.__all__
                      if name.endswith("_loss") and name not in NOT_LOGIT_LOSSES + EXPERT_LOSSES]
    cases = [("(x * t).sum() (the floor)", lambda x, t: (x * t).sum(), {})]
    cases += [(label, getattr(losses, name), kwargs) for name in names
              for label, kwargs in extra_arguments(name, batch, classes, device)]
    rows = {}
    for label, loss, kwargs in cases:
        torch._dynamo.reset()
        compiled = torch.compile(loss, dynamic=False)
        eager_step = Step(lambda loss=loss, kwargs=kwargs: loss(logits, targets, **kwargs), logits)
        compiled_step = Step(lambda compiled=compiled, kwargs=kwargs: compiled(logits, targets, **kwargs), logits)
        try:
            eager_step()
        except (TypeError, ValueError):  # needs arguments this benchmark does not give: skipped in table 1
            continue
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():  # dynamo traces through the package's lru_cache of constants
                warnings.filterwarnings("ignore", message="Dynamo detected a call to a `functools.lru_cache`")
                compiled_step()
        except Exception as error:  # noqa: BLE001 -- a loss that does not compile is a result, shown in the table
            rows[label] = (None, None, None, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}")
            continue
        compile_seconds = time.perf_counter() - start
        with torch.no_grad():  # the compiled function computes the same loss
            torch.testing.assert_close(compiled(logits, targets, **kwargs), loss(logits, targets, **kwargs))
        times = timed_repeats({"bce": reference, "eager": eager_step, "compiled": compiled_step}, device, repeats)
        eager, fused = (statistics.median(t / base for t, base in zip(times[key], times["bce"]))
                        for key in ("eager", "compiled"))
        rows[label] = (eager, fused, compile_seconds, None)
    torch._dynamo.reset()
    return rows


RESULTS = Path(__file__).resolve().parent / "results"
#: glibc malloc settings under which freed memory stays in the process: without them, every large
#: tensor is a fresh mmap whose page faults make one step's time depend on what the step before
#: it freed (BCE at 4096 x 1000 took 19-47 ms on the machine measured, 17-24 ms with them)
KEEP_FREED_MEMORY = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"


def machine_description() -> dict:
    """Where a run was measured: CPU model, cores, load average at the start, OS."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1min": load,
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "glibc_tunables": os.environ.get("GLIBC_TUNABLES")}


def results_document(results: dict, *, device: torch.device, threads: int, repeats: int, sizes,
                     pair_classes: int, group_shape: dict, started: str, machine: dict) -> dict:
    """The results file: every number of the tables, and where they were measured."""
    size_names = [f"{b}x{c}" for b, c in sizes]
    compiled = {} if results.get("compiled") is None else {"compiled": {
        "size": size_names[0],
        "rows": [{"loss": label, "eager_x_bce": eager, "compiled_x_bce": fused, "compile_s": seconds, "error": error}
                 for label, (eager, fused, seconds, error) in results["compiled"].items()]}}
    return {**compiled,
        "date": started, "machine": machine,
        "device": device.type + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "threads": threads, "torch": torch.__version__, "repeats": repeats, "sizes": size_names,
        "losses": [{"loss": label, **{name: dict(zip(("ms", "time_x_bce", "peak_mib", "memory_x_bce"),
                                                   (by_size[size][0] * 1e3, by_size[size][2],
                                                    by_size[size][1] / 2**20, by_size[size][3])))
                                      for name, size in zip(size_names, sizes) if size in by_size}}
                   for label, by_size in results["losses"].items()],
        "skipped": results["skipped"],
        "pairwise": {"classes": pair_classes,
                     "rows": [{"loss": label, "batch": batch, "fast_ms": fast_s * 1e3, "pairwise_ms": naive_s * 1e3,
                               "fast_peak_mib": fast_b / 2**20, "pairwise_peak_mib": naive_b / 2**20}
                              for label, batch, (fast_s, fast_b), (naive_s, naive_b) in results["pairwise"]]},
        "group_softmax": {**group_shape, "rows": [{"variant": label, "ms": seconds * 1e3, "peak_mib": nbytes / 2**20,
                                                   "x_plain_layers": ratio}
                                                  for label, (seconds, nbytes, ratio) in
                                                  results["group_softmax"].items()]},
    }


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:.3f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=21, help="timed repeats per measurement")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--compiled", action="store_true",
                        help="also time every loss under torch.compile at the small size (minutes of compiling)")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default for a full run: benchmarks/results/bench_losses-<device>.json)")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    machine = machine_description()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    repeats = 2 if args.quick else args.repeats
    sizes = [(8, 5), (16, 12)] if args.quick else [(256, 80), (4096, 1000)]
    pair_classes, pair_entries = (20, 4000) if args.quick else (1000, 2**24)
    group_shape = dict(batch=8, dim=16, classes=5, groups=4) if args.quick else dict(batch=256, dim=2048, classes=1000,
                                                                                    groups=4)
    where = f"{device.type}" + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else
                                f", {args.threads} thread(s)")
    print(f"# mlteach.losses benchmark ({where}; torch {torch.__version__}; median of {repeats} repeats)\n")

    rows, skipped = logit_losses(sizes, device, repeats, generator)
    header = " | ".join(f"{b}x{c} ms | x BCE | peak MiB | x BCE" for b, c in sizes)
    print(f"## Forward+backward against BCE\n\n| loss | {header} |")
    print("|---" * (1 + 4 * len(sizes)) + "|")
    for label, by_size in sorted(rows.items(), key=lambda item: item[0] != "F.binary_cross_entropy_with_logits"):
        cells = []
        for size in sizes:
            seconds, nbytes, time_ratio, memory_ratio = by_size.get(size, (math.nan,) * 4)
            cells += [f"{seconds * 1e3:.3f}", f"{time_ratio:.2f}", mib(nbytes), f"{memory_ratio:.2f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for note in skipped:
        print(f"\nskipped: {note}")

    pairs = pairwise_table(pair_classes, pair_entries, device, repeats, generator)
    print(f"\n## O(B*C) against naive pairwise (C = {pair_classes}; B chosen so one pair tensor holds "
          f"{pair_entries:,} entries)\n")
    print("| loss | B | O(B*C) ms | pairwise ms | speed-up | O(B*C) peak MiB | pairwise peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for label, batch, (fast_s, fast_b), (naive_s, naive_b) in pairs:
        print(f"| {label} | {batch} | {fast_s * 1e3:.3f} | {naive_s * 1e3:.3f} | {naive_s / fast_s:.1f} | "
              f"{mib(fast_b)} | {mib(naive_b)} |")

    groups = group_table(**group_shape, device=device, repeats=repeats, generator=generator)
    print(f"\n## Group softmax (B={group_shape['batch']}, D={group_shape['dim']}, C={group_shape['classes']}, "
          f"G={group_shape['groups']})\n")
    print("| variant | ms | x plain layers | peak MiB |\n|---|---|---|---|")
    for label, (seconds, nbytes, ratio) in groups.items():
        print(f"| {label} | {seconds * 1e3:.3f} | {ratio:.2f} | {mib(nbytes)} |")
    compiled = None
    if args.compiled:
        compiled = compiled_table(*sizes[0], device=device, repeats=repeats, generator=generator)
        print(f"\n## torch.compile at {sizes[0][0]}x{sizes[0][1]} (time x eager BCE)\n")
        print("| loss | eager | compiled | first call s |\n|---|---|---|---|")
        for label, (eager, fused, seconds, error) in compiled.items():
            cells = f"failed: {error} | | |" if error else f"{eager:.2f} | {fused:.2f} | {seconds:.1f} |"
            print(f"| {label} | {cells}")
    results = dict(losses=rows, skipped=skipped, pairwise=pairs, group_softmax=groups, compiled=compiled)
    output = args.output or (None if args.quick else RESULTS / f"bench_losses-{device.type}.json")
    if output is not None:
        document = results_document(results, device=device, threads=args.threads, repeats=repeats, sizes=sizes,
                                    pair_classes=pair_classes, group_shape=group_shape, started=started,
                                    machine=machine)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"\nresults written to {output}")
    return results


if __name__ == "__main__":
    if sys.platform == "linux" and KEEP_FREED_MEMORY not in os.environ.get("GLIBC_TUNABLES", ""):
        # glibc reads its tunables at start-up: run again with them (once)
        tunables = ":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"), KEEP_FREED_MEMORY)))
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "GLIBC_TUNABLES": tunables})
    main()
