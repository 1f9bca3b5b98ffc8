"""Where an order ships: a mainland China address, checked the same way for pages and the API."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from errors import ValidationError
from store import divisions
from store.errors import AddressMismatch
from store.models import Product

# The 34 provincial-level divisions, as written on an address (the API takes exactly these).
PROVINCES = (
    "北京市",
    "天津市",
    "上海市",
    "重庆市",
    "河北省",
    "山西省",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "海南省",
    "四川省",
    "贵州省",
    "云南省",
    "陕西省",
    "甘肃省",
    "青海省",
    "台湾省",
    "内蒙古自治区",
    "广西壮族自治区",
    "西藏自治区",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "香港特别行政区",
    "澳门特别行政区",
)
# A mainland mobile number: 11 digits, 1 then 3-9.
MOBILE = r"^1[3-9][0-9]{9}$"
_MOBILE = re.compile(MOBILE)
NAME_CHARS = 40
PLACE_CHARS = 40  # a city, a district
ADDRESS_CHARS = 200  # the street address


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    province: str
    city: str
    district: str
    address: str
    # The district's GB/T 2260 code when it was chosen in the picker (store.divisions):
    # stored beside the names, which it was checked against.
    district_code: str | None = None

    def columns(self) -> tuple[str, str, str, str, str, str, str | None]:
        """In the order of the order's ship_* columns (and of the hold's parameters)."""
        return (
            self.name,
            self.phone,
            self.province,
            self.city,
            self.district,
            self.address,
            self.district_code,
        )

    def as_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "phone": self.phone,
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "address": self.address,
            "district_code": self.district_code,
        }


def tidy_phone(phone: str) -> str:
    """A number as people type it (spaces, dashes, +86) as digits; the pages use this."""
    digits = phone.replace(" ", "").replace("-", "").replace("\u00a0", "")
    return digits.removeprefix("+86").removeprefix("0086")


def _line(field: str, value: str, most: int) -> str:
    clean = " ".join(str(value).split())
    if not clean:
        raise ValidationError(field, "is required")
    if len(clean) > most:
        raise ValidationError(field, f"must be at most {most} characters")
    if any(ord(char) < 32 or 0x7F <= ord(char) < 0xA0 for char in clean):
        raise ValidationError(field, "must not contain control characters")
    return clean


def check_address(
    *,
    name: str,
    phone: str,
    province: str,
    city: str,
    district: str,
    address: str,
    district_code: str | None = None,
) -> Address:
    """The address, tidied (inner whitespace collapsed); ValidationError naming every bad
    field ("shipping.phone"...), the first one first. With a `district_code` (the picker's),
    the province, city and district must be the names it stands for: else AddressMismatch
    (422 address_mismatch). Without one, free text is accepted as it always was."""
    problems: list[tuple[str, str]] = []
    values: dict[str, str] = {}
    for field, value, most in (
        ("name", name, NAME_CHARS),
        ("city", city, PLACE_CHARS),
        ("district", district, PLACE_CHARS),
        ("address", address, ADDRESS_CHARS),
    ):
        try:
            values[field] = _line(f"shipping.{field}", value, most)
        except ValidationError as exc:
            problems.append((exc.field, exc.reason))
    if not _MOBILE.match(phone):
        problems.append(("shipping.phone", "must be a mainland mobile number, e.g. 13812345678"))
    if province not in PROVINCES:
        problems.append(("shipping.province", "must be one of the 34 provincial-level divisions"))
    if problems:
        field, reason = problems[0]
        raise ValidationError(field, reason, others=problems)
    code = (district_code or "").strip() or None
    if code is not None:
        chosen = divisions.district(code) if re.fullmatch(r"[0-9]{6}", code) else None
        if chosen is None:
            raise ValidationError("shipping.district_code", "is not a district's code")
        if (chosen.province, chosen.city, chosen.district) != (
            province,
            values["city"],
            values["district"],
        ):
            raise AddressMismatch(
                "shipping.district_code", "names a district other than the names given"
            )
    return Address(phone=phone, province=province, district_code=code, **values)


MAX_SHIPPING_FEE_FEN = 100_000  # ¥1,000: a product's postage, at most


def goods_fen(wanted: Mapping[int, int], products: Mapping[int, Product]) -> int:
    """What the goods of an order cost (product id -> quantity), before shipping."""
    return sum(products[pid].price_fen * quantity for pid, quantity in wanted.items())


def shipping_fee(
    wanted: Mapping[int, int], products: Mapping[int, Product], *, free_over_fen: int
) -> int:
    """Invariant "an order's shipping fee", the one rule for pages, the API and the drop's
    hold: the highest shipping_fee_fen among the order's products that ship (one parcel; a
    digital product ships nothing), and none when the goods total reaches `free_over_fen`
    (满 N 包邮; 0: no such total, every order pays its fee)."""
    fees = [products[pid].shipping_fee_fen for pid in wanted if products[pid].requires_shipping]
    if not fees:
        return 0
    if free_over_fen > 0 and goods_fen(wanted, products) >= free_over_fen:
        return 0
    return max(fees)
