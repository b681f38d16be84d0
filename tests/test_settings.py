"""Settings resolve option > environment > ini > default, refuse bad input with a sentence, and hide keys."""

from __future__ import annotations

import pytest

from conformance.settings.options import RunSettings, SettingsError, resolve


def settings(options: dict | None = None, env: dict | None = None, ini: dict | None = None, **flags) -> RunSettings:
    return resolve(lambda name: (options or {}).get(name), lambda name: (ini or {}).get(name), env or {}, flags=flags)


STAGING = "https://staging.example.com"


def test_option_beats_environment_beats_ini_beats_default() -> None:
    assert settings({"--max-requests": "10"}, {"EVERMUSE_MAX_REQUESTS": "20"},
                    {"evermuse_max_requests": "30"}).max_requests == 10
    assert settings({}, {"EVERMUSE_MAX_REQUESTS": "20"}, {"evermuse_max_requests": "30"}).max_requests == 20
    assert settings({}, {}, {"evermuse_max_requests": "30"}).max_requests == 30
    resolved = settings()
    assert (resolved.max_requests, resolved.sources["max_requests"]) == (400, "default")


def test_without_a_base_url_the_embedded_simulator_gets_fresh_keys() -> None:
    resolved = settings()
    assert resolved.embedded
    assert all(key.startswith("em_sk_sim_") for key in resolved.keys.secrets)


def test_a_real_target_takes_keys_from_the_environment_only() -> None:
    env = {"EVERMUSE_BASE_URL": STAGING, "EVERMUSE_API_KEY": "em_sk_w", "EVERMUSE_OTHER_API_KEY": "em_sk_o"}
    resolved = settings(env=env)
    assert (resolved.base_url, resolved.keys.write, resolved.keys.read, resolved.keys.other) == (
        STAGING, "em_sk_w", None, "em_sk_o")


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"--base-url": STAGING}, {}, "EVERMUSE_API_KEY is not set: export an api:write key"),
        ({"--base-url": "staging.example.com"}, {"EVERMUSE_API_KEY": "k"},
         "--base-url is 'staging.example.com', not an http(s) URL"),
        ({}, {"EVERMUSE_BASE_URL": "ftp://x"}, "EVERMUSE_BASE_URL is 'ftp://x', not an http(s) URL"),
        ({"--max-requests": "many"}, {}, "--max-requests is 'many', not a whole number"),
        ({"--lifecycle-timeout": "0"}, {}, "--lifecycle-timeout is 0; give a number of at least 0.1"),
        ({"--base-url": STAGING + "/?x=1"}, {"EVERMUSE_API_KEY": "k"}, "without a query or fragment"),
    ],
    ids=["no-key", "no-scheme", "ftp-from-env", "not-a-number", "zero-timeout", "query"],
)
def test_bad_settings_are_refused_with_a_sentence_naming_the_setting(options: dict, env: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(options, env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("flags", [{"simulator_faults": ("status-flaps",)},
                                   {"simulator_choices": ("unissued-cursor=400",)}], ids=["fault", "choice"])
def test_faults_and_choices_need_the_embedded_simulator(flags: dict) -> None:
    with pytest.raises(SettingsError, match="--simulator-fault and --simulator-choice apply to the embedded simulator "
                                            "only; leave out --base-url"):
        settings({"--base-url": STAGING}, {"EVERMUSE_API_KEY": "k"}, **flags)


def test_record_validity_is_known_against_a_real_target_only_with_its_ids() -> None:
    env = {"EVERMUSE_API_KEY": "k"}
    assert settings({}, env).ids_known
    assert not settings({"--base-url": STAGING}, env).ids_known
    assert not settings({"--base-url": STAGING, "--product-id": "p-1"}, env).ids_known
    known = settings({"--base-url": STAGING, "--product-id": "p-1", "--project-id": "j-1"}, env)
    assert known.ids_known
    assert "record validity" not in dict(known.describe())
    assert "--product-id" in dict(settings({"--base-url": STAGING}, env).describe())["record validity"]


def test_describe_names_sources_and_never_a_key() -> None:
    env = {"EVERMUSE_BASE_URL": STAGING, "EVERMUSE_API_KEY": "em_sk_secret_w"}
    rows = dict(settings({"--seed": "7"}, env).describe())
    assert rows["target"] == f"{STAGING} (EVERMUSE_BASE_URL)"
    assert rows["seed"] == "7 (--seed)"
    assert rows["write key"] == "set (EVERMUSE_API_KEY)"
    assert rows["read key"] == "not set (EVERMUSE_READ_API_KEY)"
    assert "em_sk_secret_w" not in repr(rows)
