"""The charts: valid PNGs of a known size, the same bytes for the same data, one numbered marker per
dated event (at most MAX_EVENTS), none for an empty timeline, and no crash whatever the labels,
dates or values are (Hypothesis)."""

from __future__ import annotations

import io
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.render.charts import (
    BAR_COLOR,
    LANES,
    MARKER_COLOR,
    MAX_EVENTS,
    SPARKLINE_SIZE,
    TIMELINE_WIDTH,
    ChartEvent,
    chart_height,
    sparkline,
    timeline_chart,
)

T0 = 1_800_000_000.0
DAY = 86_400.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_of(png: bytes | None) -> Image.Image:
    assert png is not None and png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()  # reads every chunk: a truncated or corrupt PNG fails here
    assert image.format == "PNG" and image.mode == "RGB"
    return image


def markers(image: Image.Image) -> int:
    """How many marker discs the image holds: 4-connected areas of the marker colour big enough to be
    one (the holes of a digit, an "8" or a "0", are small areas of that colour too)."""
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    seen: set[tuple[int, int]] = set()
    count = 0
    for y in range(height):
        for x in range(width):
            if (x, y) in seen or pixels[x, y] != MARKER_COLOR:
                continue
            todo, size = [(x, y)], 0
            seen.add((x, y))
            while todo:
                px, py = todo.pop()
                size += 1
                for nx, ny in ((px + 1, py), (px - 1, py), (px, py + 1), (px, py - 1)):
                    if 0 <= nx < width and 0 <= ny < height and (nx, ny) not in seen and pixels[nx, ny] == MARKER_COLOR:
                        seen.add((nx, ny))
                        todo.append((nx, ny))
            count += size >= 80  # a disc of radius 10 less its number; a digit's hole is a few pixels
    return count


def numbered(dates: list[float]) -> list[ChartEvent]:
    return [ChartEvent(when, str(n)) for n, when in enumerate(dates, 1)]


# --- the timeline chart -----------------------------------------------------------------------


def test_an_empty_or_undated_timeline_has_no_chart() -> None:
    assert timeline_chart([]) is None
    assert timeline_chart(numbered([math.nan, math.inf, -5.0, 0.0, 1e12])) is None


def test_one_event_is_one_marker_on_a_chart_of_one_row() -> None:
    image = image_of(timeline_chart(numbered([T0])))
    assert image.size == (TIMELINE_WIDTH, chart_height(1))
    assert markers(image) == 1


def test_a_page_of_ten_has_ten_markers_even_when_they_share_a_day() -> None:
    spread = image_of(timeline_chart(numbered([T0 + n * 3 * DAY for n in range(10)])))
    assert markers(spread) == 10
    same_hour = image_of(timeline_chart(numbered([T0 + n * 60 for n in range(10)])))
    assert markers(same_hour) == 10, "moved apart, not drawn over each other"
    assert same_hour.size == (TIMELINE_WIDTH, chart_height(1))


def test_undated_events_are_left_out_and_the_rest_keep_their_numbers() -> None:
    events = [ChartEvent(T0, "1"), ChartEvent(math.nan, "2"), ChartEvent(T0 + DAY, "3")]
    assert markers(image_of(timeline_chart(events))) == 2


def test_a_huge_timeline_is_capped() -> None:
    image = image_of(timeline_chart(numbered([T0 - n * DAY for n in range(500)])))
    assert markers(image) == MAX_EVENTS
    assert image.size[1] <= chart_height(LANES)


def test_the_same_data_gives_the_same_bytes() -> None:
    events = numbered([T0 + n * 5 * DAY for n in range(7)])
    first = timeline_chart(events)
    assert first == timeline_chart(list(events)) == timeline_chart(list(reversed(events)))
    assert first != timeline_chart(events[:-1])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.builds(
            ChartEvent,
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 40_000_000_000.0)),
            st.text(max_size=12),
        ),
        max_size=80,
    )
)
def test_any_events_give_a_valid_chart_or_none(events: list[ChartEvent]) -> None:
    png = timeline_chart(events)
    dated = [e for e in events if math.isfinite(e.when) and 0 < e.when < 32_503_680_000.0]
    if not dated:
        assert png is None
        return
    image = image_of(png)
    assert image.size[0] == TIMELINE_WIDTH and chart_height(1) <= image.size[1] <= chart_height(LANES)
    assert timeline_chart(events) == png


def test_labels_of_any_script_are_drawn() -> None:
    labels = ["日本語", "Ünï", "١٢", "\u202e12", "\x00", "", "😀", "\ud800"]
    events = [ChartEvent(T0 + n * DAY, label) for n, label in enumerate(labels)]
    assert markers(image_of(timeline_chart(events))) == len(labels)


# --- the sparkline ----------------------------------------------------------------------------


def test_the_sparkline_is_a_row_of_bars_scaled_to_the_peak() -> None:
    points = [(T0 - DAY + n * 600, n % 7) for n in range(144)]
    image = image_of(sparkline(points, T0 - DAY, T0))
    assert image.size == SPARKLINE_SIZE
    width, height = SPARKLINE_SIZE
    pixels = image.load()
    assert pixels is not None
    tallest = min(y for x in range(width) for y in range(height) if pixels[x, y] == BAR_COLOR)
    assert tallest == 5, "the peak reaches the top (less a small margin)"
    assert sparkline(points, T0 - DAY, T0) == sparkline(list(reversed(points)), T0 - DAY, T0), "the same bytes"


def test_the_sparkline_is_none_without_a_point_in_its_span() -> None:
    assert sparkline([], T0 - DAY, T0) is None
    assert sparkline([(T0 - 2 * DAY, 5), (T0 + 1, 5)], T0 - DAY, T0) is None
    assert sparkline([(T0, 5)], T0, T0 - DAY) is None, "an empty span"
    assert sparkline([(T0, -1)], T0 - DAY, T0) is None, "no negative counts"


def test_a_day_of_nothing_is_a_flat_line_not_an_error() -> None:
    image = image_of(sparkline([(T0 - n * 60, 0) for n in range(1000)], T0 - DAY, T0))
    assert BAR_COLOR not in {color for _count, color in image.getcolors(maxcolors=1000) or []}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**9)), max_size=300),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_any_points_give_a_valid_sparkline_or_none(points: list[tuple[float, int]], end: float) -> None:
    png = sparkline(points, end - DAY, end)
    if png is not None:
        assert image_of(png).size == SPARKLINE_SIZE
        assert len(png) < 20_000
