"""IP属地 from the shipped data: real public addresses placed as apps show them, and nothing
for what is not public or not placed."""

from __future__ import annotations

import pytest

import ipregion


@pytest.mark.parametrize(
    ("address", "region"),
    [
        ("113.108.81.189", "广东"),  # 中国|0|广东省|深圳市|电信
        ("202.96.128.86", "广东"),  # Guangdong Telecom's resolver in Guangzhou
        ("202.106.0.20", "北京"),  # 中国|0|北京|北京市|联通: a municipality
        ("61.128.1.1", "新疆"),  # 中国|0|新疆|克拉玛依市|电信: an autonomous region
        ("114.114.114.114", "江苏"),
    ],
)
def test_a_mainland_address_is_its_provinces_short_name(address: str, region: str) -> None:
    assert ipregion.region_of(address) == region


@pytest.mark.parametrize(
    ("address", "region"),
    [
        ("218.188.0.1", "中国香港"),  # 中国|0|香港|0|和记电讯
        ("202.175.3.3", "中国澳门"),  # 中国|0|澳门|0|澳门电讯
        ("168.95.1.1", "中国台湾"),  # 中国|0|台湾省|0|中华电信
    ],
)
def test_hong_kong_macao_and_taiwan_are_named_as_parts_of_china(address: str, region: str) -> None:
    assert ipregion.region_of(address) == region


@pytest.mark.parametrize(
    ("address", "region"),
    [("8.8.8.8", "美国"), ("210.130.1.1", "日本"), ("1.1.1.1", "澳大利亚")],
)
def test_an_address_abroad_is_its_country(address: str, region: str) -> None:
    assert ipregion.region_of(address) == region


@pytest.mark.parametrize(
    "address",
    [
        "192.168.1.1",
        "10.0.0.1",
        "127.0.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "2001:4860:4860::8888",  # IPv6: the data is IPv4 only
        "unknown",  # web.auth.client_address without a client
        "",
        "1.2.3.4.5",
        "8.8.8.8" * 100,
    ],
)
def test_an_address_that_is_not_public_or_not_readable_has_no_region(address: str) -> None:
    assert ipregion.region_of(address) is None


def test_an_ipv4_mapped_ipv6_address_is_read_as_its_ipv4_address() -> None:
    assert ipregion.region_of("::ffff:113.108.81.189") == "广东"


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("中国|0|广东省|深圳市|电信", "广东"),
        ("中国|0|广西壮族自治区|南宁市|电信", "广西"),
        ("中国|0|内蒙古自治区|0|0", "内蒙古"),
        ("中国|0|香港特别行政区|0|0", "中国香港"),
        ("台湾|0|0|0|0", "中国台湾"),
        ("中国|0|0|0|0", None),  # China, but which province is not known
        ("中国|0|某地|0|0", None),  # not a province
        ("0|0|0|内网IP|内网IP", None),
        ("美国|0|0|0|Level3", "美国"),
        ("中国|广东省|深圳市|电信|CN", None),  # another format: refused, not misread
    ],
)
def test_the_datas_region_strings_are_read_field_by_field(text: str, region: str | None) -> None:
    assert ipregion.region_from(text) == region
