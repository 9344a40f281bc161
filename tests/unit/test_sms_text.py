"""SMS text rules: GSM-7 or UCS-2, segments (160/153, 70/67, two-unit characters kept whole), opt-out, «STOPP»."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_SEGMENTS,
    OPT_OUT_LINE,
    Encoding,
    is_stop,
    measure,
    text_problems,
    with_opt_out,
)


def test_the_alphabets_have_their_standard_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes, less the escape
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("length", "segments"), [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_segments(length: int, segments: int) -> None:
    m = measure("a" * length)
    assert (m.encoding, m.units, m.segments) == (Encoding.GSM7, length, segments)


def test_norwegian_letters_are_gsm7() -> None:
    m = measure("Blåbærsyltetøy på ÆØÅ-kontoret")
    assert m.encoding is Encoding.GSM7
    assert m.units == m.characters


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION))
def test_extension_characters_count_two(ch: str) -> None:
    m = measure("Pris: 100" + ch)
    assert m.encoding is Encoding.GSM7
    assert m.units == 11
    assert m.characters == 10


def test_eighty_euro_signs_fill_one_sms_and_eighty_one_take_two() -> None:
    assert measure("€" * 80).segments == 1
    assert measure("€" * 81).segments == 2


def test_an_escape_pair_never_straddles_two_segments() -> None:
    # 306 septets would fit two segments of 153, but the € at septets 153-154 moves to the second.
    text = "a" * 152 + "€" + "a" * 152
    assert measure(text).units == 306
    assert measure(text).segments == 3


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segments(length: int, segments: int) -> None:
    m = measure("ł" * length)  # Polish ł is not in GSM-7
    assert (m.encoding, m.units, m.segments) == (Encoding.UCS2, length, segments)


def test_one_character_outside_gsm7_makes_the_whole_text_ucs2() -> None:
    assert measure("Hei Kari, velkommen til 24 Center! ✓").encoding is Encoding.UCS2


def test_an_emoji_is_ucs2_and_counts_two_units_never_split() -> None:
    m = measure("Hei 😀")
    assert (m.encoding, m.characters, m.units, m.segments) == (Encoding.UCS2, 5, 6, 1)
    # 66 units, then a surrogate pair that would straddle the 67-unit boundary of a concatenated SMS.
    straddle = "ł" * 66 + "😀" + "ł" * 5
    assert measure(straddle).units == 73
    assert measure(straddle).segments == 2
    assert measure("ł" * 66 + "😀" + "ł" * 66).segments == 3  # 134 units, but the pair moves over


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=2000))
def test_gsm7_segments_hold_all_units(text: str) -> None:
    m = measure(text)
    assert m.encoding is Encoding.GSM7
    if m.units <= 160:
        assert m.segments == (1 if text else 0)
    else:
        assert m.segments * 153 >= m.units
        assert (m.segments - 1) * 153 < m.units + m.segments  # at most one unit wasted per boundary


@given(st.text(min_size=1, max_size=500))
def test_any_text_is_measured_consistently(text: str) -> None:
    m = measure(text)
    assert m.characters == len(text)
    assert m.units >= m.characters
    assert m.segments >= 1


def test_the_opt_out_line_is_appended_once() -> None:
    text = with_opt_out("Kontorplass ledig fra 1. mars!  ")
    assert text == f"Kontorplass ledig fra 1. mars!\n{OPT_OUT_LINE}"
    assert with_opt_out(text) == text
    assert measure(OPT_OUT_LINE).encoding is Encoding.GSM7  # «å» costs no UCS-2


def test_text_problems() -> None:
    assert text_problems("Hei") == []
    assert [p.message for p in text_problems("  ")] == ["must not be empty"]
    assert "emoji" in text_problems("Hei 😀")[0].message
    too_long = "a" * (153 * MAX_SEGMENTS + 1)
    assert f"at most {MAX_SEGMENTS}" in text_problems(too_long)[0].message
    assert all(p.field == "text" for p in text_problems("😀" * 2000))


@pytest.mark.parametrize(
    "text",
    [
        *("STOPP", "stopp", "Stopp", "  STOPP\n", "\tsToPp "),
        *("STOP", "Stopp.", "«STOPP»", '"stop"', "Stopp!!", "(STOPP)", "ＳＴＯＰＰ", "STOPP\u200b"),
        *("Avmeld", "UNSUBSCRIBE", "Unsubscribe.", "meld av", "Meld  meg av!"),
    ],
)
def test_stop_words_in_any_case_and_punctuation(text: str) -> None:
    assert is_stop(text)


@pytest.mark.parametrize(
    "text",
    ["stopp nå", "ikke stopp", "", "S T O P P", "STOPPE", "stopper", "Stopp reklame takk", "meld meg på", "?", "Hei"],
)
def test_not_stopp(text: str) -> None:
    assert not is_stop(text)
