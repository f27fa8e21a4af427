"""A PNG of a run's curves, drawn off-screen (matplotlib's Agg canvas, no pyplot state).

Curves are downsampled with the same spike-keeping rule as experiments_metrics, so a 1M-point
log draws as fast as a small one and a loss spike still shows. NaN/Inf points cannot be drawn
as values; they are marked as red ticks along the top of their panel.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from toolkits.experiments.series import Series
from toolkits.experiments.summary import downsample

PANEL_INCHES = (8.0, 2.1)
DPI = 90
MAX_PANELS = 6
POINTS_PER_CURVE = 1500


def render_png(title: str, series: list[Series]) -> bytes:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = series[:MAX_PANELS]
    figure = Figure(figsize=(PANEL_INCHES[0], PANEL_INCHES[1] * len(panels) + 0.5), dpi=DPI)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for axes, one in zip(axes_list, panels, strict=True):
        keep = downsample(one.values, POINTS_PER_CURVE)
        steps, values = one.steps[keep], one.values[keep]
        finite = np.isfinite(values)
        axes.plot(steps[finite], values[finite], linewidth=1.1, color="#1f77b4")
        bad_steps = one.steps[~np.isfinite(one.values)]
        if len(bad_steps):
            shown = bad_steps[
                np.linspace(0, len(bad_steps) - 1, min(len(bad_steps), 200)).astype(int)
            ]
            axes.plot(
                shown,
                np.ones(len(shown)),
                "|",
                color="#d62728",
                markersize=9,
                transform=axes.get_xaxis_transform(),
                clip_on=False,
            )
            axes.text(
                0.99,
                0.9,
                f"{len(bad_steps)} NaN/Inf",
                color="#d62728",
                ha="right",
                va="top",
                fontsize=8,
                transform=axes.transAxes,
            )
        axes.set_title(one.tag, fontsize=9, loc="left")
        axes.grid(True, alpha=0.3)
        axes.tick_params(labelsize=8)
        if _wide_positive_range(values[finite]):
            axes.set_yscale("log")
    axes_list[-1].set_xlabel("step", fontsize=8)
    figure.suptitle(title[:100], fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _wide_positive_range(values) -> bool:
    """A diverging loss spans orders of magnitude; a log axis keeps the early curve visible."""
    if not len(values) or values.min() <= 0:
        return False
    return math.log10(float(values.max()) / float(values.min())) > 3


def save_png(folder: Path, source: str, png: bytes) -> Path:
    """Keep the plot as a file too (a terminal cannot show the image): a new name per plot,
    written whole (temporary file, then rename) so a reader never sees half a PNG."""
    import os
    import re
    import secrets
    import time

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(source).name or source).strip("-.")[:60]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug or 'plot'}-{stamp}-{secrets.token_hex(3)}.png"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(png)
    os.replace(temporary, path)
    return path
