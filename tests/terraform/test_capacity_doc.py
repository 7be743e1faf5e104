"""docs/aws-capacity.md is what bench/capacity.py computes from Terraform's values, and the default
deployment carries the product's goal: 1,000 creates/s and 1,000 deliveries/s (100 ms receivers)."""

from __future__ import annotations

import pytest

from bench import capacity


def test_the_capacity_doc_is_computed_from_the_current_terraform() -> None:
    assert capacity.render() in capacity.DOC.read_text(), "run: python -m bench.capacity"


@pytest.mark.parametrize("env", sorted(capacity.ENVIRONMENTS))
def test_each_deployment_carries_1000_creates_and_deliveries_a_second(env: str) -> None:
    rows = dict(capacity.model(capacity.ENVIRONMENTS[env])["rows"])
    assert rows["creates/s (single requests)"].value >= 1_000
    assert rows["creates/s (batches of 100)"].value >= 1_000
    assert rows["deliveries/s, 100 ms receivers"].value >= 1_000


def test_the_model_moves_with_terraform(monkeypatch: pytest.MonkeyPatch) -> None:
    """Halving the delivery concurrency halves what 10 s receivers get: the figures are not constants."""
    values = capacity.deployment(None)
    slow = capacity.deliveries(values, 10.0).value
    assert capacity.deliveries(
        {**values, "delivery_max_concurrency": values["delivery_max_concurrency"] // 2}, 10.0
    ).value == pytest.approx(slow / 2)
