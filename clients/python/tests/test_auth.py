"""API keys: a second product instance with one admin key."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from lectures_client import LecturesClient, UnauthorizedError

from .support import Product

ADMIN_KEY = "python-client-test-admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    log: Path = tmp_path_factory.mktemp("keyed") / "product.log"
    running = Product(log, {"Auth__Keys__0__Key": ADMIN_KEY, "Auth__Keys__0__Role": "admin"})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_the_client_authenticates_with_its_key(keyed_product: Product, uid: str) -> None:
    with LecturesClient(keyed_product.url, api_key=ADMIN_KEY) as client:
        job = client.jobs.create("render", job_id=uid)
        assert client.jobs.get(job.job_id).job_id == uid
        with client.jobs.events(uid) as events:
            assert next(events).job.job_id == uid  # type: ignore[union-attr]


def test_a_wrong_or_missing_key_raises_401(keyed_product: Product, uid: str) -> None:
    for key in ("not-the-key", None):
        with LecturesClient(keyed_product.url, api_key=key) as client:
            with pytest.raises(UnauthorizedError) as raised:
                client.jobs.get(uid)
            assert (raised.value.status, raised.value.code) == (401, "unauthorized")
            with pytest.raises(UnauthorizedError):
                next(client.jobs.events(uid))
