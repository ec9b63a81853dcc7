"""Find unmasked personal values in text (issue 23, part 6): logs and exports must never carry them.

- resident ID numbers: 18 characters whose check digit is right (GB 11643-1999, ISO 7064 MOD 11-2) and whose
  birth date and region are plausible (python-stdnum ``cn.ric``);
- mainland mobile numbers: 11 digits 1[3-9]xxxxxxxxx (the numbering plan of the MIIT, 《电信网编号计划》);
- bank card numbers: 16-19 digits passing the Luhn check (ISO/IEC 7812) with an issuer prefix of UnionPay (62),
  Visa (4) or Mastercard (51-55, 22-27).

A value is looked for as a run of digits not touching another letter or digit, so hex ids and longer numbers (nano
timestamps) are not read as one. What is found is reported masked, so the report itself carries nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import luhn
from stdnum.cn import ric

_RUN = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{11,19})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_CARD_PREFIX = re.compile(r"62|4|5[1-5]|2[2-7]")


@dataclass(frozen=True)
class Finding:
    kind: str  # id_number | mobile | bank_card
    masked: str
    where: str = ""


def _mask(value: str) -> str:
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def find(text: str, where: str = "") -> list[Finding]:
    """Every unmasked ID number, mobile number and bank card number in ``text``."""
    out = []
    for m in _RUN.finditer(text):
        value = m.group(1)
        if len(value) == 18 and ric.is_valid(value.upper()):
            out.append(Finding("id_number", _mask(value), where))
        elif len(value) == 11 and _MOBILE.fullmatch(value):
            out.append(Finding("mobile", _mask(value), where))
        elif 16 <= len(value) <= 19 and value.isdigit() and _CARD_PREFIX.match(value) and luhn.is_valid(value):
            out.append(Finding("bank_card", _mask(value), where))
    return out
