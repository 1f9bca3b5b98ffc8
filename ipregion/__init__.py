"""IP属地: the province (or the country, outside the mainland) an IP address is in, never the
address itself, as the account-information rules of 2022 (互联网用户账号信息管理规定 art. 12)
ask a site to show beside what a person publishes and on their account's page.

From an offline copy of ip2region's IPv4 data (lionsoul2014/ip2region, Apache-2.0, its
licence beside it): ipregion/data/, named with its source and sha256 in static/vendor/VERSIONS
(upstream's data/ip2region.xdb of 2024-02-28, commit 27b5efd). It is read with ip2region's own
binding (py-ip2region), whole into memory the first time an address is placed (11 MB:
ip2region's "content cached" mode, a lookup is a binary search in memory with no file read).
Read-only data, the same for every app in the process, so kept once per process (like the
confusables of accounts.identities). docs/community.md says how it is updated.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from pathlib import Path

from ip2region import searcher, util

DATA = Path(__file__).resolve().parent / "data" / "ip2region-20240228.xdb"
# The longest region kept (posts' and replies' ip_region column): the data's longest country
# is 12 characters (南乔治亚岛和南桑威奇群岛); a longer name is not shown rather than cut.
MAX_LENGTH = 20

# The mainland's 31 province-level divisions as apps show them (IP属地：广东), which is what
# the data writes with its 省, 市 or 自治区 ending taken off (_short).
MAINLAND = frozenset(
    {
        "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏",
        "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西",
        "海南", "重庆", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆",
    }
)  # fmt: skip
# Hong Kong, Macao and Taiwan are written as parts of China, whichever field names them.
OF_CHINA = {"香港": "中国香港", "澳门": "中国澳门", "台湾": "中国台湾"}
# Longest first: 广西壮族自治区 loses 壮族自治区, not just 自治区.
_ENDINGS = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
UNKNOWN = "0"  # how the data says it does not know a field


@cache
def _searcher() -> searcher.Searcher:
    content = DATA.read_bytes()
    version = util.version_from_header(util.Header(content[: util.HeaderInfoLength]))
    if version is not util.IPv4:
        raise RuntimeError(f"{DATA.name} is not ip2region's IPv4 data")
    return searcher.new_with_buffer(version, content)


def _short(name: str) -> str:
    for ending in _ENDINGS:
        if name.endswith(ending) and len(name) > len(ending):
            return name.removesuffix(ending)
    return name


def region_from(text: str) -> str | None:
    """What is shown of one of the data's region strings, 国家|区域|省份|城市|ISP with "0"
    where unknown: a mainland province by its short name ("中国|0|广东省|深圳市|电信" ->
    广东, "中国|0|新疆|克拉玛依市|电信" -> 新疆), Hong Kong, Macao and Taiwan as 中国香港,
    中国澳门, 中国台湾, any other country by its name ("美国|0|0|0|Level3" -> 美国); None for
    what the data does not place (a private network, China without a province, a field it
    does not know)."""
    fields = text.split("|")
    if len(fields) != 5:
        return None
    country, province = fields[0], _short(fields[2])
    if _short(country) in OF_CHINA:
        return OF_CHINA[_short(country)]
    if country == "中国":
        if province in OF_CHINA:
            return OF_CHINA[province]
        return province if province in MAINLAND else None
    if country == UNKNOWN or not country or len(country) > MAX_LENGTH:
        return None
    return country


def region_of(address: str) -> str | None:
    """The IP属地 of `address`: a mainland province (广东, 北京, 内蒙古), 中国香港, 中国澳门,
    中国台湾, or another country (美国, 日本). None for an address that is not public (private,
    loopback, shared, reserved), that cannot be read ("unknown"), that the data does not
    place, and for IPv6 (the data covers IPv4 only; an IPv4-mapped IPv6 address is read as its
    IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.strip()[:64])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            return None
        ip = ip.ipv4_mapped
    if not ip.is_global:
        return None
    return region_from(_searcher().search(ip.packed))
