"""Settings from the environment: defaults, parsing, clear errors, plan lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.settings import ConfigError, settings_from


def test_defaults_match_the_readme() -> None:
    settings = settings_from({})
    assert (settings.backend, settings.data_dir, settings.allow_private_targets) == ("local", Path(".scheduler"), True)
    assert (settings.max_horizon_days, settings.delivery_timeout_s, settings.retention_days) == (3650, 10.0, 30)
    assert settings_from({"SCHEDULER_BACKEND": "aws"}).allow_private_targets is False
    assert settings.past_tolerance_s == 300
    assert settings_from({"SCHEDULER_PAST_TOLERANCE_S": "0"}).past_tolerance_s == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCHEDULER_BACKEND": "gcp"}, "SCHEDULER_BACKEND"),
        ({"SCHEDULER_ADMIN_KEY": "short"}, "at least 24"),
        ({"SCHEDULER_MAX_HORIZON_DAYS": "ten"}, "whole number"),
        ({"SCHEDULER_MAX_HORIZON_DAYS": "0"}, "at least 1"),
        ({"SCHEDULER_PAST_TOLERANCE_S": "-1"}, "at least 0"),
        ({"SCHEDULER_DELIVERY_TIMEOUT_S": "0"}, "between"),
        ({"SCHEDULER_ALLOW_PRIVATE_TARGETS": "maybe"}, "true or false"),
        ({"SCHEDULER_PLANS": "{not json"}, "SCHEDULER_PLANS"),
    ],
)
def test_bad_values_are_named_in_the_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from(env)


def test_plans_merge_over_defaults_and_unknown_plans_get_the_default_limits(tmp_path: Path) -> None:
    spec = tmp_path / "plans.json"
    spec.write_text('{"gold": {"rate": 50, "burst": 100, "dailyQuota": 5000}}')
    settings = settings_from({"SCHEDULER_PLANS": f"@{spec}", "SCHEDULER_DEFAULT_PLAN": "free"})
    assert settings.plan("gold").daily_quota == 5000
    assert settings.plan("unlimited").rate_per_s is None
    assert settings.plan("retired-plan") == settings.plan("free")
