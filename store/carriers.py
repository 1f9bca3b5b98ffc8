"""The mainland's major parcel carriers an order ships with, and each parcel's tracking page.

Tracking pages are Kuaidi100's (快递100, www.kuaidi100.com): one public page that follows every
carrier below by its code and the tracking number, where the carriers' own sites each want
something else (a captcha, a sign-in, a phone number's last digits) and change their addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from errors import ValidationError
from translation import N_

TRACKING_PAGE = "https://www.kuaidi100.com/chaxun"


@dataclass(frozen=True)
class Carrier:
    code: str  # ours, as the API and the order keep it
    name: str  # a message id: the carrier's name, 顺丰速运 in Chinese
    kuaidi100: str  # Kuaidi100's code for it


CARRIERS: dict[str, Carrier] = {
    carrier.code: carrier
    for carrier in (
        Carrier("sf", N_("SF Express"), "shunfeng"),
        Carrier("jd", N_("JD Logistics"), "jd"),
        Carrier("ems", N_("EMS"), "ems"),
        Carrier("chinapost", N_("China Post"), "youzhengguonei"),
        Carrier("zto", N_("ZTO Express"), "zhongtong"),
        Carrier("yto", N_("YTO Express"), "yuantong"),
        Carrier("sto", N_("STO Express"), "shentong"),
        Carrier("yunda", N_("Yunda Express"), "yunda"),
        Carrier("jtexpress", N_("J&T Express"), "jtexpress"),
        Carrier("deppon", N_("Deppon Express"), "debangkuaidi"),
    )
}


def carrier(code: object) -> Carrier:
    """The carrier of `code`. Raises ValidationError("carrier") for one not on the list."""
    found = CARRIERS.get(code) if isinstance(code, str) else None
    if found is None:
        raise ValidationError("carrier", "is not one of the carriers we ship with")
    return found


def tracking_url(code: str | None, number: str | None) -> str | None:
    """The parcel's tracking page, or None without a known carrier and a number."""
    found = CARRIERS.get(code or "")
    if found is None or not number:
        return None
    return f"{TRACKING_PAGE}?{urlencode({'com': found.kuaidi100, 'nu': number})}"
