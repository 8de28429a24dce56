"""Vietnamese text in whatever encoding an agency's file really uses → NFC Unicode.

Government shapefiles still carry TCVN3 (ABC) or VNI-Windows bytes whatever their ``.cpg``
or DBF code-page byte claims, VIQR in plain-ASCII tables, Windows-1258 with combining
accents, or decomposed (NFD) Unicode. We never trust the declaration: every candidate
decoding of a field's sample values is scored by how Vietnamese the result reads (valid
syllables, no stray symbols) and the best one is used for the whole field.

Text reaches us as ``str``; legacy bytes arrive as the Latin-1 reading of the raw bytes
(readers open shapefiles with ``encoding="latin1"``, which round-trips every byte).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).parent / "data" / "vietnamese_charset_table.csv"

# Corrections to the source table (see importers/data/README.md).
VNI_FIXES = {"Ỷ": "YÛ", "ỷ": "yû", "Ỹ": "YÕ", "ỹ": "yõ"}

UNICODE = "unicode"
NFD = "unicode-nfd"
TCVN3 = "tcvn3"
VNI = "vni-windows"
VIQR = "viqr"
CP1258 = "cp1258"
UTF8_MOJIBAKE = "utf-8-as-latin1"

LABELS = {
    UNICODE: "Unicode (NFC)",
    NFD: "Unicode tổ hợp (NFD) / decomposed Unicode",
    TCVN3: "TCVN3 (ABC)",
    VNI: "VNI-Windows",
    VIQR: "VIQR",
    CP1258: "Windows-1258",
    UTF8_MOJIBAKE: "UTF-8 đọc nhầm Latin-1 / UTF-8 read as Latin-1",
}


class _Trie:
    """Greedy longest-match substitution (VNI and TCVN3 capitals are two-character codes)."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        self.longest = max(len(k) for k in mapping)

    def decode(self, text: str) -> str:
        out, i, n = [], 0, len(text)
        mapping, longest = self.mapping, self.longest
        while i < n:
            for size in range(min(longest, n - i), 0, -1):
                hit = mapping.get(text[i : i + size])
                if hit is not None:
                    out.append(hit)
                    i += size
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


@cache
def _tables() -> dict[str, _Trie]:
    vni: dict[str, str] = {}
    tcvn3: dict[str, str] = {}
    viqr: dict[str, str] = {}
    with TABLE.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            letter = row["unicode"]
            vni_code = VNI_FIXES.get(letter) or bytes.fromhex(row["vni_windows_bytes_hex"]).decode(
                "latin1"
            )
            vni.setdefault(vni_code, letter)
            tcvn3.setdefault(bytes.fromhex(row["tcvn3_bytes_hex"]).decode("latin1"), letter)
            if row["viqr"] and row["viqr"] != letter:
                viqr.setdefault(row["viqr"], letter)
    return {TCVN3: _Trie(tcvn3), VNI: _Trie(vni), VIQR: _Trie(viqr)}


def _legacy_bytes(text: str) -> str | None:
    """``text`` as a Latin-1 string of its bytes, or None when it is not byte-like text.

    Values read through GDAL's UTF-8 recoding of cp1252 bytes may hold cp1252's printable
    characters (€, ‘, …) where Latin-1 has C1 controls: map those back to their byte.
    """
    try:
        return text.encode("latin1").decode("latin1")
    except UnicodeEncodeError:
        try:
            return text.encode("cp1252").decode("latin1")
        except UnicodeEncodeError:
            return None


def _decode_utf8(text: str) -> str | None:
    raw = _legacy_bytes(text)
    if raw is None or raw.isascii():
        return None
    try:
        return raw.encode("latin1").decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_cp1258(text: str) -> str | None:
    raw = _legacy_bytes(text)
    if raw is None or raw.isascii():
        return None
    try:
        return raw.encode("latin1").decode("cp1258")
    except UnicodeDecodeError:
        return None


def _decode_table(name: str) -> Callable[[str], str | None]:
    def decode(text: str) -> str | None:
        raw = _legacy_bytes(text)
        if raw is None or raw.isascii():
            return None
        return _tables()[name].decode(raw)

    return decode


_VIQR_MARK = re.compile(r"[A-Za-z][\^(+`'?~.]|[Dd][Dd]")


def _decode_viqr(text: str) -> str | None:
    if not text.isascii() or not _VIQR_MARK.search(text):
        return None
    return _tables()[VIQR].decode(text)


DECODERS: dict[str, Callable[[str], str | None]] = {
    UTF8_MOJIBAKE: _decode_utf8,
    TCVN3: _decode_table(TCVN3),
    VNI: _decode_table(VNI),
    CP1258: _decode_cp1258,
    VIQR: _decode_viqr,
}

# --- Scoring: how Vietnamese does a string read? --------------------------------------------
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_SYLLABLE = re.compile(
    r"^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
    r"([aăâeêioôơuưy]{1,3})"
    r"(ch|ng|nh|[cmnpt])?$"
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_VI_LETTERS = set("aăâbcdđeêghiklmnoôơpqrstuưvxyfjwz")
_NEUTRAL = set(" \t-.,;:/()'\"&_+#%0123456789")


def _strip_tones(word: str) -> tuple[str, int]:
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for ch in decomposed if ch in _TONES)
    base = "".join(ch for ch in decomposed if ch not in _TONES)
    return unicodedata.normalize("NFC", base), tones


def score(text: str) -> float:
    """Higher reads more like Vietnamese; stray symbols and impossible syllables cost."""
    total = 0.0
    for ch in text:
        if ch in _NEUTRAL or ch.isascii() and ch.isalnum():
            continue
        cat = unicodedata.category(ch)
        if cat.startswith("L"):
            base, _tones = _strip_tones(ch)
            if not base or base not in _VI_LETTERS:
                total -= 3  # a letter outside the Vietnamese alphabet (ð, þ, ø, …)
        else:
            total -= 3  # symbols, controls, soft hyphens, combining marks left over
    for word in _WORD.findall(text):
        base, tones = _strip_tones(word)
        if tones <= 1 and _SYLLABLE.match(base):
            total += 2 if (tones or base != word.lower()) else 1
        else:
            total -= 2
        if any(c.isupper() for c in word[1:]) and not word.isupper():
            total -= 1  # "PhÖêng": case flips inside a word betray a wrong decoding
    return total


@dataclass
class FieldEncoding:
    field: str
    encoding: str

    @property
    def label(self) -> str:
        return LABELS[self.encoding]


def detect(values: Iterable[str]) -> str:
    """The encoding that makes these sample values read best (``unicode`` when in doubt)."""
    samples = [v for v in values if isinstance(v, str) and v.strip()]
    if not samples:
        return UNICODE
    totals = {UNICODE: sum(score(unicodedata.normalize("NFC", v)) for v in samples)}
    for name, decoder in DECODERS.items():
        decoded = [decoder(v) for v in samples]
        if all(d is None for d in decoded):
            continue
        totals[name] = sum(
            score(unicodedata.normalize("NFC", d if d is not None else v))
            for d, v in zip(decoded, samples, strict=True)
        )
    best = max(totals, key=lambda k: (totals[k], k == UNICODE))
    if totals[best] <= totals[UNICODE]:
        best = UNICODE
    if best == UNICODE and any(not unicodedata.is_normalized("NFC", v) for v in samples):
        return NFD
    return best


def converter(encoding: str) -> Callable[[str | None], str | None]:
    """A function turning one raw value of a field in ``encoding`` into NFC Unicode."""
    decoder = DECODERS.get(encoding)

    def convert(value: str | None) -> str | None:
        if value is None:
            return None
        if decoder is not None:
            decoded = decoder(value)
            if decoded is not None:
                value = decoded
        if value.isascii():
            return value
        return unicodedata.normalize("NFC", value)

    return convert
