"""Where the client and the CLI find the server and keys: arguments, profiles, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler_client.config import DEFAULT_URL, ConfigError, config_path, resolve

CONFIG = """
[profiles.default]
url = "http://default:1"
api_key = "sk_default"

[profiles.prod]
url = "https://prod.example.com"
api_key = "sk_prod"
operator_key = "op_prod"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_the_config_path() -> None:
    assert config_path({"SCHEDULER_CONFIG": "/x/c.toml"}) == Path("/x/c.toml")
    assert config_path({"XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/scheduler/config.toml")
    assert config_path({}) == Path.home() / ".config" / "scheduler" / "config.toml"


def test_without_a_file_the_environment_then_the_default_url(tmp_path: Path) -> None:
    env = {"SCHEDULER_CONFIG": str(tmp_path / "missing.toml")}
    assert resolve(env=env).url == DEFAULT_URL and resolve(env=env).api_key is None
    env |= {"SCHEDULER_URL": "http://env:2", "SCHEDULER_API_KEY": "sk_env", "SCHEDULER_OPERATOR_KEY": "op_env"}
    settings = resolve(env=env)
    assert (settings.url, settings.api_key, settings.operator_key) == ("http://env:2", "sk_env", "op_env")


@pytest.mark.parametrize(
    ("host_port", "url"),
    [
        ({"PORT": "11650"}, "http://127.0.0.1:11650"),
        ({"HOST": "0.0.0.0", "PORT": "9001"}, "http://127.0.0.1:9001"),
        ({"HOST": "::", "PORT": "9001"}, "http://[::1]:9001"),
        ({"HOST": "::1"}, "http://[::1]:8000"),
        ({"HOST": "10.1.2.3", "PORT": "80"}, "http://10.1.2.3:80"),
    ],
)
def test_without_a_url_the_local_server_of_host_and_port(tmp_path: Path, host_port: dict[str, str], url: str) -> None:
    env = {"SCHEDULER_CONFIG": str(tmp_path / "missing.toml"), **host_port}
    assert resolve(env=env).url == url
    assert resolve(env={**env, "SCHEDULER_URL": "http://env:2"}).url == "http://env:2"  # an explicit URL wins


def test_a_port_that_is_no_number_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PORT must be a port number"):
        resolve(env={"SCHEDULER_CONFIG": str(tmp_path / "missing.toml"), "PORT": "eighty"})


def test_the_environment_beats_the_default_profile(config: Path) -> None:
    env = {"SCHEDULER_CONFIG": str(config)}
    assert resolve(env=env).api_key == "sk_default" and resolve(env=env).profile == "default"
    assert resolve(env={**env, "SCHEDULER_API_KEY": "sk_env"}).api_key == "sk_env"
    assert resolve(env={**env, "SCHEDULER_API_KEY": "sk_env"}).url == "http://default:1"


def test_a_selected_profile_beats_the_environment_and_arguments_beat_all(config: Path) -> None:
    env = {"SCHEDULER_CONFIG": str(config), "SCHEDULER_API_KEY": "sk_env", "SCHEDULER_URL": "http://env:2"}
    by_flag = resolve(profile="prod", env=env)
    by_env = resolve(env={**env, "SCHEDULER_PROFILE": "prod"})
    assert by_flag == by_env
    assert (by_flag.url, by_flag.api_key, by_flag.operator_key, by_flag.profile) == (
        "https://prod.example.com",
        "sk_prod",
        "op_prod",
        "prod",
    )
    assert resolve(profile="prod", api_key="sk_arg", url="http://arg:3", env=env).api_key == "sk_arg"


def test_an_unknown_profile_is_an_error(config: Path) -> None:
    with pytest.raises(ConfigError, match="no profile 'staging'"):
        resolve(profile="staging", env={"SCHEDULER_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[profiles.x\n", "cannot read"),
        ("profiles = 1\n", "must be a table"),
        ("[profiles]\nx = 1\n", "profiles.x must be a table"),
        ('[profiles.x]\napikey = "k"\n', "unknown settings: apikey"),
        ("[profiles.x]\napi_key = 1\n", "must be a string"),
    ],
)
def test_a_bad_file_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve(env={"SCHEDULER_CONFIG": str(path)})
