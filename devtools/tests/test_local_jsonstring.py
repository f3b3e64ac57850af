"""auto's words arrive as a JSON string's characters; the person gets the text."""

import pytest

from devtools.llmservers.local.jsonstring import JsonStringStream


def test_escapes_are_decoded_even_when_a_piece_cuts_them():
    stream = JsonStringStream()
    pieces = ["Hel", "lo\\", 'n\\"x\\u00', "e9 \\ud83d", '\\ude00 ok"}}', "more"]
    assert "".join(stream.feed(piece) for piece in pieces) == 'Hello\n"x\u00e9 \U0001f600 ok'
    assert stream.closed


@pytest.mark.parametrize("cut", ["\\", "\\u00", "\\ud83d", "\\ud83d\\ude"])
def test_a_cut_escape_is_held_back(cut):
    stream = JsonStringStream()
    assert stream.feed("a" + cut) == "a"
    assert not stream.closed


def test_nothing_after_the_closing_quote():
    stream = JsonStringStream()
    assert stream.feed('Fine, thanks."}}\n</tool_call>') == "Fine, thanks."
    assert stream.feed("and more") == ""
