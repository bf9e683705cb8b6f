"""Bytes to text for text formats, without guessing silently.

unstructured guesses encodings wrongly on short cp1252 or Shift-JIS files and does not raise, so
text formats are decoded here, with explicit rules, and handed to unstructured as text.
"""

from __future__ import annotations

import codecs

from ingestion.errors import BinaryContent

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy encodings worth trying, most specific first: a Shift-JIS or GB file almost never
# decodes strictly as such by accident, while cp1252 accepts nearly any byte string.
_LEGACY = ("shift_jis", "euc_jp", "gb18030", "euc_kr", "cp1252", "latin-1")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM shows NULs in every other byte for Latin text."""
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0) / (len(data) / 2)
    odd_nuls = data[1::2].count(0) / (len(data) / 2)
    for ratio, other, codec in ((odd_nuls, even_nuls, "utf-16-le"), (even_nuls, odd_nuls,
                                                                        "utf-16-be")):
        if ratio > 0.3 and other < 0.05:
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    return None


def _plausible(text: str) -> bool:
    """Reject decodings full of control characters or replacement marks."""
    if not text:
        return True
    bad = sum(1 for c in text if (ord(c) < 32 and c not in "\t\n\r\f") or c == "\ufffd")
    return bad / len(text) < 0.01


def _cjk_share(text: str) -> float:
    letters = [c for c in text if not c.isspace() and not c.isascii()]
    if not letters:
        return 0.0
    cjk = sum(1 for c in letters if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff"
              or "\uac00" <= c <= "\ud7af" or "\uff00" <= c <= "\uffef")
    return cjk / len(letters)


def decode_text(data: bytes) -> tuple[str, str]:
    """Return (text, encoding) or raise BinaryContent. Line endings are normalised to \\n."""
    text, encoding = _decode(data)
    if "\x00" in text or not _plausible(text):
        raise BinaryContent(f"content is binary (NUL or control bytes) in a text file, "
                            f"decoded as {encoding}")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace"), codec
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16, "utf-16"
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise BinaryContent(f"NUL byte at offset {offset}: binary content in a text file")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for codec in _LEGACY:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        # A CJK codec must produce mostly CJK characters to be believed.
        if codec in ("shift_jis", "euc_jp", "gb18030", "euc_kr") and _cjk_share(text) < 0.5:
            continue
        return text, codec
    return data.decode("latin-1"), "latin-1"  # unreachable: latin-1 decodes every byte
