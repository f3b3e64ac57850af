"""A small server-rendered SVG line chart (no JavaScript, no CDN) for the admin."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 150, 12, 28
COLOURS = ("#2b6cb0", "#c53030", "#2f855a", "#b7791f", "#6b46c1", "#2c7a7b")


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[date, float, int]]  # (day, value in [0, 1], how many scores)


def line_chart(series: list[Series], *, first_day: date, last_day: date) -> str:
    """Values in [0, 1] over days, one coloured line per series, legend on the right."""
    span = max((last_day - first_day).days, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first_day).days / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value)

    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end">{}%</text>',
        (
            (LEFT, y(v), LEFT + plot_w, y(v), LEFT - 6, y(v) + 4, int(v * 100))
            for v in (0, 0.25, 0.5, 0.75, 1)
        ),
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>',
        ((x(day), HEIGHT - 8, day.strftime("%d %b")) for day in _tick_days(first_day, last_day)),
    )
    lines = []
    for n, one in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value, _ in one.points)
        dots = format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{} {}: {}% of {}</title></circle>',
            (
                (
                    round(x(day), 1),
                    round(y(value), 1),
                    colour,
                    one.name,
                    day.isoformat(),
                    round(value * 100),
                    count,
                )
                for day, value, count in one.points
            ),
        )
        lines.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}'
                '<rect x="{}" y="{}" width="12" height="12" fill="{}"/>'
                '<text x="{}" y="{}" font-size="12">{}</text>',
                path,
                colour,
                dots,
                WIDTH - RIGHT + 16,
                TOP + 18 * n,
                colour,
                WIDTH - RIGHT + 34,
                TOP + 18 * n + 11,
                one.name,
            )
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="pass rate per metric per day">{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        grid,
        ticks,
        format_html_join("", "{}", ((line,) for line in lines)),
    )


def _tick_days(first_day: date, last_day: date, most: int = 8) -> list[date]:
    days = (last_day - first_day).days
    step = max(1, -(-days // (most - 1)))
    return [first_day + timedelta(days=d) for d in range(0, days + 1, step)]
