from __future__ import annotations

import copy
import io
import struct
import unicodedata
import zlib

import numpy as np
import pytest
from PIL import Image

from headon.desk.digest.image import ImageLabels, render_digest_png
from headon.desk.digest.image.fonts import (
    REGULAR,
    clean,
    font_for,
    font_table,
    load_font,
    parse_font_css,
)
from headon.desk.digest.image.lines import CLOSING, OPENING, wrap
from headon.desk.digest.image.markdown import Block, markdown_blocks
from headon.desk.digest.image.png import encode_png


def units(text: str) -> float:
    """A font-free measure: CJK characters are two units wide, the rest one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# ---------------------------------------------------------------- line breaking


def test_wrap_breaks_between_any_two_chinese_characters() -> None:
    assert wrap("我们实测了三种车型", units, 6) == ["我们实", "测了三", "种车型"]


def test_wrap_keeps_latin_words_whole() -> None:
    assert wrap("the quick brown fox jumps", units, 10) == ["the quick", "brown fox", "jumps"]


def test_wrap_breaks_between_latin_and_chinese_without_a_space() -> None:
    assert wrap("电池Battery续航", units, 10) == ["电池", "Battery续", "航"]


@pytest.mark.parametrize(
    "text", ["一二三，四五", "一二三。」四五", "一二三,四五", "１２３％４５", "一二三……四"]
)
def test_wrap_never_starts_a_line_with_closing_punctuation(text: str) -> None:
    lines = wrap(text, units, 6)
    assert len(lines) > 1
    assert "".join(lines) == text
    assert not any(line[0] in CLOSING for line in lines)


@pytest.mark.parametrize("text", ["一二（三四）", "一二「三四」", "一二(三四)", "一二《三》四"])
def test_wrap_never_ends_a_line_with_an_opening_bracket(text: str) -> None:
    lines = wrap(text, units, 6)
    assert len(lines) > 1
    assert "".join(lines) == text
    assert not any(line[-1] in OPENING for line in lines)


def test_wrap_without_kinsoku_would_have_put_the_comma_first() -> None:
    # The control: the same width without the comma breaks right before it.
    assert wrap("一二三四五", units, 6) == ["一二三", "四五"]
    assert wrap("一二三，四五", units, 6) == ["一二", "三，四", "五"]


def test_wrap_breaks_inside_a_word_only_when_it_alone_is_too_wide() -> None:
    assert wrap("see " + "x" * 25, units, 10) == ["see", "x" * 10, "x" * 10, "x" * 5]
    assert wrap("see abcdefghij", units, 10) == ["see", "abcdefghij"]


def test_wrap_of_nothing_is_no_lines_and_newlines_force_breaks() -> None:
    assert wrap("", units, 10) == []
    assert wrap("ab\n\ncd", units, 10) == ["ab", "", "cd"]
    assert wrap("   ", units, 10) == [""]


def test_wrap_drops_spaces_at_the_break() -> None:
    assert wrap("aaaa    bbbb", units, 6) == ["aaaa", "bbbb"]


# ------------------------------------------------------------------------ fonts


def test_the_css_maps_chinese_latin_and_fullwidth_punctuation_to_slices() -> None:
    regular, bold = font_table()[400], font_table()[700]
    assert regular[ord("的")][0].endswith("-400-normal.woff2")
    assert bold[ord("的")][0].endswith("-700-normal.woff2")
    assert regular[ord("A")][0] == "noto-sans-sc-latin-400-normal.woff2"
    assert regular[ord("，")]
    assert font_for("的", REGULAR) == regular[ord("的")][0]


def test_overlapping_ranges_are_tried_last_declared_first() -> None:
    css = """
    @font-face { font-weight: 400; src: url(../f/a.woff2) format('woff2'); unicode-range: U+41-5a, U+4e00; }
    @font-face { font-weight: 400; src: url(../f/b.woff2) format('woff2'); unicode-range: U+41; }
    """
    table = parse_font_css(css)
    assert table[400][ord("A")] == ("b.woff2", "a.woff2")
    assert table[400][ord("B")] == ("a.woff2",)
    assert table[400][0x4E00] == ("a.woff2",)


def test_a_chinese_glyph_has_ink_and_is_not_the_missing_glyph_box() -> None:
    name = font_for("的", REGULAR)
    assert name is not None
    font = load_font(name, 40)
    drawn = font.getmask("的")
    missing = font.getmask("\U0010fffd")
    assert drawn.getbbox() is not None
    assert bytes(drawn) != bytes(missing)
    assert font_for("\U0010fffd", REGULAR) is None


def test_clean_drops_control_bidi_and_unfontable_characters() -> None:
    assert font_for("\U0001f600", REGULAR) is None  # 😀: no slice holds it
    assert clean("a\x00b\u202ec\u200dd\U0001f600好") == "abcd好"
    assert clean("x" * 50, limit=10) == "x" * 9 + "…"
    assert clean(None) == ""


# --------------------------------------------------------------------- markdown


def test_markdown_becomes_paragraphs_bullets_and_bold_headings() -> None:
    source = (
        "## Winter\n\nRange drops *20%* in [the cold](https://x.org).\n\n"
        "- one\n- two\n\n1. first\n\n![chart](c.png) after\n\n<script>alert(1)</script>\n"
    )
    assert markdown_blocks(source) == [
        Block("Winter", bold=True),
        Block("Range drops 20% in the cold."),
        Block("one", marker="•", depth=1),
        Block("two", marker="•", depth=1),
        Block("first", marker="1.", depth=1),
        Block(" after"),
    ]


def test_a_soft_break_between_chinese_characters_adds_no_space() -> None:
    assert markdown_blocks("第一行\n第二行\nand English\nhere") == [
        Block("第一行第二行 and English here")
    ]


# ------------------------------------------------------------------- rendering


def answer(rank: int, *, rumour: bool = False) -> dict[str, object]:
    return {
        "rank": rank,
        "question": {
            "en": f"Question {rank}: how far in winter?",
            "zh": f"第{rank}个问题：冬天能跑多远？",
        },
        "body": {
            "en": "In our tests at -10°C the range drops by **about 20%**.\n\n- Preheat.\n- Charge.",
            "zh": "我们在零下10°C的实测中，续航大约下降**20%**。\n\n- 预热车厢；\n- 保持电量。",
        },
        "asked_by": 1204,
        "asks": 1300,
        "channels": 3,
        "tags": [{"en": "Battery", "zh": "电池"}],
        "rumour": (
            {
                "claim": {"en": "The factory closes.", "zh": "工厂要关闭。"},
                "verdict": "false",
                "evidence": {"en": "Permit 2026-114.", "zh": "规划许可2026-114。"},
            }
            if rumour
            else None
        ),
    }


def snapshot(answers: int = 2) -> dict[str, object]:
    return {
        "format": "headon-digest/1",
        "date": "2026-11-23",
        "revision": 2,
        "note": "更正：第3条的充电时间。",
        "published_at": "2026-11-23T23:00:05+08:00",
        "site": {"name": {"en": "Acme Motors", "zh": "阿克米汽车"}, "url": "https://example.org"},
        "coverage": {
            "asks": 1500,
            "asks_covered": 1400,
            "questions": 20,
            "questions_covered": 17,
            "share": 0.9333,
        },
        "answers": [answer(n + 1, rumour=n == 1) for n in range(answers)],
        "open": [{"question": "保养周期是多久？", "asked_by": 12}],
        "open_count": 40,
    }


def opened(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()  # decodes every row: a broken stream or checksum fails here
    return image


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_small_digest_renders_as_a_1080_wide_rgb_png(language: str) -> None:
    image = opened(render_digest_png(snapshot(), language=language))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.width == 1080
    assert image.height > 1000


def test_more_answers_make_a_taller_image() -> None:
    short = opened(render_digest_png(snapshot(2), language="zh"))
    long = opened(render_digest_png(snapshot(6), language="zh"))
    assert long.height > short.height + 4 * 200


def test_the_text_is_really_drawn() -> None:
    # The control: the same snapshot with its answer text emptied draws less ink.
    full = snapshot(1)
    bare = copy.deepcopy(full)
    bare["answers"][0]["body"] = {"zh": ""}  # type: ignore[index]

    def dark_pixels(png: bytes) -> int:
        grey = opened(png).convert("L")
        return sum(grey.histogram()[:100])

    assert (
        dark_pixels(render_digest_png(full, language="zh"))
        > dark_pixels(render_digest_png(bare, language="zh")) + 2000
    )


def test_labels_are_the_ones_passed_in() -> None:
    default = render_digest_png(snapshot(), language="zh")
    translated = render_digest_png(
        snapshot(), language="zh", labels=ImageLabels(title="{date} 答疑")
    )
    assert default != translated


def test_the_same_snapshot_gives_the_same_bytes() -> None:
    assert render_digest_png(snapshot(3), language="zh") == render_digest_png(
        snapshot(3), language="zh"
    )


HOSTILE = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "nul\x00byte\x07bell\x1b[31mred",
    "w" * 10_000,
    "😀🎉🚗💥" * 50,
    "\u202eevil\u202c \u200f\u200e\u2066isolated\u2069",
    "a\ud800lone surrogate",
    "> " * 500 + "deep",
    "* " * 300 + "nested",
    "[" * 2000 + "](" * 2000,
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_every_field_renders(text: str) -> None:
    item = answer(1, rumour=True)
    item.update(question={"zh": text}, body={"zh": text, "en": text}, tags=[{"zh": text}])
    item["rumour"] = {"claim": {"zh": text}, "verdict": text, "evidence": {"zh": text}}
    data = snapshot(0) | {
        "note": text,
        "date": text,
        "site": {"name": {"zh": text}, "url": text},
        "answers": [item, answer(2) | {"body": {"zh": text}}],
        "open": [{"question": text, "asked_by": text}],
    }
    assert opened(render_digest_png(data, language="zh")).width == 1080


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"answers": [], "open": [], "open_count": 0},
        {"answers": None, "coverage": "broken", "site": 3, "open": [None, 5]},
        {"answers": [{}, None, {"rank": "x", "asked_by": -5, "rumour": {}}]},
        {"coverage": {"share": float("nan"), "asks": "many"}},
    ],
)
def test_missing_or_malformed_keys_render(data: dict[str, object]) -> None:
    assert opened(render_digest_png(data, language="en")).width == 1080


def test_a_broken_label_template_is_drawn_as_it_is() -> None:
    labels = ImageLabels(title="{nope} {0} {", asked_by="{n:q}")
    assert opened(render_digest_png(snapshot(), language="en", labels=labels)).width == 1080


def test_the_png_stream_is_whole_with_every_checksum_right() -> None:
    # Pillow stops reading once it has the rows; zlib also checks the
    # Adler-32 at the end of the stream, and every chunk's CRC is checked here.
    png = render_digest_png(snapshot(3), language="en")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, position = {}, 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks[kind] = data
        position += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)


def test_a_narrower_image_keeps_its_type_size_and_grows_taller() -> None:
    wide = opened(render_digest_png(snapshot(), language="zh"))
    narrow = opened(render_digest_png(snapshot(), language="zh", width=720))
    assert narrow.width == 720
    assert narrow.height > wide.height
    with pytest.raises(ValueError, match="wide"):
        render_digest_png(snapshot(), language="zh", width=100)


def test_the_png_encoder_round_trips_repeated_and_changing_rows_exactly() -> None:
    # Runs of repeated rows are spliced in precompressed, across strip
    # boundaries too; every pixel must come back as it went in.
    rng = np.random.default_rng(7)
    width = 37
    rows = rng.integers(0, 256, (300, width * 3), dtype=np.uint8)
    rows[10:40] = rows[9]  # a long run inside the first strip
    rows[95:140] = rows[94]  # a run across the strip boundary at 100
    rows[200:203] = rows[199]  # a run too short to splice
    strips = iter([rows[:100], rows[100:250], rows[250:]])
    decoded = opened(encode_png(width, 300, strips))
    assert np.array_equal(np.asarray(decoded).reshape(300, width * 3), rows)
