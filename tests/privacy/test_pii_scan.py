"""The scanner of unmasked personal values (issue 23, part 6), table-driven on generated values."""

from __future__ import annotations

import random

import pytest
from stdnum import luhn
from stdnum.cn import ric

from backend.privacy.pii_scan import find


def _id_number(rng: random.Random) -> str:
    body = f"330302{rng.randint(1970, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    return body + ric.calc_check_digit(body + "0")


def _card(rng: random.Random, prefix: str = "6222", length: int = 19) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


RNG = random.Random(23)
ID = _id_number(RNG)
BAD_ID = ID[:-1] + ("0" if ID[-1] != "0" else "1")
CARD = _card(RNG)
BAD_CARD = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)


@pytest.mark.parametrize(("text", "kinds"), [
    (f'{{"event": "worker_registered", "id_number": "{ID}"}}', ["id_number"]),
    (f"id={ID.lower()}", ["id_number"]),
    (f'{{"id_number": "{BAD_ID}"}}', []),  # wrong check digit (GB 11643): not an ID number
    (f'{{"masked": "{ID[:6]}********{ID[-4:]}"}}', []),
    ('{"phone": "13812345678"}', ["mobile"]),
    ('{"phone": "138****5678"}', []),
    ('{"n": "12812345678"}', []),  # 12x is no mobile prefix
    ('{"ts": 1796350686123}', []),  # 13 digits: a millisecond time, not a mobile number
    (f'{{"card": "{CARD}"}}', ["bank_card"]),
    (f'{{"card": "{BAD_CARD}"}}', []),  # fails Luhn
    (f'{{"card": "{_card(RNG, "4", 16)}"}}', ["bank_card"]),
    ('{"request_id": "a13812345678f0c2"}', []),  # inside a hex id: not a value of its own
    ('{"ns": 1796350686123456789}', []),  # 19 digits not starting like a card
    (f"电话13812345678，卡号{CARD}", ["mobile", "bank_card"]),
])
def test_finds_what_is_personal_and_nothing_else(text, kinds):
    found = find(text, "here")
    assert [f.kind for f in found] == kinds
    for f in found:  # the report carries the value masked only
        assert "*" in f.masked and f.masked not in text and f.where == "here"
