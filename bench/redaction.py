"""Precision and recall of PII redaction (transcriber/domain/redaction.py) on a built test set.

    python -m bench.redaction [--show-errors]

The set is generated here, deterministically: sentences shaped like recogniser output (lower
case, numbers written as digits or spoken as digit words, e-mail addresses spoken as "at" and
"dot"), each with the entities it holds, plus sentences whose numbers are not personal data
(years, amounts, counts, invalid card numbers). An entity counts as found when a match of the
right kind covers exactly its words; precision and recall are per entity, by kind and overall.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Iterator

from stdnum import luhn

from transcriber.domain.redaction import DIGIT_WORDS, TEENS, TENS, find_pii
from transcriber.domain.textopts import PII_TAGS

SPOKEN = {digit: word for word, digit in DIGIT_WORDS.items() if word not in ("oh", "o")}
Case = tuple[list[str], list[tuple[int, int, str]]]


def _spoken(digits: str) -> list[str]:
    return [SPOKEN[d] for d in digits if d.isdigit()]


PAIRS = {digits: word for word, digits in TEENS.items()}


def _paired(digits: str) -> list[str]:
    """A phone number read out in pairs after its first digits: 415 555 1234 as "four one five
    five five five twelve thirty four" (tens and teens as words, "oh five" for 05)."""
    words = _spoken(digits[:-4])
    for pair in (digits[-4:-2], digits[-2:]):
        if pair[0] == "0":
            words += ["oh", SPOKEN[pair[1]]]
        elif pair in PAIRS:
            words.append(PAIRS[pair])
        else:
            tens = {d: w for w, d in TENS.items()}[pair[0]]
            words += [tens] if pair[1] == "0" else [tens, SPOKEN[pair[1]]]
    return words


def _card(rng: random.Random) -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return body + luhn.calc_check_digit(body)


def _phone(rng: random.Random) -> str:
    return (
        f"{rng.choice(['202', '312', '415', '617', '718'])}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
    )


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(101, 665):03d}{rng.randint(10, 99):02d}{rng.randint(1000, 9999):04d}"


def _entities(rng: random.Random) -> Iterator[tuple[str, list[str]]]:
    """(kind, words) for each entity, in written and spoken forms."""
    for _ in range(8):
        phone = _phone(rng)
        yield "phone_number", [f"{phone[:3]}-{phone[3:6]}-{phone[6:]}"]
        yield "phone_number", _spoken(phone)
        yield "phone_number", [phone[:3], phone[3:6], phone[6:]]
        yield "phone_number", _paired(phone)
        card = _card(rng)
        yield "payment_card_number", [card[i : i + 4] for i in range(0, 16, 4)]
        yield "payment_card_number", _spoken(card)
        ssn = _ssn(rng)
        yield "national_id", [f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"]
        yield "national_id", _spoken(ssn)
        name, domain = (
            rng.choice(["anna", "bob", "li", "maria", "omar"]),
            rng.choice(["example", "mailbox", "acme"]),
        )
        yield "email", [f"{name}.{rng.randint(1, 99)}@{domain}.com"]
        yield "email", [name, "dot", "smith", "at", domain, "dot", rng.choice(["com", "org", "net"])]
        ip = [str(rng.randint(1, 254)) for _ in range(4)]
        yield "ip_address", [".".join(ip)]
        yield (
            "ip_address",
            [w for i, part in enumerate(ip) for w in ([*_spoken(part)] + (["dot"] if i < 3 else []))],
        )


NEGATIVES = [
    "we sold 1500000 units in 2024 and 2025",
    "the meeting is at three thirty in room 204",
    "i have 3 cats 12 dogs and 40 chickens",
    "the invoice total was 4999 dollars and 95 cents",
    "card number 4111 1111 1111 1112 was declined",
    "page 1234 line 56 says nothing of note",
    "flight 747 leaves at 1830 from gate 12",
    "he scored one two three points in a row",
    "version 3.2.1 fixed the bug",
    "the population grew to 8300000 by 1990",
    "look at that dot on the map",
    "meet me at noon at the station",
    "we have twenty two cats and forty five dogs",
    "it was built in nineteen ninety nine",
]


def build_set(seed: int = 17) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    lead_ins = ["my number is", "please note", "you can reach it as", "write down", "it was"]
    for kind, words in _entities(rng):
        before = rng.choice(lead_ins).split()
        after = rng.choice(["thanks", "okay", "right", "for the record"]).split()
        cases.append(([*before, *words, *after], [(len(before), len(before) + len(words), kind)]))
    cases.extend((sentence.split(), []) for sentence in NEGATIVES)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    cases = build_set()
    tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
    for words, truth in cases:
        found = {(m.start, m.end, m.kind) for m in find_pii(words, PII_TAGS)}
        for item in found & set(truth):
            tp[item[2]] += 1
        for item in found - set(truth):
            fp[item[2]] += 1
            if args.show_errors:
                found_words = " ".join(words[item[0] : item[1]])
                print(f"  false positive {item[2]}: {found_words!r} in {' '.join(words)!r}")
        for item in set(truth) - found:
            fn[item[2]] += 1
            if args.show_errors:
                print(f"  missed {item[2]}: {' '.join(words[item[0] : item[1]])!r}")
    entities = sum(len(t) for _, t in cases)
    print(f"redaction test set: {len(cases)} sentences, {entities} entities, {len(NEGATIVES)} without PII")
    print(f"{'kind':<22}{'entities':>9}{'precision':>11}{'recall':>8}")
    for kind in [*PII_TAGS, "all"]:
        t = sum(tp.values()) if kind == "all" else tp[kind]
        p = sum(fp.values()) if kind == "all" else fp[kind]
        n = sum(fn.values()) if kind == "all" else fn[kind]
        precision = t / (t + p) if t + p else float("nan")
        recall = t / (t + n) if t + n else float("nan")
        print(f"{kind:<22}{t + n:>9}{precision:>11.3f}{recall:>8.3f}")


if __name__ == "__main__":
    main()
