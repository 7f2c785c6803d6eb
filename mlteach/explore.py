"""Explorers: the curves of a function of the real ``mlteach`` code under one or two sliders.

An :class:`Explorer` evaluates ``fn(**values)`` at every point of a parameter grid and shows the
named curves it returns (and its scalar *readouts*, such as a threshold) in two forms:

- **live**, in a Jupyter kernel with ipywidgets: one slider per parameter; moving a slider calls
  ``fn`` again at the new value (between grid points too) and redraws an SVG figure;
- **static**, a kernel-free twin: one self-contained ``text/html`` block with an inline SVG, the
  curves of every grid point in a ``<script type="application/json">``, an
  ``<input type="range">`` per parameter and a few lines of inline JavaScript that swap the
  curves. It needs no kernel, no network and no library, so it works in the built book.

A notebook cell whose value is an Explorer displays both in one bundle when it runs in an
interactive kernel: ``application/vnd.jupyter.widget-view+json`` (the live view, which
JupyterLab shows) and ``text/html`` (the twin, the fallback). When a notebook is executed
unattended (nbclient: the book build, ``jupyter nbconvert --execute``) the bundle holds the twin
only, so the built pages carry neither widget state nor the widget JavaScript.

``fn`` returns a mapping from a display name to either an array with one value per ``x`` (a
curve; torch tensors are detached) or a scalar (a readout, shown with 4 significant digits; NaN
reads as "—", meaning "does not exist here"). Every number stored in the twin is rounded to
4 significant digits, and the twin must stay under ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import html
import inspect
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .progress import in_interactive_kernel

__all__ = ["Explorer"]

MAX_PARAMETERS = 2
MAX_POINTS = 401
MAX_FRAMES = 400
DEFAULT_MAX_BYTES = 100_000
SIGNIFICANT_DIGITS = 4
NONE_TEXT = "\u2014"  # an em dash: the readout does not exist at this grid point

# Plot geometry in SVG user units (the figure scales to the width of the page).
WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 12, 46
CURVE_STYLES = 6  # .mlx-c0 ... .mlx-c5: a colour and a dash pattern each

_explorers_made = itertools.count()


@dataclass(frozen=True)
class Frame:
    """What ``fn`` returned at one set of parameter values: curves (one value per x) and
    readouts (scalars), each by display name, in the order ``fn`` returned them."""

    curves: dict[str, np.ndarray]
    readouts: dict[str, float]


def _as_array(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly holding a graph
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def _number(value: float) -> str:
    """A value rounded to 4 significant digits, as JSON (``null`` if not finite)."""
    return format(value, f".{SIGNIFICANT_DIGITS}g") if math.isfinite(value) else "null"


def _readout_text(value: float) -> str:
    return format(value, f".{SIGNIFICANT_DIGITS}g") if math.isfinite(value) else NONE_TEXT


def _rounded(values: np.ndarray) -> list[float | None]:
    return [float(text) if text != "null" else None for text in map(_number, values.tolist())]


def _nice_step(span: float, target_ticks: int = 6) -> float:
    raw = span / target_ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(f * power for f in (1, 2, 5, 10) if f * power >= raw)


def _linear_ticks(low: float, high: float) -> list[tuple[float, str]]:
    step = _nice_step(high - low)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first = math.ceil(low / step - 1e-9)
    ticks = []
    for k in itertools.count(first):
        value = k * step
        if value > high + 1e-9 * (high - low):
            break
        label = f"{value:.{decimals}f}" if 1e-4 <= abs(step) < 1e5 else f"{value:.3g}"
        ticks.append((value, label))
    return ticks


_SUPERSCRIPTS = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _power_of_ten(exponent: int) -> str:
    """A log-axis tick label: 1, 10, or 10 with a superscript exponent (10⁻³)."""
    return {0: "1", 1: "10"}.get(exponent) or "10" + str(exponent).translate(_SUPERSCRIPTS)


class _Axes:
    """Maps data to SVG coordinates; the y axis may be logarithmic (base 10)."""

    def __init__(self, x: np.ndarray, y_low: float, y_high: float, log_y: bool):
        self.x_low, self.x_high = float(x[0]), float(x[-1])
        self.log_y = log_y
        self.y_low, self.y_high = y_low, y_high  # in log10 units when log_y
        self.x_pixels = [round(self.x_pixel(v), 1) for v in x.tolist()]

    def x_pixel(self, value: float) -> float:
        return LEFT + (value - self.x_low) / (self.x_high - self.x_low) * (WIDTH - LEFT - RIGHT)

    def y_pixel(self, value: float | None) -> float | None:
        """The pixel row of ``value``, kept within one plot height of the plot (the clip path
        hides the rest); None where the value cannot be drawn."""
        if value is None or (self.log_y and value <= 0):
            return None
        level = math.log10(value) if self.log_y else value
        height = HEIGHT - TOP - BOTTOM
        row = HEIGHT - BOTTOM - (level - self.y_low) / (self.y_high - self.y_low) * height
        return min(max(row, TOP - height), HEIGHT - BOTTOM + height)

    def path(self, values: list[float | None]) -> str:
        """SVG path data of a curve: a gap wherever a value cannot be drawn."""
        commands, pen_down = [], False
        for x_pixel, value in zip(self.x_pixels, values):
            row = self.y_pixel(value)
            if row is None:
                pen_down = False
                continue
            commands.append(f"{'L' if pen_down else 'M'}{x_pixel:g} {row:.1f}")
            pen_down = True
        return "".join(commands)

    def y_ticks(self) -> list[tuple[float, str]]:
        if not self.log_y:
            return _linear_ticks(self.y_low, self.y_high)
        decades = range(math.ceil(self.y_low - 1e-9), math.floor(self.y_high + 1e-9) + 1)
        stride = max(1, math.ceil(len(decades) / 6))
        return [(float(k), _power_of_ten(k)) for k in decades[::stride]]


def _data_range(frames: Sequence[Frame], log_y: bool) -> tuple[float, float]:
    values = np.concatenate([np.concatenate(list(f.curves.values())) for f in frames])
    values = values[np.isfinite(values)]
    if log_y:
        values = np.log10(values[values > 0])
    if values.size == 0:
        raise ValueError("Explorer: fn returned no finite value to plot"
                         + (" (a log y axis needs positive values)" if log_y else ""))
    low, high = float(values.min()), float(values.max())
    if log_y:
        return math.floor(low), max(math.ceil(high), math.floor(low) + 1)
    if high == low:
        return low - 1.0, high + 1.0
    pad = 0.04 * (high - low)
    return low - pad, high + pad


# Colours follow the page: the pydata theme's variables in the book, JupyterLab's in a kernel,
# with lighter curve colours in dark mode. In dark mode the pydata theme puts HTML outputs on a
# light card; the :has() rule lifts that card for explorers, which follow the theme themselves.
_STYLE = """
.mlx{--mlx-fg:var(--pst-color-text-base,var(--jp-content-font-color1,currentColor));
--mlx-grid:var(--pst-color-border,var(--jp-border-color2,rgba(128,128,128,.35)));
--mlx-c0:#0072b2;--mlx-c1:#c24e00;--mlx-c2:#007d5c;--mlx-c3:#b0468c;--mlx-c4:#6b5b00;--mlx-c5:#555;
color:var(--mlx-fg);max-width:600px;margin:.5em 0 1em;font-size:.9rem}
html[data-theme=dark] .mlx,body[data-jp-theme-light=false] .mlx{
--mlx-c0:#56b4e9;--mlx-c1:#f08c3a;--mlx-c2:#3fcf9f;--mlx-c3:#e69ad0;--mlx-c4:#e8d34c;--mlx-c5:#bbb}
html[data-theme=dark] .bd-content div.cell_output div.text_html:has(>div.mlx){
background-color:transparent;color:inherit;padding:0}
.mlx .mlx-title{font-weight:600;margin:0 0 .3em}
.mlx .mlx-control{display:flex;align-items:center;gap:.6em;margin:.2em 0}
.mlx .mlx-control label{flex:0 0 11em}
.mlx .mlx-control input{flex:1;max-width:20em;accent-color:var(--mlx-c0)}
.mlx .mlx-control output{min-width:4em;font-variant-numeric:tabular-nums;font-weight:600}
.mlx svg.mlx-plot{width:100%;height:auto;display:block;overflow:visible}
.mlx .mlx-swatch{flex:none;width:30px;height:10px}
.mlx svg text{fill:var(--mlx-fg);font-size:13px;font-family:inherit}
.mlx .mlx-axis{stroke:var(--mlx-fg);stroke-width:1}
.mlx .mlx-gridline{stroke:var(--mlx-grid);stroke-width:1}
.mlx .mlx-curve{fill:none;stroke-width:2.2;stroke-linejoin:round}
.mlx line.mlx-marker{stroke-width:1.3;stroke-dasharray:3 3}
.mlx .mlx-c0{stroke:var(--mlx-c0)}.mlx .mlx-c1{stroke:var(--mlx-c1);stroke-dasharray:7 3}
.mlx .mlx-c2{stroke:var(--mlx-c2);stroke-dasharray:2 2.5}.mlx .mlx-c3{stroke:var(--mlx-c3);stroke-dasharray:9 3 2 3}
.mlx .mlx-c4{stroke:var(--mlx-c4);stroke-dasharray:4 4}.mlx .mlx-c5{stroke:var(--mlx-c5);stroke-dasharray:1 3}
.mlx .mlx-legend{list-style:none;padding:0;margin:.2em 0;display:flex;flex-wrap:wrap;gap:.3em 1.4em}
.mlx .mlx-legend li{margin:0;display:flex;align-items:center;gap:.4em}
.mlx .mlx-readouts{margin:.3em 0;display:flex;flex-wrap:wrap;gap:.2em 1.6em}
.mlx .mlx-readouts output{font-weight:600;font-variant-numeric:tabular-nums}
""".replace("\n", "")

# Swaps the curves, readouts and x markers of the static twin when a slider moves. The frame of
# slider positions (i0, i1) is frames[i0 * n1 + i1], as in itertools.product over the grids.
_SCRIPT = """(function(){
var s=document.currentScript,root=s&&s.closest?s.closest(".mlx"):document.getElementById(%(id)s);
var D=JSON.parse(root.querySelector('script[type="application/json"]').textContent);
var ins=root.querySelectorAll("input.mlx-slider"),paths=root.querySelectorAll("path.mlx-curve"),
outs=root.querySelectorAll("output.mlx-readout"),marks=root.querySelectorAll("line.mlx-marker");
var h=D.bottom-D.top;
function row(v){if(v===null||(D.log&&v<=0))return null;var l=D.log?Math.log10(v):v;
var r=D.bottom-(l-D.y[0])/(D.y[1]-D.y[0])*h;return Math.min(Math.max(r,D.top-h),D.bottom+h);}
function path(ys){var d="",pen=false;for(var i=0;i<ys.length;i++){var r=row(ys[i]);
if(r===null){pen=false;continue;}d+=(pen?"L":"M")+D.px[i]+" "+r.toFixed(1);pen=true;}return d;}
function update(){var k=0;for(var j=0;j<ins.length;j++){var i=+ins[j].value,t=D.grid[j][i];
k=k*D.grid[j].length+i;ins[j].setAttribute("aria-valuetext",D.names[j]+" = "+t);
root.querySelector("output[for='"+ins[j].id+"']").value=t;}
var f=D.frames[k];for(j=0;j<paths.length;j++)paths[j].setAttribute("d",path(f.c[j]));
for(j=0;j<outs.length;j++)outs[j].value=f.r[j];
for(j=0;j<marks.length;j++){var v=parseFloat(f.r[D.markers[j]]);
var ok=isFinite(v)&&v>=D.x[0]&&v<=D.x[1];marks[j].style.display=ok?"":"none";
if(ok){var p=(D.left+(v-D.x[0])/(D.x[1]-D.x[0])*D.plotw).toFixed(1);
marks[j].setAttribute("x1",p);marks[j].setAttribute("x2",p);}}}
for(var j=0;j<ins.length;j++)ins[j].addEventListener("input",update);
})();"""


class Explorer:
    """Curves of ``fn`` under one or two sliders, live in a kernel and static in the book.

    The explorer evaluates ``fn`` at every grid point when it is made, so a bad ``fn`` fails at
    once with a message that names the grid point.

    Parameters
    ----------
    fn:
        Called as ``fn(**values)`` with one value per parameter; returns a mapping from display
        name to a curve (one value per ``x``) or a scalar readout. It should call the real
        ``mlteach`` code (torch autograd for a gradient).
    params:
        One or two ``name: grid`` pairs; each grid is a non-empty, strictly increasing sequence
        of numbers. Names are ``fn``'s keyword arguments.
    x:
        The abscissa shared by every curve: strictly increasing, 2 to 401 points.
    title, xlabel, ylabel:
        Plain text (Unicode is fine; no TeX).
    param_labels:
        Slider labels by parameter name (default: the name).
    initial:
        Starting value per parameter, a point of its grid (default: the middle of the grid).
    ylim:
        Fixed y range; by default it spans every curve at every grid point, so the axes do not
        move when a slider does.
    log_y:
        A base-10 logarithmic y axis (non-positive values leave a gap).
    x_markers:
        Readouts drawn as vertical dashed lines at x = readout (e.g. a threshold), each mapped
        to the curve whose colour the line takes.
    description:
        Alternative text of the figure (default: the title and the axis labels).
    max_bytes:
        Size limit of the static twin; raise the limit or shrink the grid if it is exceeded.
    """

    def __init__(self, fn: Callable[..., Mapping], params: Mapping[str, Sequence[float]], x, *,
                 title: str, xlabel: str, ylabel: str,
                 param_labels: Mapping[str, str] | None = None,
                 initial: Mapping[str, float] | None = None,
                 ylim: tuple[float, float] | None = None, log_y: bool = False,
                 x_markers: Mapping[str, str] | None = None, description: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES):
        self.fn = fn
        self.grids = self._check_params(fn, params)
        self.names = list(self.grids)
        self.integer_params = {name for name, grid in params.items()
                               if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                      for v in grid)}
        self.x = self._check_x(x)
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.param_labels = {name: (param_labels or {}).get(name, name) for name in self.names}
        self.initial = self._check_initial(initial or {})
        self.log_y = log_y
        self.description = description or f"{title}: {ylabel} against {xlabel}"
        self.max_bytes = max_bytes
        digest = hashlib.sha1(title.encode()).hexdigest()[:6]
        self.element_id = f"mlx-{digest}-{next(_explorers_made)}"

        self.frames: list[Frame] = []
        for point in itertools.product(*(g.tolist() for g in self.grids.values())):
            self.frames.append(self.evaluate(self._typed(dict(zip(self.names, point)))))
            if len(self.frames) == 1:
                self.curve_names = list(self.frames[0].curves)
                self.readout_names = list(self.frames[0].readouts)
        self.x_markers = dict(x_markers or {})
        for readout, curve in self.x_markers.items():
            if readout not in self.readout_names or curve not in self.curve_names:
                raise ValueError(f"Explorer: x_markers maps a readout of fn to the curve whose "
                                 f"colour it takes; got {readout!r}: {curve!r}, but fn's readouts "
                                 f"are {self.readout_names} and its curves {self.curve_names}")
        if ylim is not None:
            low, high = (math.log10(v) for v in ylim) if log_y else map(float, ylim)
            if not high > low:
                raise ValueError(f"Explorer: ylim must be increasing, got {ylim}")
        else:
            low, high = _data_range(self.frames, log_y)
        self.axes = _Axes(self.x, low, high, log_y)
        self.html = self._static_html()
        size = len(self.html.encode())
        if size > max_bytes:
            raise ValueError(
                f"Explorer {title!r}: the static twin is {size:,} bytes, over max_bytes="
                f"{max_bytes:,}: use fewer grid values ({len(self.frames)} frames) or fewer x "
                f"points ({self.x.size})")
        self._live_view = None
        self.live_sliders: dict = {}  # the live view's sliders by parameter, once it exists
        self.live_frame = self.frames[self._frame_index(self.initial)]  # what the live view shows

    # ---------------------------------------------------------------- checks and evaluation
    @staticmethod
    def _check_params(fn, params) -> dict[str, np.ndarray]:
        if not isinstance(params, Mapping) or not 1 <= len(params) <= MAX_PARAMETERS:
            count = len(params) if isinstance(params, Mapping) else type(params).__name__
            raise ValueError(f"Explorer takes one or two parameters (a slider each) as a mapping "
                             f"name -> grid, got {count}"
                             + (f": {', '.join(params)}" if isinstance(params, Mapping) else ""))
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        grids = {}
        for name, grid in params.items():
            if signature is not None:
                try:
                    signature.bind_partial(**{name: 0.0})
                except TypeError:
                    raise ValueError(f"Explorer: fn{signature} has no parameter {name!r}") from None
            values = np.asarray(grid, dtype=float)
            if values.ndim != 1 or values.size == 0:
                raise ValueError(f"Explorer: the grid of {name!r} must be a non-empty 1-D "
                                 f"sequence of numbers, got shape {values.shape}")
            if not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
                raise ValueError(f"Explorer: the grid of {name!r} must be finite and strictly "
                                 f"increasing, got {values.tolist()}")
            grids[name] = values
        frames = math.prod(g.size for g in grids.values())
        if frames > MAX_FRAMES:
            raise ValueError(f"Explorer: {frames} grid points, over the limit of {MAX_FRAMES}")
        return grids

    @staticmethod
    def _check_x(x) -> np.ndarray:
        values = _as_array(x)
        if values.ndim != 1 or not 2 <= values.size <= MAX_POINTS:
            raise ValueError(f"Explorer: x must be 1-D with 2 to {MAX_POINTS} points, "
                             f"got shape {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
            raise ValueError("Explorer: x must be finite and strictly increasing")
        return values

    def _check_initial(self, initial: Mapping[str, float]) -> dict[str, float]:
        unknown = set(initial) - set(self.names)
        if unknown:
            raise ValueError(f"Explorer: initial values for unknown parameters {sorted(unknown)}")
        values = {}
        for name, grid in self.grids.items():
            if name not in initial:
                values[name] = float(grid[(grid.size - 1) // 2])
                continue
            matches = np.flatnonzero(np.isclose(grid, initial[name], rtol=1e-9, atol=0))
            if matches.size == 0:
                raise ValueError(f"Explorer: initial {name}={initial[name]} is not in its grid "
                                 f"{grid.tolist()}")
            values[name] = float(grid[matches[0]])
        return values

    def _typed(self, values: Mapping[str, float]) -> dict[str, float | int]:
        """Parameter values as ``fn`` receives them: ints for a grid given as ints."""
        return {name: int(round(value)) if name in self.integer_params else float(value)
                for name, value in values.items()}

    def _frame_index(self, values: Mapping[str, float]) -> int:
        index = 0
        for name, grid in self.grids.items():
            index = index * grid.size + int(np.flatnonzero(grid == values[name])[0])
        return index

    def evaluate(self, values: Mapping[str, float]) -> Frame:
        """Call ``fn(**values)`` and sort what it returns into curves and readouts, checking
        their shapes and that the names are those of the first grid point."""
        where = ", ".join(f"{k}={v:g}" for k, v in values.items())
        result = self.fn(**values)
        if not isinstance(result, Mapping) or not result:
            raise ValueError(f"Explorer: fn must return a non-empty mapping name -> curve or "
                             f"readout, got {type(result).__name__} at {where}")
        curves, readouts = {}, {}
        for name, value in result.items():
            array = _as_array(value)
            if array.ndim == 0:
                readouts[str(name)] = float(array)
            elif array.shape == self.x.shape:
                curves[str(name)] = array
            else:
                raise ValueError(f"Explorer: fn returned {name!r} with shape {array.shape} at "
                                 f"{where}; a curve needs shape {self.x.shape} (one value per x) "
                                 f"and a readout is a scalar")
        if not curves:
            raise ValueError(f"Explorer: fn returned no curve at {where}, only readouts "
                             f"{list(readouts)}")
        if len(curves) > CURVE_STYLES:
            raise ValueError(f"Explorer: at most {CURVE_STYLES} curves, fn returned {len(curves)}")
        if self.frames and (list(curves), list(readouts)) != (self.curve_names, self.readout_names):
            raise ValueError(f"Explorer: at {where} fn returned curves {list(curves)} and readouts "
                             f"{list(readouts)}, but {self.curve_names} and {self.readout_names} "
                             f"at the first grid point: it must return the same names everywhere")
        return Frame(curves, readouts)

    # ---------------------------------------------------------------- rendering
    def _figure_html(self, frame: Frame, element_id: str) -> str:
        """The SVG figure, legend and readouts of one frame (shared by both views)."""
        esc = html.escape
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
        parts = [f'<svg class="mlx-plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
                 f'aria-labelledby="{element_id}-alt">',
                 f'<title id="{element_id}-alt">{esc(self.description)}</title>',
                 f'<clipPath id="{element_id}-clip"><rect x="{LEFT}" y="{TOP}" width="{plot_w}" '
                 f'height="{plot_h}"/></clipPath>']
        for value, label in self.axes.y_ticks():
            row = self.axes.y_pixel(10.0 ** value if self.log_y else value)
            parts.append(f'<line class="mlx-gridline" x1="{LEFT}" x2="{right}" y1="{row:.1f}" '
                         f'y2="{row:.1f}"/><text x="{LEFT - 6}" y="{row + 4:.1f}" '
                         f'text-anchor="end">{esc(label)}</text>')
        for value, label in _linear_ticks(self.axes.x_low, self.axes.x_high):
            column = self.axes.x_pixel(value)
            parts.append(f'<line class="mlx-axis" x1="{column:.1f}" x2="{column:.1f}" y1="{bottom}" '
                         f'y2="{bottom + 5}"/><text x="{column:.1f}" y="{bottom + 18}" '
                         f'text-anchor="middle">{esc(label)}</text>')
        parts.append(f'<path class="mlx-axis" fill="none" d="M{LEFT} {TOP}V{bottom}H{right}"/>')
        parts.append(f'<text x="{LEFT + plot_w / 2:g}" y="{HEIGHT - 6}" text-anchor="middle">'
                     f'{esc(self.xlabel)}</text>')
        parts.append(f'<text transform="translate(14 {TOP + plot_h / 2:g}) rotate(-90)" '
                     f'text-anchor="middle">{esc(self.ylabel)}</text>')
        parts.append(f'<g clip-path="url(#{element_id}-clip)">')
        for k, (name, curve) in enumerate(frame.curves.items()):
            parts.append(f'<path class="mlx-curve mlx-c{k}" data-name="{esc(name)}" '
                         f'd="{self.axes.path(_rounded(curve))}"/>')
        for name, curve in self.x_markers.items():
            value = _rounded(np.array([frame.readouts[name]]))[0]
            visible = value is not None and self.axes.x_low <= value <= self.axes.x_high
            column = self.axes.x_pixel(value) if visible else LEFT
            hidden = "" if visible else ' style="display:none"'
            style = self.curve_names.index(curve)
            parts.append(f'<line class="mlx-marker mlx-c{style}" data-name="{esc(name)}" x1="{column:.1f}" '
                         f'x2="{column:.1f}" y1="{TOP}" y2="{bottom}"{hidden}/>')
        parts.append("</g></svg>")
        parts.append('<ul class="mlx-legend">')
        for k, name in enumerate(frame.curves):
            parts.append(f'<li><svg class="mlx-swatch" aria-hidden="true"><line '
                         f'class="mlx-curve mlx-c{k}" x1="1" x2="29" y1="5" y2="5"/></svg>'
                         f'{esc(name)}</li>')
        parts.append("</ul>")
        if frame.readouts:
            parts.append('<p class="mlx-readouts">')
            for k, (name, value) in enumerate(frame.readouts.items()):
                parts.append(f'<span>{esc(name)}{"" if name.endswith(":") else ":"} '
                             f'<output class="mlx-readout" id="{element_id}-r{k}" '
                             f'data-name="{esc(name)}">{_readout_text(value)}</output></span>')
            parts.append("</p>")
        return "".join(parts)

    def _static_html(self) -> str:
        esc, element_id = html.escape, self.element_id
        start = self._frame_index(self.initial)
        controls = []
        for j, (name, grid) in enumerate(self.grids.items()):
            position = int(np.flatnonzero(grid == self.initial[name])[0])
            shown = _readout_text(self.initial[name])
            label = self.param_labels[name]
            controls.append(
                f'<div class="mlx-control"><label for="{element_id}-p{j}">{esc(label)}</label>'
                f'<input class="mlx-slider" type="range" id="{element_id}-p{j}" min="0" '
                f'max="{grid.size - 1}" step="1" value="{position}" data-param="{esc(name)}" '
                f'aria-valuetext="{esc(label)} = {shown}"'
                f'{" disabled" if grid.size == 1 else ""}>'
                f'<output for="{element_id}-p{j}">{shown}</output></div>')
        data = {
            "names": [self.param_labels[n] for n in self.names],
            "params": self.names,
            "grid": [[_readout_text(v) for v in g.tolist()] for g in self.grids.values()],
            "curves": self.curve_names,
            "readouts": self.readout_names,
            "markers": [self.readout_names.index(n) for n in self.x_markers],
            "log": self.log_y,
            "x": [self.axes.x_low, self.axes.x_high],
            "y": [round(self.axes.y_low, 6), round(self.axes.y_high, 6)],
            "top": TOP, "bottom": HEIGHT - BOTTOM, "left": LEFT, "plotw": WIDTH - LEFT - RIGHT,
            "px": self.axes.x_pixels,
            "xs": "@XS@",
            "frames": "@FRAMES@",
        }
        frames = ",".join(
            '{"c":[' + ",".join("[" + ",".join(map(_number, c.tolist())) + "]"
                                for c in f.curves.values())
            + '],"r":' + json.dumps([_readout_text(v) for v in f.readouts.values()]) + "}"
            for f in self.frames)
        payload = (json.dumps(data, separators=(",", ":"))
                   .replace('"@XS@"', "[" + ",".join(map(_number, self.x.tolist())) + "]")
                   .replace('"@FRAMES@"', "[" + frames + "]")
                   .replace("<", "\\u003c"))  # no "</script>" or "<!--" inside the script
        return (f'<div class="mlx" id="{element_id}" role="group" '
                f'aria-labelledby="{element_id}-title"><style>{_STYLE}</style>'
                f'<p class="mlx-title" id="{element_id}-title">{esc(self.title)}</p>'
                + "".join(controls)
                + self._figure_html(self.frames[start], element_id)
                + f'<script type="application/json">{payload}</script>'
                + f"<script>{_SCRIPT % {'id': json.dumps(element_id)}}</script></div>")

    # ---------------------------------------------------------------- live view
    def widget(self):
        """The live view (an ipywidgets ``VBox``): a slider per parameter and the figure, which
        is recomputed by ``fn`` whenever a slider moves. Made once per explorer."""
        if self._live_view is not None:
            return self._live_view
        import ipywidgets as widgets

        sliders = {}
        for name, grid in self.grids.items():
            label = self.param_labels[name]
            if name in self.integer_params or grid.size < 2:
                # counts (groups, epochs) stay on the values of their grid
                slider = widgets.SelectionSlider(
                    options=[(_readout_text(v), v) for v in grid.tolist()],
                    value=self.initial[name], description=label, continuous_update=True)
            else:  # a float parameter moves continuously; fn is called at every value
                slider = widgets.FloatSlider(
                    value=self.initial[name], min=grid[0], max=grid[-1],
                    step=float(np.diff(grid).min()) / 4, description=label,
                    readout_format=".4g", continuous_update=True)
            slider.style.description_width = "initial"
            sliders[name] = slider
        live_id = f"{self.element_id}-live"
        figure = widgets.HTML(self._live_html(self.live_frame, live_id))

        def redraw(_change):
            self.live_frame = self.evaluate(self._typed({n: s.value for n, s in sliders.items()}))
            figure.value = self._live_html(self.live_frame, live_id)

        for slider in sliders.values():
            slider.observe(redraw, names="value")
        self._live_view = widgets.VBox([*sliders.values(), figure])
        self.live_sliders = sliders
        return self._live_view

    def _live_html(self, frame: Frame, element_id: str) -> str:
        return (f'<div class="mlx" id="{element_id}"><style>{_STYLE}</style>'
                f'<p class="mlx-title">{html.escape(self.title)}</p>'
                + self._figure_html(frame, element_id) + "</div>")

    # ---------------------------------------------------------------- display
    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": f"Explorer({self.title!r}; sliders: {', '.join(self.names)})",
                  "text/html": self.html}
        if _in_interactive_kernel_with_widgets():
            view = self.widget()._repr_mimebundle_()
            bundle.update({k: v for k, v in view.items() if k != "text/plain"})
        return bundle


def _in_interactive_kernel_with_widgets() -> bool:
    """True in a kernel with ipywidgets driven by a person (see
    :func:`mlteach.progress.in_interactive_kernel`); False for executors that run a notebook
    unattended (nbclient, hence nbconvert and the book build), so that their output holds the
    static twin only: no widget state, no widget JavaScript on the page."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return in_interactive_kernel()
