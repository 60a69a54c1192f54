"""Configuration layers, interpolation, secrets and the typed sections.

Every file is a real TOML file under tmp_path; the autouse ``prov_home``
fixture gives each test its own PROV_HOME, XDG config dir and cwd.
"""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from pathlib import Path

import attrs
import pytest

from provisioning_core import ConfigError, ProviderSettings, Secret
from provisioning_core.config import (
    Config,
    ConfigSource,
    OperationsSettings,
    load_config,
    user_config_path,
)
from provisioning_core.models import ProviderApi, ProviderAuth, ProviderDefaults, ProviderFeatures
from provisioning_core.secret import MASK, redact

TOKEN = "tok-7c1e-do-not-print-me"
PASSWORD = "pw-9d2f-hunter2-hunter2"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def work() -> Path:
    """The working directory the autouse fixture changed into."""
    return Path.cwd()


def everything_shown(config: Config, *errors: BaseException) -> str:
    """Every text a user or a log could see of ``config`` and ``errors``."""
    texts = [repr(config), str(config), json.dumps(config.masked()), repr(config.problems)]
    for error in errors:
        texts += [str(error), repr(error), *getattr(error, "problems", [])]
        texts.append(str(getattr(error, "hint", "")))
    return "\n".join(texts)


# --- layers ------------------------------------------------------------------


def test_defaults_are_shipped_and_match_the_operations_class(prov_home):
    shipped = files("provisioning_core").joinpath("config.defaults.toml")
    assert shipped.is_file()
    config = load_config(env={})
    assert config.operations == OperationsSettings()
    assert config.get("orchestrator.extensions.auto_load") is True
    assert config.get("orchestrator.paths.data_dir") == str(prov_home)
    assert config.get("orchestrator.extensions.cache_dir") == f"{prov_home}/extensions"
    assert [s.layer for s in config.sources] == ["built-in", "defaults"]
    assert config.sources[1] == ConfigSource("defaults", str(shipped))
    assert config.origin("operations.parallelism") == f"defaults {shipped}"
    assert config.origin("orchestrator.paths.data_dir") == "built-in $PROV_HOME"
    assert config.problems == {}


def test_every_layer_in_order_of_precedence(tmp_path, work):
    user = write(tmp_path / "user.toml", "[operations]\nparallelism = 2\nwait_interval = 7\n")
    write(work / "provisioning.toml", "[operations]\nparallelism = 3\nretry_attempts = 9\n")
    env = {"PROV_OPERATIONS__PARALLELISM": "4", "PROV_OPERATIONS__LOCK_TIMEOUT": "1.5"}

    config = load_config(config_file=user, env=env, overrides={"operations.parallelism": 5})
    ops = config.operations
    assert ops.parallelism == 5
    assert ops.lock_timeout == 1.5
    assert ops.retry_attempts == 9
    assert ops.wait_interval == 7.0
    assert isinstance(ops.wait_interval, float)
    assert ops.wait_timeout == 600.0
    assert [(s.layer, s.location) for s in config.sources][2:] == [
        ("user", str(user)),
        ("workspace", str(work / "provisioning.toml")),
        ("environment", "PROV_OPERATIONS__LOCK_TIMEOUT"),
        ("environment", "PROV_OPERATIONS__PARALLELISM"),
        ("command line", "--parallelism"),
    ]
    assert config.origin("operations.parallelism") == "command line --parallelism"
    assert config.origin("operations.lock_timeout") == "environment PROV_OPERATIONS__LOCK_TIMEOUT"
    assert config.origin("operations.retry_attempts") == f"workspace {work / 'provisioning.toml'}"
    assert config.origin("operations.wait_interval") == f"user {user}"
    assert config.origin("operations") == "command line --parallelism"
    assert config.origin("operations.nothing") is None

    assert load_config(config_file=user, env=env).operations.parallelism == 4
    assert load_config(config_file=user, env={}).operations.parallelism == 3
    (work / "provisioning.toml").unlink()
    assert load_config(config_file=user, env={}).operations.parallelism == 2


def test_user_config_file_from_argument_then_prov_config_then_platform_dir(tmp_path, work):
    default = write(user_config_path(), "[clusters.c]\nfrom = 'platform dir'\n")
    assert load_config(env={}).get("clusters.c.from") == "platform dir"
    assert load_config(env={}).sources[-1] == ConfigSource("user", str(default))

    named = write(tmp_path / "named.toml", "[clusters.c]\nfrom = 'PROV_CONFIG'\n")
    assert load_config(env={"PROV_CONFIG": str(named)}).get("clusters.c.from") == "PROV_CONFIG"

    given = write(work / "given.toml", "[clusters.c]\nfrom = 'argument'\n")
    config = load_config(config_file="given.toml", env={"PROV_CONFIG": str(named)})
    assert config.get("clusters.c.from") == "argument"
    assert config.origin("clusters.c.from") == f"user {given}"
    assert [s.layer for s in config.sources].count("user") == 1


def test_prov_config_is_read_from_the_process_environment_by_default(tmp_path, monkeypatch):
    named = write(tmp_path / "named.toml", "[operations]\nparallelism = 6\n")
    monkeypatch.setenv("PROV_CONFIG", str(named))
    assert load_config().operations.parallelism == 6
    assert load_config(env={}).operations.parallelism == 10  # env replaces os.environ


def test_an_explicit_config_file_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        load_config(config_file=missing, env={})
    assert err.value.exit_code == 2
    assert str(missing) in str(err.value)
    assert "--config" in str(err.value)
    assert "does not exist" in str(err.value)

    with pytest.raises(ConfigError) as err:
        load_config(env={"PROV_CONFIG": str(missing)})
    assert str(missing) in str(err.value)
    assert "PROV_CONFIG" in str(err.value)
    assert "unset PROV_CONFIG" in err.value.hint


def test_a_missing_platform_config_file_is_fine():
    assert not user_config_path().exists()
    assert [s.layer for s in load_config(env={}).sources] == ["built-in", "defaults"]


def test_workspace_file_is_found_in_the_nearest_parent(tmp_path):
    outer = write(tmp_path / "ws" / "provisioning.toml", "[taskservs.a]\nx = 'outer'\ny = 1\n")
    deep = tmp_path / "ws" / "sub" / "deeper"
    deep.mkdir(parents=True)
    config = load_config(cwd=deep, env={})
    assert config.get("taskservs.a.x") == "outer"
    assert config.sources[-1] == ConfigSource("workspace", str(outer))

    inner = write(tmp_path / "ws" / "sub" / "provisioning.toml", "[taskservs.a]\nx = 'inner'\n")
    config = load_config(cwd=deep, env={})
    assert config.get("taskservs.a.x") == "inner"
    assert config.get("taskservs.a.y", None) is None  # only the nearest file is read
    assert config.origin("taskservs.a.x") == f"workspace {inner}"


def test_the_workspace_file_defaults_to_the_current_directory(work):
    write(work / "provisioning.toml", "[clusters.ci]\nprovider = 'local'\n")
    assert load_config(env={}).cluster_settings("ci") == {"provider": "local"}


def test_a_file_named_twice_is_read_once(work):
    ws = write(work / "provisioning.toml", "[operations]\nparallelism = 3\n")
    config = load_config(env={"PROV_CONFIG": str(ws)})
    assert [s.layer for s in config.sources] == ["built-in", "defaults", "user"]


def test_tables_merge_deeply_and_values_replace(tmp_path, work):
    user = write(
        tmp_path / "user.toml",
        """
        [providers.up.api]
        timeout = 5.0
        base_url = "https://user.example"
        [providers.up.defaults]
        ssh_keys = ["a", "b"]
        [taskservs.t]
        opts = {x = 1, y = 2}
        """,
    )
    write(
        work / "provisioning.toml",
        """
        [providers.up.api]
        base_url = "https://ws.example"
        [providers.up.defaults]
        ssh_keys = ["c"]
        [taskservs]
        t = "replaced by a string"
        """,
    )
    config = load_config(config_file=user, env={})
    assert config.get("providers.up.api") == {"timeout": 5.0, "base_url": "https://ws.example"}
    assert config.get("providers.up.defaults.ssh_keys") == ["c"]
    assert config.get("taskservs.t") == "replaced by a string"
    assert config.origin("taskservs.t.opts") is None  # forgotten with the table it was in
    assert config.origin("providers.up.api.timeout") == f"user {user}"
    assert config.origin("providers.up.api") == f"workspace {work / 'provisioning.toml'}"

    config = load_config(config_file=user, env={"PROV_TASKSERVS__T": "{z = 3}"})
    assert config.get("taskservs.t") == {"z": 3}


def test_toml_syntax_errors_name_the_file_line_and_column(work):
    bad = write(work / "provisioning.toml", f'[providers.up.auth]\ntoken = "{TOKEN}"\nuser = me\n')
    with pytest.raises(ConfigError) as err:
        load_config(env={})
    message = str(err.value)
    assert str(bad) in message
    assert "line 3, column 8" in message
    assert "is not valid TOML" in message
    assert "quotes" in err.value.hint
    assert TOKEN not in message
    assert TOKEN not in repr(err.value)
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


def test_a_file_that_is_not_utf8_is_an_error(work):
    (work / "provisioning.toml").write_bytes(b"x = '\xff'\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(env={})


def test_an_unreadable_config_file_is_an_error(tmp_path):
    directory = tmp_path / "a-directory.toml"
    directory.mkdir()
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(config_file=directory, env={})


# --- environment variables and overrides -------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4", 4),
        ("2.5", 2.5),
        ("true", True),
        ('["a", "b"]', ["a", "b"]),
        ("{x = 1}", {"x": 1}),
        ('"1.6"', "1.6"),
        ("1.28.0", "1.28.0"),
        ("hello world", "hello world"),
        ("", ""),
        ("1\nother = 2", "1\nother = 2"),
        ("2024-05-01", date(2024, 5, 1)),
    ],
)
def test_environment_values_are_toml_values_when_they_parse(text, value):
    config = load_config(env={"PROV_TASKSERVS__T__VALUE": text})
    assert config.get("taskservs.t.value") == value
    assert config.get("taskservs.t.value").__class__ is value.__class__


def test_only_prov_variables_with_a_double_underscore_are_settings():
    env = {
        "PROV_HOME": "/elsewhere",
        "PROV_DEBUG": "1",
        "PROVX__A": "1",
        "prov_a__b": "1",
        "PROV_ORCHESTRATOR__EXTENSIONS__AUTO_LOAD": "false",
    }
    config = load_config(env=env)
    assert config.get("orchestrator.extensions.auto_load") is False
    assert config.get("home", None) is None
    assert config.get("debug", None) is None
    assert [s.location for s in config.sources if s.layer == "environment"] == [
        "PROV_ORCHESTRATOR__EXTENSIONS__AUTO_LOAD"
    ]


def test_a_deeper_variable_wins_over_a_table_given_whole():
    env = {"PROV_TASKSERVS__T": "{a = 1, b = 2}", "PROV_TASKSERVS__T__B": "3"}
    assert load_config(env=env).taskserv_settings("t") == {"a": 1, "b": 3}


def test_a_malformed_setting_variable_is_an_error():
    with pytest.raises(ConfigError) as err:
        load_config(env={"PROV_OPERATIONS____PARALLELISM": "3"})
    assert "PROV_OPERATIONS____PARALLELISM" in str(err.value)
    assert "PROV_OPERATIONS__PARALLELISM=4" in err.value.hint


def test_overrides_are_the_top_layer():
    overrides = {
        "operations.wait_timeout": 30,
        "operations.parallelism": None,  # a flag not given
        "providers.up": {"defaults": {"zone": "de-fra1"}},
    }
    config = load_config(env={"PROV_OPERATIONS__WAIT_TIMEOUT": "5"}, overrides=overrides)
    assert config.operations.wait_timeout == 30.0
    assert config.operations.parallelism == 10
    assert config.provider_settings("up").defaults.zone == "de-fra1"
    assert ConfigSource("command line", "--wait-timeout") in config.sources
    assert config.origin("providers.up.defaults.zone") == "command line --up"
    with pytest.raises(ConfigError, match="invalid setting path"):
        load_config(env={}, overrides={"operations..x": 1})


# --- interpolation -----------------------------------------------------------


def test_environment_interpolation(work):
    write(
        work / "provisioning.toml",
        """
        [taskservs.t]
        plain = "${REGION}"
        inside = "eu-${REGION}-1"
        fallback = "${NOT_SET:-fallback value}"
        empty_uses_default = "${EMPTY:-d}"
        empty_without_default = "<${EMPTY}>"
        literal = "cost: $${PRICE} and $5"
        two = "${REGION}/${REGION}"
        """,
    )
    settings = load_config(env={"REGION": "fra", "EMPTY": ""}).taskserv_settings("t")
    assert settings == {
        "plain": "fra",
        "inside": "eu-fra-1",
        "fallback": "fallback value",
        "empty_uses_default": "d",
        "empty_without_default": "<>",
        "literal": "cost: ${PRICE} and $5",
        "two": "fra/fra",
    }


def test_references_keep_their_type_and_chain(work, prov_home):
    write(
        work / "provisioning.toml",
        """
        [operations]
        parallelism = "{{clusters.c.width}}"
        [clusters.c]
        width = "{{clusters.c.base}}"
        base = 7
        label = "width {{clusters.c.width}}, auto {{orchestrator.extensions.auto_load}}"
        home = "{{orchestrator.paths}}"
        third = "{{clusters.c.second}}"
        second = "{{clusters.c.first}}"
        first = "${START}-x"
        spaced = "{{ clusters.c.base }} stays a template"
        """,
    )
    config = load_config(env={"START": "go"})
    assert config.operations.parallelism == 7
    assert config.get("clusters.c.width") == 7
    assert config.get("clusters.c.label") == "width 7, auto true"
    assert config.get("clusters.c.home") == {"data_dir": str(prov_home)}
    assert config.get("clusters.c.third") == "go-x"
    assert config.get("clusters.c.spaced") == "{{ clusters.c.base }} stays a template"
    assert config.problems == {}


def test_a_later_layer_changes_what_a_reference_gives(work):
    write(work / "provisioning.toml", "[orchestrator.paths]\ndata_dir = '/srv/prov'\n")
    config = load_config(env={})
    assert config.get("orchestrator.extensions.cache_dir") == "/srv/prov/extensions"
    assert config.masked()["orchestrator"]["extensions"]["cache_dir"] == "/srv/prov/extensions"


def test_unresolved_values_do_not_stop_loading_but_raise_when_read(work):
    write(
        work / "provisioning.toml",
        """
        [providers.upcloud.auth]
        token = "${UPCLOUD_TOKEN}"
        [providers.local.defaults]
        zone = "here"
        [taskservs.t]
        ok = 1
        bad = "{{taskservs.t.missing}}"
        [clusters.c]
        broken = "x ${BROKEN"
        """,
    )
    config = load_config(env={})
    assert config.problems == {
        "providers.upcloud.auth.token": "environment variable UPCLOUD_TOKEN is not set",
        "taskservs.t.bad": "{{taskservs.t.missing}} refers to no setting",
        "clusters.c.broken": "malformed ${...}: expected ${NAME} or ${NAME:-default}",
    }
    # another provider, and other settings, still work
    assert config.provider_settings("local").defaults.zone == "here"
    assert config.get("taskservs.t.ok") == 1
    assert config.operations == OperationsSettings()

    for read in (
        lambda: config.provider_settings("upcloud"),
        lambda: config.get("providers.upcloud.auth.token"),
        lambda: config.get("providers.upcloud.auth.token", "a default does not hide it"),
        lambda: config.section("providers.upcloud"),
        lambda: config.section("providers"),
        lambda: config.get("providers"),
    ):
        with pytest.raises(ConfigError) as err:
            read()
        assert err.value.exit_code == 2
        assert "providers.upcloud.auth.token" in str(err.value)
        assert "UPCLOUD_TOKEN is not set" in str(err.value)
        assert "export UPCLOUD_TOKEN=" in err.value.hint
        assert "${UPCLOUD_TOKEN:-value}" in err.value.hint

    with pytest.raises(ConfigError) as err:
        config.provider_settings("upcloud")
    assert str(err.value).startswith(
        "setting providers.upcloud.auth.token "
        f"(from workspace {work / 'provisioning.toml'}) cannot be resolved: "
        "environment variable UPCLOUD_TOKEN is not set"
    )

    with pytest.raises(ConfigError) as err:
        config.taskserv_settings("t")
    assert "taskservs.t.bad" in str(err.value)
    assert "define taskservs.t.missing" in err.value.hint
    assert "{{ taskservs.t.missing }}" in err.value.hint
    with pytest.raises(ConfigError) as err:
        config.cluster_settings("c")
    assert "clusters.c.broken" in str(err.value)
    assert "$${" in err.value.hint


def test_several_unresolved_values_in_one_table_are_listed(work):
    write(work / "provisioning.toml", "[taskservs.t]\na = '${A_VAR}'\nb = ['${B_VAR}']\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={}).taskserv_settings("t")
    assert err.value.problems == [
        "environment variable A_VAR is not set @ $.taskservs.t.a",
        "environment variable B_VAR is not set @ $.taskservs.t.b[0]",
    ]
    assert "settings under taskservs.t" in str(err.value)
    assert "export A_VAR=" in err.value.hint
    assert "export B_VAR=" in err.value.hint


def test_unresolved_operations_values_raise_when_operations_are_read():
    config = load_config(env={"PROV_OPERATIONS__PARALLELISM": "${WIDTH}"})
    assert config.problems == {"operations.parallelism": "environment variable WIDTH is not set"}
    with pytest.raises(ConfigError, match=r"operations\.parallelism"):
        _ = config.operations


def test_reference_cycles_are_named(work):
    write(
        work / "provisioning.toml",
        """
        [clusters.c]
        a = "{{clusters.c.b}}"
        b = "x{{clusters.c.a}}"
        user = "{{clusters.c.a}}"
        self = "{{clusters.c}}"
        """,
    )
    config = load_config(env={})
    cycle = "references form a cycle: clusters.c.a -> clusters.c.b -> clusters.c.a"
    assert config.problems["clusters.c.a"] == cycle
    assert config.problems["clusters.c.b"] == cycle
    assert config.problems["clusters.c.user"] == f"{{{{clusters.c.a}}}} cannot be resolved: {cycle}"
    assert config.problems["clusters.c.self"] == (
        "references form a cycle: clusters.c -> clusters.c.self -> clusters.c"
    )
    with pytest.raises(ConfigError) as err:
        config.get("clusters.c.a")
    assert cycle in str(err.value)
    assert "break the cycle" in err.value.hint
    assert config.masked()["clusters"]["c"]["a"] == "{{clusters.c.b}} (cycle)"
    assert config.get("operations.parallelism") == 10


def test_a_table_or_list_cannot_be_put_into_a_string(work):
    write(work / "provisioning.toml", "[clusters.c]\nx = 'in {{operations}}'\n")
    config = load_config(env={})
    assert config.problems == {
        "clusters.c.x": "{{operations}} is a table, which cannot be put into a string"
    }
    assert config.masked()["clusters"]["c"]["x"] == "in {{operations}} (not a value)"


def test_env_replaces_the_process_environment_for_interpolation(monkeypatch, work):
    write(work / "provisioning.toml", "[taskservs.t]\nregion = '${REGION:-none}'\n")
    monkeypatch.setenv("REGION", "from-os")
    assert load_config().get("taskservs.t.region") == "from-os"
    assert load_config(env={}).get("taskservs.t.region") == "none"


# --- secrets -----------------------------------------------------------------


def test_secret_keys_and_secret_variables_become_secrets(work):
    write(
        work / "provisioning.toml",
        f"""
        [providers.up.auth]
        token = "{TOKEN}"
        username = "admin"
        password = "${{UP_PASSWORD}}"
        [providers.up.options]
        client_secret = "cs-value-1234"
        Private_Key = "-----BEGIN KEY-----"
        token_file = "/etc/token"
        credentials = ["cred-1-abcdef", "cred-2-abcdef"]
        webhook = "https://hooks.example/${{HOOK_TOKEN}}"
        pin_password = 123456
        [taskservs.registry]
        copy = "{{{{providers.up.auth.token}}}}"
        header = "Bearer {{{{providers.up.auth.token}}}}"
        """,
    )
    config = load_config(env={"UP_PASSWORD": PASSWORD, "HOOK_TOKEN": "hook-abcdef"})
    auth = config.get("providers.up.auth")
    assert auth["token"] == Secret(TOKEN)
    assert auth["password"] == Secret(PASSWORD)
    assert auth["username"] == "admin"
    options = config.provider_settings("up").options
    assert options["client_secret"] == Secret("cs-value-1234")
    assert isinstance(options["Private_Key"], Secret)
    assert options["token_file"] == "/etc/token"
    assert options["credentials"] == [Secret("cred-1-abcdef"), Secret("cred-2-abcdef")]
    assert options["webhook"].reveal() == "https://hooks.example/hook-abcdef"
    registry = config.taskserv_settings("registry")
    assert registry["copy"] == Secret(TOKEN)
    assert registry["header"] == Secret(f"Bearer {TOKEN}")

    secrets = {s.reveal() for s in config.secrets()}
    assert {TOKEN, PASSWORD, "cs-value-1234", f"Bearer {TOKEN}", "123456"} <= secrets
    assert "admin" not in secrets

    shown = everything_shown(config)
    for value in (*secrets, "hook-abcdef"):
        assert value not in shown
    masked = config.masked()
    assert masked["providers"]["up"]["auth"] == {
        "token": MASK,
        "username": "admin",
        "password": MASK,
    }
    assert masked["providers"]["up"]["options"]["credentials"] == [MASK, MASK]
    assert masked["providers"]["up"]["options"]["pin_password"] == MASK
    assert masked["providers"]["up"]["options"]["token_file"] == "/etc/token"
    text = f"request to https://hooks.example/hook-abcdef failed with Bearer {TOKEN}"
    assert redact(text, config.secrets()) == f"request to {MASK} failed with {MASK}"


def test_a_secret_from_a_prov_variable_stays_text():
    config = load_config(env={"PROV_PROVIDERS__UP__AUTH__TOKEN": "0123456789"})
    assert config.provider_settings("up").auth.token == Secret("0123456789")
    assert "0123456789" not in json.dumps(config.masked())


def test_unresolved_secrets_show_their_reference_not_their_text(work):
    write(
        work / "provisioning.toml",
        f"""
        [providers.up.auth]
        token = "${{UPCLOUD_TOKEN}}"
        password = "{PASSWORD}${{MISSING_SUFFIX}}"
        [taskservs.t]
        url = "https://x/${{GITHUB_TOKEN}}"
        """,
    )
    config = load_config(env={})
    masked = config.masked()
    assert masked["providers"]["up"]["auth"] == {
        "token": "${UPCLOUD_TOKEN} (unset)",
        "password": f"{MASK} (unset)",
    }
    assert masked["taskservs"]["t"]["url"] == f"{MASK} (unset)"
    with pytest.raises(ConfigError) as err:
        config.provider_settings("up")
    assert PASSWORD not in everything_shown(config, err.value)


def test_structuring_errors_never_show_a_secret_of_the_same_section(work):
    write(
        work / "provisioning.toml",
        f"""
        [providers.up.auth]
        token = "{TOKEN}"
        password = "${{UP_PASSWORD}}"
        username = "${{OTHER_TOKEN}}"
        [providers.up.api]
        timeout = "${{UP_PASSWORD}}"
        retries = "many"
        """,
    )
    config = load_config(env={"UP_PASSWORD": PASSWORD, "OTHER_TOKEN": "other-token-abcdef"})
    with pytest.raises(ConfigError) as err:
        config.provider_settings("up")
    assert err.value.problems == [
        "expected str, got Secret @ $.providers.up.auth.username",
        "expected float, got Secret @ $.providers.up.api.timeout",
        "expected int, got str @ $.providers.up.api.retries",
    ]
    shown = everything_shown(config, err.value)
    for value in (TOKEN, PASSWORD, "other-token-abcdef"):
        assert value not in shown


# --- provider settings -------------------------------------------------------


def test_provider_settings_are_structured_with_the_name_injected(work):
    write(
        work / "provisioning.toml",
        """
        [providers.upcloud.auth]
        token = "${UPCLOUD_TOKEN}"
        username = "ops"
        [providers.upcloud.api]
        base_url = "https://api.upcloud.com"
        timeout = 10
        retries = 5
        verify_tls = false
        [providers.upcloud.defaults]
        zone = "de-fra1"
        plan = "1xCPU-1GB"
        ssh_keys = ["~/.ssh/id_ed25519.pub"]
        [providers.upcloud.features]
        ipv6 = true
        [providers.upcloud.options]
        storage_tier = "maxiops"
        """,
    )
    settings = load_config(env={"UPCLOUD_TOKEN": TOKEN}).provider_settings("upcloud")
    assert settings == ProviderSettings(
        name="upcloud",
        auth=ProviderAuth(token=Secret(TOKEN), username="ops"),
        api=ProviderApi(
            base_url="https://api.upcloud.com", timeout=10.0, retries=5, verify_tls=False
        ),
        defaults=ProviderDefaults(
            zone="de-fra1", plan="1xCPU-1GB", ssh_keys=["~/.ssh/id_ed25519.pub"]
        ),
        features=ProviderFeatures(ipv6=True),
        options={"storage_tier": "maxiops"},
    )
    assert TOKEN not in repr(settings)


def test_an_absent_provider_section_gives_the_defaults():
    assert load_config(env={}).provider_settings("aws") == ProviderSettings(name="aws")


def test_bad_provider_settings_name_each_problem_by_its_path(work):
    write(
        work / "provisioning.toml",
        """
        [providers.upcloud]
        zone = "de-fra1"
        [providers.upcloud.api]
        timeout = "slow"
        retries = 2.5
        [providers.upcloud.auth]
        tokn = "x"
        [providers.upcloud.defaults]
        ssh_keys = "one-key"
        """,
    )
    with pytest.raises(ConfigError) as err:
        load_config(env={}).provider_settings("upcloud")
    error = err.value
    assert error.exit_code == 2
    assert sorted(error.problems) == sorted(
        [
            "extra fields found (zone) @ $.providers.upcloud",
            "expected float, got str @ $.providers.upcloud.api.timeout",
            "expected int, got float @ $.providers.upcloud.api.retries",
            "extra fields found (tokn) @ $.providers.upcloud.auth",
            "expected a list, got str @ $.providers.upcloud.defaults.ssh_keys",
        ]
    )
    assert str(error).startswith(
        f"provider settings [providers.upcloud] (from workspace {work / 'provisioning.toml'})"
        " are not valid"
    )
    assert "provider-specific keys go under [providers.upcloud.options]" in error.hint
    assert "[providers.upcloud.auth] takes: method, token, username, password" in error.hint
    assert "[providers.upcloud] takes the tables auth, api, defaults, features" in error.hint


def test_a_provider_section_that_is_not_a_table(work):
    write(work / "provisioning.toml", "[providers]\nupcloud = 'yes'\n")
    with pytest.raises(ConfigError, match=r"providers.upcloud .* is a string, not a table"):
        load_config(env={}).provider_settings("upcloud")


def test_a_provider_section_naming_another_provider(work):
    write(work / "provisioning.toml", "[providers.upcloud]\nname = 'aws'\n")
    with pytest.raises(ConfigError, match="sets name to another name"):
        load_config(env={}).provider_settings("upcloud")
    write(work / "provisioning.toml", "[providers.upcloud]\nname = 'upcloud'\n")
    assert load_config(env={}).provider_settings("upcloud").name == "upcloud"


# --- [operations] ------------------------------------------------------------


def test_bad_operations_values_are_all_reported_with_their_range(work):
    write(
        work / "provisioning.toml",
        """
        [operations]
        parallelism = 0
        wait_timeout = -1
        retry_attempts = 0
        hook_timeout = "long"
        lock_timeout = true
        paralelism = 4
        """,
    )
    with pytest.raises(ConfigError) as err:
        _ = load_config(env={}).operations
    error = err.value
    assert error.exit_code == 2
    assert sorted(error.problems) == sorted(
        [
            "expected a whole number greater than 0, got 0 @ $.operations.parallelism",
            "expected a number of seconds greater than 0, got -1 @ $.operations.wait_timeout",
            "expected a whole number of at least 1, got 0 @ $.operations.retry_attempts",
            "expected float, got str @ $.operations.hook_timeout",
            "expected float, got a boolean @ $.operations.lock_timeout",
            "extra fields found (paralelism) @ $.operations",
        ]
    )
    assert str(work / "provisioning.toml") in str(error)
    assert "parallelism (a whole number greater than 0)" in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("parallelism", 1),
        ("wait_interval", 0.01),
        ("retry_attempts", 1),
        ("retry_base_delay", 0),
        ("retry_max_delay", 0),
        ("lock_timeout", 0),
    ],
)
def test_operations_boundaries_that_are_allowed(key, value):
    ops = load_config(env={}, overrides={f"operations.{key}": value}).operations
    assert getattr(ops, key) == value



@pytest.mark.parametrize("value", [1e10, float("inf"), 2**63 - 1])
@pytest.mark.parametrize("key", ["hook_timeout", "wait_timeout", "wait_interval", "lock_timeout"])
def test_seconds_beyond_a_year_are_refused_naming_the_setting(key, value):
    # hook_timeout = 1e10 reached Thread.join and was an OverflowError in every command
    with pytest.raises(ConfigError) as err:
        _ = load_config(env={}, overrides={f"operations.{key}": value}).operations
    assert err.value.problems == [
        f"expected at most 31536000 seconds (a year), got {value} @ $.operations.{key}"
    ]
    assert load_config(env={}, overrides={f"operations.{key}": 31536000}).operations

def test_operations_settings_validate_when_built_directly():
    with pytest.raises(ValueError, match="parallelism: expected a whole number greater than 0"):
        OperationsSettings(parallelism=0)
    with pytest.raises(ValueError, match="wait_interval"):
        OperationsSettings(wait_interval=float("nan"))
    assert OperationsSettings(retry_base_delay=0).retry_base_delay == 0


# --- reading -----------------------------------------------------------------


def test_get_and_section():
    config = load_config(env={})
    assert config.get("operations.parallelism") == 10
    assert config.get("operations.nothing", 42) == 42
    assert config.get("nothing.at.all", None) is None
    assert config.section("clusters") == {}
    assert config.section("operations")["retry_attempts"] == 5

    with pytest.raises(ConfigError) as err:
        config.get("operations.paralelism")
    assert "no setting operations.paralelism" in str(err.value)
    assert err.value.hint == "did you mean operations.parallelism?"
    with pytest.raises(ConfigError) as err:
        config.get("operations.zzzzzz")
    assert "[operations] holds: hook_timeout, lock_timeout" in err.value.hint
    with pytest.raises(ConfigError, match="invalid setting path"):
        config.get("operations.")
    with pytest.raises(ConfigError, match="is a int, not a table"):
        config.section("operations.parallelism")


def test_what_get_returns_is_a_copy():
    config = load_config(env={})
    config.section("operations")["parallelism"] = 99
    config.get("orchestrator")["extensions"]["auto_load"] = False
    assert config.get("operations.parallelism") == 10
    assert config.get("orchestrator.extensions.auto_load") is True


def test_masked_is_json_and_complete(work):
    write(
        work / "provisioning.toml",
        "[clusters.c]\nsince = 2024-05-01\nat = 10:30:00\nlist = [1, {a = 'b'}]\n",
    )
    masked = load_config(env={}).masked()
    assert json.loads(json.dumps(masked)) == masked
    assert masked["clusters"]["c"] == {
        "since": "2024-05-01",
        "at": "10:30:00",
        "list": [1, {"a": "b"}],
    }
    assert masked["operations"]["parallelism"] == 10


def test_a_config_can_be_built_from_a_mapping():
    config = Config(
        {"providers": {"local": {"auth": {"token": "${T}"}}}, "x": {"y": "{{x.z}}", "z": 1}},
        env={"T": TOKEN},
    )
    assert config.provider_settings("local").auth.token == Secret(TOKEN)
    assert config.get("x.y") == 1
    assert config.sources == []
    assert config.origin("x.y") is None
    assert TOKEN not in repr(config)


# --- docs --------------------------------------------------------------------

DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_the_docs_describe_every_operations_key_with_its_default():
    text = DOCS.read_text(encoding="utf-8")
    for field in attrs.fields(OperationsSettings):
        assert f"| `{field.name}` | `{field.default}` |" in text, field.name


@pytest.mark.parametrize(
    ("table", "cls"),
    [
        ("auth", ProviderAuth),
        ("api", ProviderApi),
        ("defaults", ProviderDefaults),
        ("features", ProviderFeatures),
    ],
)
def test_the_docs_describe_every_provider_setting(table, cls):
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(f"**`[providers.<name>.{table}]`**", 1)[1].split("**`[providers.", 1)[0]
    for field in attrs.fields(cls):
        assert f"| `{field.name}` |" in section, f"{table}.{field.name}"


def test_extension_settings_default_to_the_seeds_values_under_prov_home(prov_home):
    from provisioning_core.config import ExtensionsSettings

    config = load_config(env={})
    assert config.extensions == ExtensionsSettings(
        auto_load=True, cache_dir=prov_home / "extensions"
    )
    # the shipped default is the seed's line, interpolated
    assert config.origin("orchestrator.extensions.cache_dir").startswith("defaults ")


def test_extension_settings_are_read_interpolated_and_checked(tmp_path, work):
    write(
        work / "provisioning.toml",
        '[orchestrator.extensions]\nauto_load = false\ncache_dir = "{{orchestrator.paths.data_dir}}/x"\n',
    )
    config = load_config(env={})
    assert config.extensions.auto_load is False
    assert config.extensions.cache_dir == Path(config.get("orchestrator.paths.data_dir")) / "x"
    env = {"PROV_ORCHESTRATOR__EXTENSIONS__AUTO_LOAD": "true"}
    assert load_config(env=env).extensions.auto_load is True

    write(
        work / "provisioning.toml",
        '[orchestrator.extensions]\nauto_load = "no"\ncache_dir = "relative/dir"\nautoload = 1\n',
    )
    with pytest.raises(ConfigError) as err:
        _ = load_config(env={}).extensions
    assert err.value.problems == [
        "unknown setting @ $.orchestrator.extensions.autoload",
        "expected true or false, got string @ $.orchestrator.extensions.auto_load",
        "expected an absolute path, got 'relative/dir' @ $.orchestrator.extensions.cache_dir",
    ]
    assert f"workspace {work / 'provisioning.toml'}" in err.value.message
    assert "auto_load (true or false)" in (err.value.hint or "")
    assert err.value.exit_code == 2


def test_import_bounds_are_read_and_checked(work):
    config = load_config(env={})
    assert (config.extensions.import_timeout, config.extensions.probe_memory_mb) == (30.0, 4096)
    env = {
        "PROV_ORCHESTRATOR__EXTENSIONS__IMPORT_TIMEOUT": "0",
        "PROV_ORCHESTRATOR__EXTENSIONS__PROBE_MEMORY_MB": "512",
    }
    assert load_config(env=env).extensions.import_timeout == 0
    assert load_config(env=env).extensions.probe_memory_mb == 512
    write(
        work / "provisioning.toml",
        '[orchestrator.extensions]\nimport_timeout = -1\nprobe_memory_mb = "lots"\n',
    )
    with pytest.raises(ConfigError) as err:
        _ = load_config(env={}).extensions
    assert err.value.problems == [
        "expected a number of seconds, 0 or more, got -1 @ $.orchestrator.extensions.import_timeout",
        (
            "expected a whole number of MiB, 0 or more, got 'lots' "
            "@ $.orchestrator.extensions.probe_memory_mb"
        ),
    ]


def test_short_secrets_are_named_by_their_path(work):
    write(
        work / "provisioning.toml",
        """
        [providers.up.auth]
        token = "a-long-enough-token"
        password = "local"
        [providers.up.options]
        pin_password = 1234
        """,
    )
    config = load_config(env={})
    assert sorted(config.short_secrets()) == [
        "$.providers.up.auth.password",
        "$.providers.up.options.pin_password",
    ]
