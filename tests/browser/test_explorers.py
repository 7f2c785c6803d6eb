"""The explorers of the built book, in a browser with the network cut off: the keyboard moves a
slider, the plotted curve and the readouts change, and what the page shows at a grid point is
what ``mlteach`` computes there: each expected value calls :mod:`mlteach.explorer_curves`, the
functions the pages call, at that point (or, for the group softmax, the exact value G log C)."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from mlteach import explorer_curves as ec
from mlteach.losses import asymmetric_loss, focal_loss, two_way_loss

pytestmark = pytest.mark.browser

PAGES = {
    "two_way": "notebooks/ch2_two_way_explorer.html",
    "dr": "notebooks/ch3_dr_explorer.html",
    "large_loss": "notebooks/ch4_large_loss_explorer.html",
    "em": "notebooks/ch5_em_explorer.html",
    "group_softmax": "notebooks/ch6_group_softmax_explorer.html",
}
F64 = torch.float64


# ------------------------------------------------------------------ reading an explorer
def twin_data(explorer) -> dict:
    return json.loads(explorer.locator('script[type="application/json"]').text_content())


def curve_path(explorer, name: str) -> str:
    return explorer.locator(f'path.mlx-curve[data-name="{name}"]').get_attribute("d")


def readout(explorer, name: str) -> str:
    return explorer.locator(f'output.mlx-readout[data-name="{name}"]').inner_text()


def set_slider(explorer, param: str, value: float) -> None:
    """Move a slider to a grid value with the keyboard only: Home, then ArrowRight."""
    data = twin_data(explorer)
    grid = [float(v) for v in data["grid"][data["params"].index(param)]]
    position = min(range(len(grid)), key=lambda i: abs(grid[i] - value))
    assert math.isclose(grid[position], value), f"{value} is not on the grid of {param}: {grid}"
    slider = explorer.locator(f'input.mlx-slider[data-param="{param}"]')
    slider.focus()
    slider.press("Home")
    for _ in range(position):
        slider.press("ArrowRight")
    assert slider.input_value() == str(position)


def plotted_value(explorer, curve: str, x: float) -> tuple[float, float]:
    """The value the SVG path draws at abscissa ``x``, and the tolerance of that reading
    (0.05 px of rounding in the path, plus 4 significant digits in the stored data)."""
    data = twin_data(explorer)
    index = min(range(len(data["xs"])), key=lambda i: abs(data["xs"][i] - x))
    assert math.isclose(data["xs"][index], x, abs_tol=1e-9), f"x = {x} is not a plotted point"
    points = re.findall(r"[ML]([-\d.]+) ([-\d.]+)", curve_path(explorer, curve))
    rows = {float(px): float(py) for px, py in points}
    row = rows[data["px"][index]]
    assert data["top"] < row < data["bottom"], "the point lies outside the plot"
    low, high = data["y"]
    per_pixel = (high - low) / (data["bottom"] - data["top"])
    level = low + (data["bottom"] - row) * per_pixel
    if data["log"]:
        value = 10.0 ** level
        return value, value * (10.0 ** (0.05 * per_pixel) - 1 + 5e-4)
    return level, 0.05 * per_pixel + 5e-4 * abs(level)


# ------------------------------------------------------------------ mlteach, computed here
def curve_at(curves: dict, name: str, axis, x: float) -> float:
    """The value of the curve ``name`` of an explorer_curves result at abscissa ``x``."""
    return float(curves[name][int((axis - x).abs().argmin())])


# (page, explorer on the page, slider values, curve, abscissa, expected value)
CURVE_CASES = [
    ("two_way", 0, {"tp": 2.0, "tn": 0.5}, "positives: share of the upward push", -1.0,
     lambda: curve_at(ec.two_way_share_curves(2.0, 0.5), "positives: share of the upward push",
                      ec.SHARE_LOGITS, -1.0)),
    ("two_way", 1, {"t": 3.0, "margin": 2.0}, "margin-bias loss, eq. (iv)", 0.0,
     lambda: curve_at(ec.temperature_margin_curves(3.0, 2.0), "margin-bias loss, eq. (iv)",
                      ec.MOVING_LOGITS, 0.0)),
    ("dr", 0, {"gamma1": 3.0, "gamma2": 5.0}, "DR = C-LSEP + NGC, eq. (10)", 0.5,
     lambda: float(ec.dr_negative_gradient(torch.tensor([0.5], dtype=F64), 3.0, 5.0, "negative")[0])),
    ("dr", 1, {"gamma": 2.0, "clip": 0.1}, "ASL (γ− = γ, clip m)", 0.49,
     lambda: float(ec.weight_relative_to_bce(asymmetric_loss, torch.tensor([0.49], dtype=F64),
                                             gamma_neg=2.0, clip=0.1)[0])),
    ("large_loss", 0, {"delta_rel_percent": 1.0}, "LL-R / LL-Ct: modified at this epoch", 4.0,
     lambda: float(ec.large_loss_curves(1.0)["LL-R / LL-Ct: modified at this epoch"][3])),
    ("em", 0, {"alpha": 0.2}, "unknown entry, EM", -2.0,
     lambda: curve_at(ec.em_curves(0.2), "unknown entry, EM", ec.EM_LOGITS, -2.0)),
    ("group_softmax", 0, {"groups": 8}, "type II", 0.0,
     lambda: 8 * math.log(10)),  # at feature scale 0 every group logit is 0: G log C
]

# (page, explorer on the page, slider values, readout, expected value)
READOUT_CASES = [
    ("two_way", 1, {"t": 3.0, "margin": 2.0}, "push at x_p′ = 4, temperature",
     lambda: float(ec.push_on_moving_positive(two_way_loss, torch.tensor([4.0], dtype=F64),
                                              tp=3.0, tn=1.0)[0])),
    ("dr", 0, {"gamma1": 3.0, "gamma2": 5.0}, "C-LSEP threshold probability p*",
     lambda: 1 / (1 + math.exp(-ec.dr_threshold_logit(3.0, 5.0, "none")))),
    ("dr", 0, {"gamma1": 8.0, "gamma2": 3.0}, "DR threshold probability p*",
     lambda: 1 / (1 + math.exp(-ec.dr_threshold_logit(8.0, 3.0, "negative")))),
    ("dr", 1, {"gamma": 3.0, "clip": 0.05}, "focal weight at p = 0.15",
     lambda: float(ec.weight_relative_to_bce(focal_loss, torch.tensor([0.15], dtype=F64), gamma=3.0)[0])),
    ("em", 0, {"alpha": 0.5}, "gradient at g = 3, EM", lambda: ec.em_curves(0.5)["gradient at g = 3, EM"]),
]


def open_explorer(offline_page, site_url, page_key: str, index: int):
    page = offline_page.goto(f"{site_url}/{PAGES[page_key]}")
    explorers = page.locator("div.mlx")
    assert explorers.count() > index, f"{PAGES[page_key]} shows {explorers.count()} explorers"
    return explorers.nth(index)


def assert_offline_and_clean(offline_page):
    assert offline_page.blocked == [], f"requests left the machine: {offline_page.blocked}"
    assert offline_page.errors == [], f"JavaScript errors: {offline_page.errors}"


@pytest.mark.parametrize("page_key", sorted(PAGES))
def test_arrow_key_changes_curves_readouts_and_value_text(offline_page, site_url, page_key):
    page = offline_page.goto(f"{site_url}/{PAGES[page_key]}")
    explorers = page.locator("div.mlx")
    assert explorers.count() >= 1
    for k in range(explorers.count()):
        explorer = explorers.nth(k)
        paths = explorer.locator("path.mlx-curve")
        outputs = explorer.locator("output.mlx-readout")
        before = ([paths.nth(i).get_attribute("d") for i in range(paths.count())],
                  [outputs.nth(i).inner_text() for i in range(outputs.count())])
        slider = explorer.locator("input.mlx-slider").first
        at_end = slider.input_value() == slider.get_attribute("max")
        label_before = slider.get_attribute("aria-valuetext")
        shown = explorer.locator(f'output[for="{slider.get_attribute("id")}"]')
        value_before = shown.inner_text()
        slider.focus()
        slider.press("ArrowLeft" if at_end else "ArrowRight")
        after = ([paths.nth(i).get_attribute("d") for i in range(paths.count())],
                 [outputs.nth(i).inner_text() for i in range(outputs.count())])
        assert after[0] != before[0], f"explorer {k}: no curve moved"
        if before[1]:
            assert after[1] != before[1], f"explorer {k}: no readout changed"
        assert shown.inner_text() != value_before
        assert slider.get_attribute("aria-valuetext") != label_before
    assert_offline_and_clean(offline_page)


@pytest.mark.parametrize("page_key, index, sliders, curve, x, expected", CURVE_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CURVE_CASES])
def test_plotted_value_is_what_mlteach_computes(offline_page, site_url, page_key, index, sliders,
                                               curve, x, expected):
    explorer = open_explorer(offline_page, site_url, page_key, index)
    for param, value in sliders.items():
        set_slider(explorer, param, value)
    shown, tolerance = plotted_value(explorer, curve, x)
    assert shown == pytest.approx(expected(), abs=tolerance)
    assert_offline_and_clean(offline_page)


@pytest.mark.parametrize("page_key, index, sliders, name, expected", READOUT_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in READOUT_CASES])
def test_readout_is_what_mlteach_computes(offline_page, site_url, page_key, index, sliders, name,
                                          expected):
    explorer = open_explorer(offline_page, site_url, page_key, index)
    for param, value in sliders.items():
        set_slider(explorer, param, value)
    assert float(readout(explorer, name)) == pytest.approx(expected(), rel=1e-3, abs=1e-9)
    assert_offline_and_clean(offline_page)
