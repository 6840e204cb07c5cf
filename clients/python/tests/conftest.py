from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import pytest

from lectures_client import LecturesClient

from .support import FakeApi, Product

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """One real product (embedded mode, fast built-in responders) for the whole run."""
    log: Path = tmp_path_factory.mktemp("product") / "product.log"
    running = Product(log)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(product: Product) -> Iterator[LecturesClient]:
    with LecturesClient(product.url) as c:
        yield c


@pytest.fixture
def fake() -> Iterator[FakeApi]:
    server = FakeApi()
    yield server
    server.close()


@pytest.fixture
def uid(request: pytest.FixtureRequest) -> str:
    """A key of this test's own, so tests never share grains."""
    return f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{next(_ids)}".replace("_", "-")
