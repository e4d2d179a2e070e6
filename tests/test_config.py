"""Configuration: every rule rejects a bad value with a message naming the field, the value and what is allowed."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from config.loader import available_profiles
from tests.support.harness import ROOT


def write_profile(tmp_path: Path, text: str, name: str = "custom") -> Path:
    (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def error_of(profile: str = "dev", **overrides: object) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(profile, overrides, environ={})
    return str(err.value)


def test_profiles_dev_and_prod_exist_and_load() -> None:
    assert {"dev", "prod"} <= set(available_profiles())
    dev, prod = load_config("dev", environ={}), load_config("prod", environ={})
    assert (dev.region, dev.platform.retain_data) == ("us-east-1", False)
    assert (prod.region, prod.platform.retain_data, prod.platform.max_azs) == ("us-west-2", True, 3)


def test_unknown_top_level_key_names_the_key_and_the_allowed_keys() -> None:
    message = error_of(regoin="us-east-1")
    assert "invalid configuration in dev.yaml (profile 'dev')" in message
    assert (
        "regoin: unknown key; allowed here: account, evaluation, hyperpod, inference, lifecycle, platform, profile, "
        "region, stack_prefix, tags"
    ) in message


def test_unknown_nested_key_names_the_path() -> None:
    message = error_of(platform={"max_az": 2})
    assert "platform.max_az: unknown key; allowed here: log_retention_days, max_azs" in message


def test_unknown_region_lists_the_known_regions() -> None:
    message = error_of(region="us-middle-1")
    assert "region = 'us-middle-1': region 'us-middle-1' is not a SageMaker region" in message
    assert "known: us-east-1, us-east-2" in message and "il-central-1" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"platform": {"max_azs": 4}}, "platform.max_azs = 4: Input should be less than or equal to 3"),
        ({"platform": {"vpc_cidr": "8.8.0.0/16"}}, "platform.vpc_cidr = '8.8.0.0/16': must be a private IPv4 block"),
        ({"platform": {"vpc_cidr": "10.0.0.0/33"}}, "platform.vpc_cidr = '10.0.0.0/33': not an IPv4 CIDR block"),
        ({"platform": {"log_retention_days": 100}}, "platform.log_retention_days = 100: CloudWatch Logs accepts only"),
        ({"account": "1234"}, "account = '1234': an AWS account id is 12 digits"),
        ({"stack_prefix": "my stack"}, "stack_prefix = 'my stack': String should match pattern"),
    ],
)
def test_bad_values_are_named_with_the_rule(overrides: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**overrides)


def test_every_error_is_reported_at_once() -> None:
    message = error_of(region="nowhere-1", platform={"max_azs": 9})
    assert "region = 'nowhere-1'" in message and "platform.max_azs = 9" in message


def test_unknown_profile_lists_available_ones() -> None:
    message = error_of("staging")
    assert "profile 'staging' not found: no staging.yaml" in message and "available profiles: " in message
    assert "dev" in message and "prod" in message


def test_profile_file_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"custom\.yaml must hold a mapping of settings, not list"):
        load_config("custom", config_dir=write_profile(tmp_path, "- region: us-east-1\n"), environ={})


def test_account_comes_from_the_environment_when_the_profile_has_none() -> None:
    assert load_config("dev", environ={"CDK_DEFAULT_ACCOUNT": "111122223333"}).account == "111122223333"
    assert load_config("dev", environ={}).account is None
    pinned = load_config("dev", {"account": "444455556666"}, environ={"CDK_DEFAULT_ACCOUNT": "111122223333"})
    assert pinned.account == "444455556666"


def test_app_exits_non_zero_with_one_clear_line_and_no_traceback() -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"profile": "dev", "region": "moon-1"})}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: invalid configuration in dev.yaml (profile 'dev'):" in result.stderr
    assert "region = 'moon-1': region 'moon-1' is not a SageMaker region" in result.stderr
