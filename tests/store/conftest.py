"""Store tests pay through the real localstripe, emptied before each test."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(autouse=True)
async def empty_localstripe(localstripe_url: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.delete(f"{localstripe_url}/_config/data")).raise_for_status()
