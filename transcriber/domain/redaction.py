"""Finding personal data in recognised words: e-mail, phone, payment card, national id, IP.

Speech recognisers write numbers both ways ("555 123 4567", "five five five one two three"),
so consecutive number-like words are first read as one candidate string (digit words become
digits, "dot" a dot, "at" an @ between e-mail parts); each candidate is then judged by a
maintained validator, not by a pattern: python-stdnum (Luhn for cards, national ids),
phonenumbers, ipaddress and email-validator. A match covers whole words, so callers can
replace it and keep the words' times.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from stdnum.ca import sin
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.us import ssn

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
#: How phone and card numbers are also read out: in pairs ("twelve thirty four"), with repeats
#: ("double five", "triple oh") and hundreds ("eight hundred").
TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
    "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
    "ninety": "9",
}  # fmt: skip
REPEATS = {"double": 2, "triple": 3}
HUNDRED = "hundred"
#: Spoken separators inside numbers and addresses.
JOINERS = {"dot": ".", "point": ".", "dash": "", "hyphen": ""}
_NUMBERISH = re.compile(r"^\+?[\d().\-]*\d[\d().\-]*$")
#: National ids judged by python-stdnum; 9-digit ids are taken only when spoken as ids would be.
NATIONAL_IDS = (ssn, sin, nir, aadhaar)
#: A spoken address ("... at example dot com") must end in one of these, or "look at that dot
#: on the map" would be one: email-validator checks syntax, and any word is a valid label.
SPOKEN_TLDS = frozenset((
    "com", "org", "net", "edu", "gov", "mil", "int", "io", "co", "info", "biz", "me", "ai", "dev",
    "app", "uk", "de", "fr", "es", "it", "nl", "ca", "au", "us", "eu", "ch", "se", "dk", "jp", "cn",
    "br", "ru", "pl", "ie", "nz", "za", "mx",
))  # fmt: skip
#: Regions tried for numbers without a country code.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU")


@dataclass(frozen=True)
class Match:
    """Words ``start`` to ``end`` (exclusive) are one entity of ``kind``."""

    start: int
    end: int
    kind: str


def _bare(word: str) -> str:
    return word.strip().strip(",;:!?\"'").rstrip(".").lower()


def _number_part(word: str) -> str | None:
    """The characters one word stands for inside a number; None when it is not part of one."""
    bare = _bare(word)
    if bare in DIGIT_WORDS:
        return DIGIT_WORDS[bare]
    if bare in TEENS:
        return TEENS[bare]
    if bare in TENS:
        return TENS[bare] + "0"
    if bare in JOINERS:
        return JOINERS[bare]
    if _NUMBERISH.match(bare):
        return bare
    return None


def _spoken_digits(words: Sequence[str]) -> str:
    """A run of number words (each passed :func:`_in_number`) as the characters it stands for, read
    as a phone number is read out: "twenty three" is 23 (not 203), "double five" 55, "eight hundred"
    800."""
    parts: list[str] = []
    for index, word in enumerate(words):
        bare = _bare(word)
        previous = _bare(words[index - 1]) if index else ""
        if bare in REPEATS:  # the digit after it follows (a run holds a repeat only before a digit)
            parts.append(DIGIT_WORDS[_bare(words[index + 1])] * (REPEATS[bare] - 1))
        elif bare == HUNDRED:  # after a digit, as a run holds it
            parts.append("00")
        elif bare in DIGIT_WORDS and previous in TENS and DIGIT_WORDS[bare] != "0":
            parts[-1] = TENS[previous] + DIGIT_WORDS[bare]  # "twenty" then "three": 23
        else:
            parts.append(_number_part(word) or "")
    return "".join(parts)


def _in_number(words: Sequence[str], index: int) -> bool:
    """Whether words[index] can continue a run of number words."""
    bare = _bare(words[index])
    if bare in REPEATS:
        return index + 1 < len(words) and _bare(words[index + 1]) in DIGIT_WORDS
    if bare == HUNDRED:
        return index > 0 and _bare(words[index - 1]) in DIGIT_WORDS
    return _number_part(words[index]) is not None


def classify_number(text: str, words: int = 1) -> str | None:
    """Which entity a number-like string is, if any (cards before ids before phones).

    A bare 7-digit number (a local phone number, or a quantity) counts only when it was spoken
    digit by digit or written with a dash."""
    if _is_ip(text):
        return "ip_address"
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7:
        return None
    if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
        return "payment_card_number"
    if any(module.is_valid(digits) for module in NATIONAL_IDS) and len(digits) != 10:
        return "national_id"
    if words == 1 and text.isdigit() and len(digits) < 10:  # a plain quantity, not a phone number
        return None
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(text if text.startswith("+") else digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) or (
            len(digits) == 7 and (words >= 3 or "-" in text) and phonenumbers.is_possible_number(number)
        ):
            return "phone_number"
    return None


def _is_ip(text: str) -> bool:
    if text.count(".") != 3 and ":" not in text:
        return False
    try:
        ipaddress.ip_address(text.strip("."))
    except ValueError:
        return False
    return True


def _is_email(text: str) -> bool:
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _emails(words: Sequence[str]) -> list[Match]:
    """Written addresses, and spoken ones: ``john dot smith at example dot com``."""
    found = [Match(i, i + 1, "email") for i, w in enumerate(words) if "@" in w and _is_email(_bare(w))]
    for at, word in enumerate(words):
        if _bare(word) != "at" or at == 0:
            continue
        # The domain: words joined by "dot" after "at"; the local part: the word(s) before it.
        end, domain = at + 1, ""
        while end < len(words):
            part = _bare(words[end])
            if not domain and part.isalnum():
                domain, end = part, end + 1
            elif domain and part in ("dot", ".") and end + 1 < len(words) and _bare(words[end + 1]).isalnum():
                domain, end = f"{domain}.{_bare(words[end + 1])}", end + 2
            elif domain and "." in part and part.replace(".", "").isalnum():
                domain, end = domain + part if part.startswith(".") else f"{domain}.{part}", end + 1
            else:
                break
        start, local = at - 1, _bare(words[at - 1])
        while (
            start >= 2
            and _bare(words[start - 1]) in ("dot", "underscore")
            and _bare(words[start - 2]).isalnum()
        ):
            local = f"{_bare(words[start - 2])}{'.' if _bare(words[start - 1]) == 'dot' else '_'}{local}"
            start -= 2
        spoken_tld = domain.rsplit(".", 1)[-1] in SPOKEN_TLDS
        if "." in domain and local and spoken_tld and _is_email(f"{local}@{domain}"):
            found.append(Match(start, end, "email"))
    return found


def _numbers(words: Sequence[str]) -> list[Match]:
    """Runs of number-like words, each read as one string and classified."""
    found: list[Match] = []
    i = 0
    while i < len(words):
        if not _in_number(words, i) or _bare(words[i]) in (*JOINERS, HUNDRED):
            i += 1
            continue
        end = i
        while end < len(words) and _in_number(words, end):
            end += 1
        while end > i and _bare(words[end - 1]) in JOINERS:  # a trailing "dot" is not part of it
            end -= 1
        kind = classify_number(_spoken_digits(words[i:end]), end - i)
        if kind:
            found.append(Match(i, end, kind))
        i = end
    return found


def find_pii(words: Sequence[str], kinds: Collection[str]) -> list[Match]:
    """Non-overlapping matches of the wanted kinds, in word order (the first found wins)."""
    candidates = [m for m in [*_emails(words), *_numbers(words)] if m.kind in kinds]
    taken: set[int] = set()
    kept = []
    for match in sorted(candidates, key=lambda m: (m.start, -(m.end - m.start))):
        span = set(range(match.start, match.end))
        if not span & taken:
            kept.append(match)
            taken |= span
    return kept
