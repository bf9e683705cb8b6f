import codecs

import pytest

from ingestion.decoding import decode_text
from ingestion.errors import BinaryContent


@pytest.mark.parametrize(("text", "codec", "expected"), [
    ("Café menu: crème brûlée costs 5€ — naïve façade.", "cp1252", "cp1252"),
    ("東京オフィスの営業時間は午前九時から午後六時までです。", "shift_jis", "shift_jis"),
    ("The lighthouse keeper rotation starts Monday.", "utf-16-le", "utf-16"),
    ("Ünïcödé is fine", "utf-8", "utf-8"),
])
def test_decodes_short_legacy_encodings(text, codec, expected):
    decoded, used = decode_text(text.encode(codec))
    assert decoded == text
    assert used == expected


def test_bom_wins():
    assert decode_text(codecs.BOM_UTF8 + "héllo".encode())[0] == "héllo"
    assert decode_text(codecs.BOM_UTF16_LE + "héllo".encode("utf-16-le"))[0] == "héllo"


def test_line_endings_normalised():
    assert decode_text(b"a\r\nb\rc\n")[0] == "a\nb\nc\n"


@pytest.mark.parametrize("data", [
    b"text " * 2000 + b"\x00 more",  # NUL after 8 KB
    bytes(range(256)) * 16,  # binary
])
def test_binary_content_rejected(data):
    with pytest.raises(BinaryContent):
        decode_text(data)
