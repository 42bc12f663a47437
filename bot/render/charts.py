"""Small charts as PNG bytes, drawn with Pillow: the /timeline picture and the /status sparkline.

Pure: data in, bytes out; no I/O, no clock, no font but Pillow's built-in default (nothing to
download or find on the machine), so the same data gives the same bytes. Drawing takes a few
milliseconds of CPU: callers run it off the event loop (`asyncio.to_thread`).

- `timeline_chart`: events on a date axis, each a numbered marker (the number of its line in the
  list shown under the chart) on a stem to its date; markers that would touch are moved apart
  along their row, and more events than a row holds take up to `LANES` rows. At most `MAX_EVENTS`
  events are drawn (the newest); undated ones are left out. None when nothing is left to draw.
- `sparkline`: a value per moment (new entries per ingest cycle) as bars over a time span, the
  tallest the peak; None when no point falls in the span.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageDraw, ImageFont

__all__ = ["MAX_EVENTS", "ChartEvent", "sparkline", "timeline_chart"]

MAX_EVENTS = 60  # a timeline chart draws at most this many events (the newest)
LABEL_CHARS = 4  # a marker's text is cut to this many characters
LANES = 4  # rows of markers above the axis
TIMELINE_WIDTH = 640
ROW_HEIGHT = 26  # a row of markers; the chart is as tall as its rows need
SPARKLINE_SIZE = (384, 56)
BAR_WIDTH = 3  # pixels per bar of a sparkline, a one-pixel gap included

_LAST_DATE = 32_503_680_000.0  # 3000-01-01, as bot.render.card_layout.date_valid
_DAY = 86_400.0
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Discord's dark theme, so the picture sits well inside an embed.
_BACKGROUND = (43, 45, 49)
_AXIS = (148, 155, 164)
_TEXT = (242, 243, 245)
MARKER_COLOR = (88, 101, 242)
BAR_COLOR = (87, 242, 135)


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class ChartEvent:
    """One event of a timeline chart: when (UNIX seconds) and the text of its marker (its number)."""

    when: float
    label: str


def _font(size: int) -> Font:
    """Pillow's own default font (a TrueType one when Pillow has FreeType, else its bitmap font)."""
    return ImageFont.load_default(size)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _valid(when: float) -> bool:
    return isinstance(when, int | float) and math.isfinite(when) and 0 < when < _LAST_DATE


def _label(text: str) -> str:
    """A marker's text: printable characters only (no controls, format marks or lone surrogates), cut."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "CZ")
    return kept[:LABEL_CHARS] or "?"


# --- the timeline -----------------------------------------------------------------------------


def timeline_chart(events: Sequence[ChartEvent], *, width: int = TIMELINE_WIDTH) -> bytes | None:
    """A PNG of `events` on a date axis (dates in UTC), `width` pixels wide and as tall as its rows
    of markers need (`chart_height`); None when no event has a plausible date."""
    dated = sorted((e for e in events if _valid(e.when)), key=lambda e: e.when)[-MAX_EVENTS:]
    if not dated:
        return None
    font = _font(12)
    texts = [_label(e.label) for e in dated]
    step = max(2 * _radius(font, t) for t in texts) + 3
    left, right = 20, width - 20
    rows = min(LANES, max(1, math.ceil(len(dated) / max(1, int((right - left) // step)))))
    height = chart_height(rows)
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    axis_y = height - 30
    start, end = _span(dated[0].when, dated[-1].when)

    def x_of(when: float) -> float:
        return left + (when - start) / (end - start) * (right - left)

    draw.line([(left, axis_y), (right, axis_y)], fill=_AXIS, width=2)
    _date_ticks(draw, font, start, end, x_of, axis_y)
    xs = [x_of(e.when) for e in dated]
    placed = _place(xs, rows, step, (left + step / 2, right - step / 2), axis_y - 22)
    for x, (spot, y) in zip(xs, placed, strict=True):  # stems first: no stem crosses a marker's number
        draw.line([(spot, y), (x, axis_y)], fill=_AXIS, width=1)
    for text, (spot, y) in zip(texts, placed, strict=True):
        radius = _radius(font, text)
        draw.ellipse([(spot - radius, y - 10), (spot + radius, y + 10)], fill=MARKER_COLOR)
        draw.text((spot, y), text, font=font, fill=_TEXT, anchor="mm")
    return _png(image)


def chart_height(rows: int) -> int:
    """The height of a timeline chart with `rows` rows of markers (1 to LANES)."""
    return 80 + (rows - 1) * ROW_HEIGHT


def _span(first: float, last: float) -> tuple[float, float]:
    """The axis's first and last moment: the events' span with a margin, a day at least."""
    middle, half = (first + last) / 2, max((last - first) / 2, _DAY / 2)
    margin = half * 0.08
    return middle - half - margin, middle + half + margin


def _place(
    xs: Sequence[float], rows: int, step: float, bounds: tuple[float, float], low_y: int
) -> list[tuple[float, float]]:
    """Where each marker goes, (x, y): event k in row k mod `rows` (neighbours in time are in
    different rows), each row spread apart by `_spread`; the lowest row at `low_y`."""
    placed: list[tuple[float, float]] = [(0.0, 0.0)] * len(xs)
    for row in range(rows):
        members = range(row, len(xs), rows)
        spots = _spread([xs[i] for i in members], step, *bounds)
        for i, spot in zip(members, spots, strict=True):
            placed[i] = (spot, float(low_y - row * ROW_HEIGHT))
    return placed


def _radius(font: Font, text: str) -> float:
    """Half the width of a marker: round for one or two digits, wider for a longer text."""
    return max(10.0, font.getlength(text) / 2 + 4)


def _spread(xs: Sequence[float], step: float, low: float, high: float) -> list[float]:
    """Where to draw markers meant to be at `xs` (ascending) so that none is nearer than `step` to
    the next: each group that would touch is centred on its members' mean, then the whole row is
    kept within [low, high] (squeezed when it cannot fit)."""
    groups: list[list[float]] = []  # [first spot, sum of xs, count]
    for x in xs:
        groups.append([x, x, 1])
        while len(groups) > 1 and groups[-2][0] + groups[-2][2] * step > groups[-1][0]:
            last = groups.pop()
            total, count = groups[-1][1] + last[1], groups[-1][2] + last[2]
            groups[-1] = [total / count - (count - 1) * step / 2, total, count]
    spots = [first + k * step for first, _total, count in groups for k in range(int(count))]
    if len(spots) > 1 and (len(spots) - 1) * step > high - low:  # too many for the row: squeeze them in evenly
        gap = (high - low) / (len(spots) - 1)
        return [low + k * gap for k in range(len(spots))]
    for k in range(len(spots)):  # then within bounds, pushing only the neighbours that are in the way
        spots[k] = max(spots[k], low, spots[k - 1] + step if k else low)
    for k in reversed(range(len(spots))):
        spots[k] = min(spots[k], high, spots[k + 1] - step if k + 1 < len(spots) else high)
    return spots


# The steps between two dates under the axis, finest first: the finest whose labels fit is used.
_UNIT_SECONDS = {"hour": 3600.0, "day": _DAY, "month": 30 * _DAY, "year": 365 * _DAY}  # about
_STEPS = (
    *(("hour", n) for n in (1, 2, 3, 6, 12)),
    *(("day", n) for n in (1, 2, 7, 14)),
    *(("month", n) for n in (1, 2, 3, 6)),
    *(("year", n) for n in (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)),
)


def _ticks(start: float, end: float, unit: str, every: int) -> list[float]:
    """The moments between `start` and `end` that begin a unit (UTC), every `every` units."""
    if unit in ("hour", "day"):
        size = every * (3600.0 if unit == "hour" else _DAY)
        first = math.ceil(start / size) * size
        return [first + k * size for k in range(int((end - first) // size) + 1)]
    moment = datetime.fromtimestamp(start, UTC)
    months = every * (12 if unit == "year" else 1)
    index = math.ceil((moment.year * 12 + moment.month - 1) / months) * months  # months since year 0
    found: list[float] = []
    while True:
        year, month = divmod(index, 12)
        when = datetime(year, month + 1, 1, tzinfo=UTC).timestamp()
        if when > end:
            return found
        if when >= start:
            found.append(when)
        index += months


def _date_text(when: float, unit: str) -> str:
    moment = datetime.fromtimestamp(when, UTC)
    month = _MONTHS[moment.month - 1]
    if unit == "year":
        return str(moment.year)
    if unit == "month":
        return f"{month} {moment.year}"
    if unit == "day":
        return f"{moment.day} {month}"
    return f"{moment.day} {month} {moment.hour:02d}:00"


def _date_ticks(
    draw: ImageDraw.ImageDraw, font: Font, start: float, end: float, x_of: Callable[[float], float], axis_y: int
) -> None:
    """Dates under the axis at the starts of days, months or years, as many as fit without touching,
    and "UTC" at its end."""
    room = draw.im.size[0] - 40
    moments: list[float] = []
    texts: list[str] = []
    for unit, every in _STEPS:
        if (end - start) / (_UNIT_SECONDS[unit] * every) > room / 20:  # far too many to fit: not even listed
            continue
        moments = _ticks(start, end, unit, every)
        texts = [_date_text(m, unit) for m in moments]
        if len(moments) <= 1 or max(font.getlength(t) for t in texts) + 12 <= room / len(moments):
            break
    for moment, text in zip(moments, texts, strict=True):
        x = x_of(moment)
        draw.line([(x, axis_y - 3), (x, axis_y + 3)], fill=_AXIS, width=1)
        draw.text((x, axis_y + 14), text, font=font, fill=_AXIS, anchor="mm")
    draw.text((room + 36, axis_y + 26), "UTC", font=_font(9), fill=_AXIS, anchor="rb")


# --- the sparkline ----------------------------------------------------------------------------


def sparkline(
    points: Sequence[tuple[float, int]], start: float, end: float, *, size: tuple[int, int] = SPARKLINE_SIZE
) -> bytes | None:
    """A PNG of bars over the span from `start` to `end`, a bar every `BAR_WIDTH` pixels for the
    points that fall there (several: the largest), scaled to the peak; None when no point falls in
    the span. A point with no value (0) is a flat mark on the baseline: a cycle that found nothing."""
    if not (_valid(start) and _valid(end) and end > start):
        return None
    width, height = size
    slots = max(1, width // BAR_WIDTH)
    bars: dict[int, int] = {}
    for when, value in points:
        if _valid(when) and start <= when <= end and isinstance(value, int) and value >= 0:
            slot = min(slots - 1, int((when - start) / (end - start) * slots))
            bars[slot] = max(bars.get(slot, 0), value)
    if not bars:
        return None
    image = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    base = height - 3
    draw.line([(0, base + 1), (width - 1, base + 1)], fill=_AXIS, width=1)
    peak = max(bars.values()) or 1
    for slot, value in sorted(bars.items()):
        top = base - max(1, round(value / peak * (height - 8)))
        x = slot * BAR_WIDTH
        draw.rectangle([(x, top), (x + BAR_WIDTH - 2, base)], fill=BAR_COLOR if value else _AXIS)
    return _png(image)
