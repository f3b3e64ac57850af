"""The stress run over time: turns in buckets of a few seconds, drawn as an SVG written by hand
(no plotting dependency): turns per second (started, and completed: a gap is lost turns),
TTFT p95, and the share of each model, the throttled window shaded in every panel."""

import math
from collections import Counter
from dataclasses import dataclass, field
from html import escape

from devtools.stress.records import TurnRecord
from devtools.stress.report import percentile
from devtools.stress.throttle import Window


@dataclass
class Bucket:
    """The turns that started in [start_s, start_s + width)."""

    start_s: float
    turns: int = 0
    ttfts_ms: list[float] = field(default_factory=list)
    models: Counter = field(default_factory=Counter)  # completed turns per answering model

    @property
    def completed(self) -> int:
        return sum(self.models.values())


def bucket_width(run_time_s: float) -> float:
    """A round number of seconds that cuts the run into at most 40 buckets."""
    return next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300) if run_time_s / s <= 40)


def bucket_turns(
    turns: list[TurnRecord], started: float, run_time_s: float, width_s: float
) -> list[Bucket]:
    """Every bucket of the run, empty ones included; turns outside the run are left out."""
    buckets = [Bucket(i * width_s) for i in range(math.ceil(run_time_s / width_s))]
    for turn in turns:
        index = math.floor((turn.started - started) / width_s)
        if not 0 <= index < len(buckets):
            continue
        bucket = buckets[index]
        bucket.turns += 1
        if turn.completed:
            bucket.models[turn.model] += 1
            if turn.ttft_s is not None:
                bucket.ttfts_ms.append(1000 * turn.ttft_s)
    return buckets


WIDTH, PANEL, GAP, LEFT, TOP = 900, 150, 50, 70, 50
SHADE = "#e53e3e"
GREY = "#a0aec0"
COLOURS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#718096")


class _Panel:
    """One chart: x is the run's seconds, y a panel's own scale."""

    def __init__(self, index: int, run_time_s: float, y_max: float):
        self.top = TOP + index * (PANEL + GAP)
        self.run_time_s, self.y_max = run_time_s, y_max or 1.0

    def x(self, offset_s: float) -> float:
        return LEFT + (WIDTH - LEFT - 20) * offset_s / self.run_time_s

    def y(self, value: float) -> float:
        return self.top + PANEL - PANEL * value / self.y_max

    def frame(self, title: str, unit: str) -> list[str]:
        return [
            f'<rect x="{LEFT}" y="{self.top}" width="{WIDTH - LEFT - 20}" height="{PANEL}" '
            'fill="none" stroke="#a0aec0"/>',
            f'<text x="{LEFT}" y="{self.top - 8}" font-weight="bold">{escape(title)}</text>',
            f'<text x="{LEFT - 6}" y="{self.top + 12}" text-anchor="end">'
            f"{_number(self.y_max)}{escape(unit)}</text>",
            f'<text x="{LEFT - 6}" y="{self.top + PANEL}" text-anchor="end">0</text>',
        ]

    def shade(self, window: Window) -> str:
        """Drawn over the data, translucent, so it shows over the stacked bars too."""
        x = self.x(window.start_s)
        return (
            f'<rect class="throttle-window" x="{x:.1f}" y="{self.top}" '
            f'width="{self.x(window.end_s) - x:.1f}" height="{PANEL}" fill="{SHADE}" '
            'fill-opacity="0.25"/>'
        )

    def line(self, points: list[tuple[float, float]], colour: str) -> str:
        path = " ".join(f"{self.x(t):.1f},{self.y(v):.1f}" for t, v in points)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'


def render_svg(
    buckets: list[Bucket], run_time_s: float, width_s: float, window: Window, title: str
) -> str:
    """Three panels over the run's seconds under `title`; the throttled window is each
    panel's pink band."""
    middles = [bucket.start_s + width_s / 2 for bucket in buckets]
    rates = [bucket.completed / width_s for bucket in buckets]
    started = [bucket.turns / width_s for bucket in buckets]
    p95s = [percentile(bucket.ttfts_ms, 95) for bucket in buckets]
    models = sorted({model for bucket in buckets for model in bucket.models})
    panels = [
        _Panel(0, run_time_s, max(started, default=0) * 1.1),
        _Panel(1, run_time_s, max((p for p in p95s if p is not None), default=0) * 1.1),
        _Panel(2, run_time_s, 1.0),
    ]
    body = [f'<text x="{LEFT}" y="16" font-size="14" font-weight="bold">{escape(title)}</text>']
    body += panels[0].frame("turns per second by start: completed (blue) of started (grey)", "/s")
    body.append(panels[0].line(list(zip(middles, started, strict=True)), GREY))
    body.append(panels[0].line(list(zip(middles, rates, strict=True)), COLOURS[0]))
    body += panels[1].frame("time to first token, p95", " ms")
    points = [(t, p) for t, p in zip(middles, p95s, strict=True) if p is not None]
    body.append(panels[1].line(points, COLOURS[1]))
    body += panels[2].frame("share of completed turns per model", "")
    body += _model_shares(panels[2], buckets, width_s, models)
    body += [panel.shade(window) for panel in panels]
    bottom = panels[2].top + PANEL
    body += [
        f'<text x="{panels[2].x(t):.1f}" y="{bottom + 16}" text-anchor="middle">{t:.0f} s</text>'
        for t in _ticks(run_time_s)
    ]
    legend = [("throttled window (primary answers 429)", SHADE)]
    legend += [(model, COLOURS[i % len(COLOURS)]) for i, model in enumerate(models)]
    x = LEFT
    for label, colour in legend:
        body.append(
            f'<rect x="{x}" y="{bottom + 28}" width="12" height="12" fill="{colour}"'
            + (' fill-opacity="0.25"/>' if colour == SHADE else "/>")
        )
        body.append(f'<text x="{x + 18}" y="{bottom + 39}">{escape(label)}</text>')
        x += 40 + 7 * len(label)  # about 7 px a character at 12 px
    height = bottom + 56
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def _model_shares(panel: _Panel, buckets: list[Bucket], width_s: float, models: list[str]):
    """Stacked bars: each bucket's completed turns split by the model that answered."""
    bars = []
    for bucket in buckets:
        if not bucket.completed:
            continue
        x0, x1 = panel.x(bucket.start_s), panel.x(bucket.start_s + width_s)
        share_below = 0.0
        for i, model in enumerate(models):
            share = bucket.models[model] / bucket.completed
            if share:
                top = panel.y(share_below + share)
                bars.append(
                    f'<rect x="{x0:.1f}" y="{top:.1f}" width="{x1 - x0:.1f}" '
                    f'height="{panel.y(share_below) - top:.1f}" '
                    f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                )
            share_below += share
    return bars


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _ticks(run_time_s: float) -> list[float]:
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if run_time_s / s <= 12)
    return [step * i for i in range(int(run_time_s // step) + 1)]
