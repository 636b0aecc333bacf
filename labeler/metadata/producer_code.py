"""The service-provider code some generators write as ``ContentProducer``.

Seen in the wild (see docs/compliance.md): ``001`` + ``1`` + the provider's 18-character Unified
Social Credit Code (USCC, GB 32100-2015) + a 5-digit product suffix, 27 characters in all. Other
generators write a bare product or company name, and a bare USCC also occurs; the field is "name or
code" of the provider, so free strings are accepted as they are. When a string looks like a code it
is validated (including the USCC check character) and explained, so a platform can tell a typo or a
forged code from a real one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: GB 32100-2015 code characters: digits and capital letters except I, O, S, V, Z (31 characters;
#: the check character is computed mod 31, so the alphabet must have 31 entries).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: GB 32100-2015 weights of positions 1..17 (3**i mod 31).
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

CODE_PREFIX = "001"
CODE_LENGTH = 27
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$")
_CODED_LOOKING = re.compile(r"^[0-9A-Z]+$")


def uscc_check_character(first17: str) -> str:
    """The 18th (check) character for the first 17 characters of a USCC.

    Raises ValueError when ``first17`` is not 17 characters of the USCC alphabet.
    """
    if len(first17) != 17:
        raise ValueError(f"need the first 17 characters of a USCC, got {len(first17)}")
    total = 0
    for position, (char, weight) in enumerate(zip(first17, USCC_WEIGHTS, strict=True), start=1):
        index = USCC_ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"character {char!r} at position {position} is not allowed in a USCC")
        total += index * weight
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """True when ``code`` is 18 USCC characters whose last one is the right check character."""
    if len(code) != 18:
        return False
    try:
        return uscc_check_character(code[:17]) == code[17]
    except ValueError:
        return False


@dataclass(frozen=True)
class ProducerCode:
    """What a ContentProducer value says about the provider."""

    coded: bool
    uscc: str | None
    uscc_valid: bool | None
    product_suffix: str | None
    problems: tuple[str, ...]
    explanation: str


def looks_coded(text: str) -> bool:
    """Whether ``text`` is meant as a provider code rather than a free name."""
    if len(text) == CODE_LENGTH and text.startswith(CODE_PREFIX + "1"):
        return True
    if not _CODED_LOOKING.match(text):
        return False
    if len(text) == CODE_LENGTH:
        return True
    if text.startswith(CODE_PREFIX) and 20 <= len(text) <= 34:
        return True  # a damaged code: wrong length, but clearly the same scheme
    return len(text) == 18 and bool(_USCC_SHAPE.match(text))


def parse_content_producer(text: str) -> ProducerCode:
    """Classify and, for codes, validate a ContentProducer value. Never raises."""
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        # parse_aigc_json already reports an empty ContentProducer; not repeated here.
        return ProducerCode(False, None, None, None, (), "no producer given")
    if not looks_coded(value):
        return ProducerCode(False, None, None, None, (), f"a free-form producer name: {value!r}")
    if len(value) == 18 and not value.startswith(CODE_PREFIX):
        return _bare_uscc(value)
    return _full_code(value)


def _bare_uscc(value: str) -> ProducerCode:
    valid = uscc_is_valid(value)
    problems: tuple[str, ...] = ()
    if not valid:
        problems = (f"the USCC check character should be {_expected(value)!r}, found {value[17]!r}",)
    state = "valid" if valid else "INVALID"
    return ProducerCode(
        coded=True,
        uscc=value,
        uscc_valid=valid,
        product_suffix=None,
        problems=problems,
        explanation=f"a bare Unified Social Credit Code {value} (check character {state})",
    )


def _full_code(value: str) -> ProducerCode:
    problems: list[str] = []
    if len(value) != CODE_LENGTH:
        problems.append(f"a provider code has {CODE_LENGTH} characters, this one has {len(value)}")
    if not value.startswith(CODE_PREFIX):
        problems.append(f"a provider code starts with {CODE_PREFIX!r}, this one with {value[:3]!r}")
    if value[3:4] != "1":
        problems.append(f"the 4th character is '1' in every code seen, here it is {value[3:4]!r}")
    uscc = value[4:22] if len(value) >= 22 else None
    uscc_valid: bool | None = None
    if uscc is not None:
        bad = sorted({ch for ch in uscc if ch not in USCC_ALPHABET})
        if bad:
            problems.append(f"the USCC part {uscc} has characters not used in USCCs: {''.join(bad)}")
            uscc_valid = False
        elif not _USCC_SHAPE.match(uscc):
            problems.append(f"the USCC part {uscc} does not have the GB 32100 layout")
            uscc_valid = uscc_is_valid(uscc)
        else:
            uscc_valid = uscc_is_valid(uscc)
        if uscc_valid is False and not bad:
            problems.append(f"the USCC check character should be {_expected(uscc)!r}, found {uscc[17]!r}")
    else:
        problems.append("too short to hold an 18-character USCC")
    suffix = value[22:] if len(value) > 22 else None
    if suffix is not None and not (len(suffix) == 5 and suffix.isdigit()):
        problems.append(f"the product suffix should be 5 digits, found {suffix!r}")
    parts = [f"TC260 provider code: prefix {value[:3]}, type {value[3:4] or '?'}"]
    if uscc is not None:
        parts.append(f"USCC {uscc} (check character {'valid' if uscc_valid else 'INVALID'})")
    if suffix is not None:
        parts.append(f"product {suffix}")
    return ProducerCode(
        coded=True,
        uscc=uscc,
        uscc_valid=uscc_valid,
        product_suffix=suffix,
        problems=tuple(problems),
        explanation=", ".join(parts),
    )


def _expected(uscc: str) -> str:
    try:
        return uscc_check_character(uscc[:17])
    except ValueError:
        return "?"
