"""Configuration: strict validation, every problem reported at once, exact messages."""

import pathlib

import pytest

from exporter.config import load_config
from exporter.configfile import ConfigError, parse_duration
from exporter.vsxi.config import ALL_KEYS as VSXI_KEYS
from exporter.vsxi.config import COLLECTORS as VSXI_COLLECTORS


def write(tmp_path, text, name="config.yml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def problems(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return [p.replace(path, "CFG") for p in err.value.problems]


def test_full_example_loads(tmp_path, monkeypatch):
    (tmp_path / "atl.pass").write_text("s3cret\n")
    (tmp_path / "ca.pem").write_bytes(TEST_CA.read_bytes())
    monkeypatch.setenv("SBC2_PASSWORD", "from-env")
    cfg = load_config(write(tmp_path, """
global: {max_concurrent_targets: 4}
defaults: {interval: 30s, timeout: 10s}
vsxi:
  - name: sbc-atl-1
    url: https://192.0.2.10:8888/
    username: monitor
    password_file: atl.pass
    format: json
    tls: {ca_file: ca.pem, insecure_skip_verify: false}
    collectors: [realtime, resource]
    interval: 15s
    ha_group: atl
  - name: sbc-atl-2
    url: http://127.0.0.1:8888
    username: monitor
    password: ${SBC2_PASSWORD}
"""))
    a, b = cfg.of_family("vsxi")
    assert (a.name, a.url, a.password, a.format, a.collectors, a.interval, a.timeout) == (
        "sbc-atl-1", "https://192.0.2.10:8888", "s3cret", "json", ("realtime", "resource"), 15.0, 10.0)
    assert a.tls.ca_file == str(tmp_path / "ca.pem")
    assert (a.ha_group, b.ha_group) == ("atl", None)
    assert (b.password, b.format, b.collectors, b.interval) == ("from-env", "xml", VSXI_COLLECTORS, 30.0)
    assert cfg.max_concurrent_targets == 4
    assert "s3cret" not in repr(a)  # secrets never in reprs (and so never in logs)


def test_every_problem_is_reported_with_file_and_key(tmp_path):
    assert problems(tmp_path, """
defaults: {interval: 30, timout: 5s}
vsxi:
  - name: sbc 1
    url: ftp://x
    username: monitor
    password: a
    password_file: b
    format: csv
    collectors: [realtime, calls, realtime]
    tls: {ca_file: /nonexistent/ca.pem, verify: true}
  - url: https://user:pw@192.0.2.1:8888
    password: x
    interval: 5s
    timeout: 10s
  - 42
""") == [
        "CFG: defaults.timout: unknown key (expected one of: interval, timeout, connect_timeout, max_response_bytes, "
            "max_series)",
        "CFG: defaults.interval: expected a duration like 15s, 2m or 500ms, got 30",
        "CFG: vsxi[0].name: expected letters, digits and _.:- (at most 63), got 'sbc 1'",
        "CFG: vsxi[0].url: expected an http:// or https:// URL with a host, got 'ftp://x'",
        "CFG: vsxi[0]: exactly one of password or password_file is required",
        "CFG: vsxi[0].tls.verify: unknown key (expected one of: ca_file, insecure_skip_verify)",
        "CFG: vsxi[0].tls.ca_file: file not found: /nonexistent/ca.pem",
        "CFG: vsxi[0].format: expected one of xml, json, got 'csv'",
        "CFG: vsxi[0].collectors[1]: unknown collector 'calls' (expected one of: realtime, resource, "
        "resource_detail, sip_stats, sub_stats, active_calls, media_server)",
        "CFG: vsxi[0].collectors[2]: collector 'realtime' listed twice",
        "CFG: vsxi[1].name: missing required key",
        "CFG: vsxi[1].username: missing required key",
        "CFG: vsxi[1].timeout: timeout (10s) must not exceed interval (5s)",
        "CFG: vsxi[1].url: credentials in the URL are not allowed; use username and password_file",
        "CFG: vsxi[2]: expected a mapping, got integer",
    ]


def test_duplicate_names_and_missing_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    (tmp_path / "empty.pass").write_text("\n")
    assert problems(tmp_path, """
vsxi:
  - {name: a, url: "http://h", username: u, password: "${NOPE}"}
  - {name: a, url: "http://h", username: u, password_file: missing.pass}
  - {name: b, url: "http://h", username: u, password_file: empty.pass}
""") == [
        "CFG: vsxi[0].password: environment variable NOPE is not set",
        f"CFG: vsxi[1].password_file: cannot read {tmp_path}/missing.pass: No such file or directory",
        f"CFG: vsxi[2].password_file: {tmp_path}/empty.pass is empty",
        "CFG: vsxi[1].name: duplicate target name 'a' (also vsxi[0])",
    ]


def test_top_level_problems(tmp_path):
    assert problems(tmp_path, "vsxi: {name: a}\nglobals: {}\n") == [
        "CFG: globals: unknown key (expected one of: global, defaults, profiles, inventory, vsxi, xivo)",
        "CFG: vsxi: expected a list, got mapping",
    ]
    assert problems(tmp_path, "- just\n- a list\n") == ["CFG: expected a mapping at the top level, got list"]
    assert problems(tmp_path, "vsxi: [\n") == [
        "CFG: line 2, column 1: invalid YAML: expected the node content, but found '<stream end>'"]
    assert problems(tmp_path, "global: {max_concurrent_targets: 0}\n") == [
        "CFG: global.max_concurrent_targets: expected a positive integer, got 0"]


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "nope.yml"))
    assert err.value.problems == [f"{tmp_path}/nope.yml: cannot read: No such file or directory"]


@pytest.mark.parametrize("text,seconds", [("15s", 15), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5),
                                          ("1m30s", 90), ("0s", None), ("", None), ("15", None), ("1d", None),
                                          ("-5s", None)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_example_config_is_valid(tmp_path, monkeypatch):
    """config.example.yml documents every key; it must load (its password files are created here)."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parent.parent / "config.example.yml").read_text()
    for path in re.findall(r"password_file: (\S+)", text):
        local = tmp_path / pathlib.Path(path).name
        local.write_text("x\n")
        text = text.replace(path, str(local))
    for path in re.findall(r"ca_file: (\S+?)[,}\s]", text):
        (tmp_path / pathlib.Path(path).name).write_bytes(TEST_CA.read_bytes())
        text = text.replace(path, str(tmp_path / pathlib.Path(path).name))
    monkeypatch.setenv("SBC_LAB_PASSWORD", "x")
    cfg = load_config(write(tmp_path, text))
    assert len(cfg.of_family("vsxi")) >= 2 and len(cfg.of_family("xivo")) >= 2


def test_xivo_targets(tmp_path):
    (tmp_path / "pbx.pass").write_text("pw\n")
    cfg = load_config(write(tmp_path, """
vsxi:
  - {name: sbc-1, url: "http://h", username: u, password: p}
xivo:
  - name: pbx-paris
    url: https://192.0.2.20
    services: {confd: "https://192.0.2.20:9486/1.1"}
    username: exporter
    password_file: pbx.pass
    collectors: [objects, queues]
    interval: 1m
  - name: wazo-lyon
    url: https://192.0.2.30
    api_gateway: true
    backend: wazo_user
    username: exporter
    password: pw
  - name: pbx-old
    url: https://192.0.2.40
    auth: digest
    username: ws
    password: pw
"""))
    paris, lyon, old = cfg.of_family("xivo")
    assert (paris.services, paris.collectors, paris.interval, paris.password, paris.auth) == (
        {"confd": "https://192.0.2.20:9486/1.1"}, ("objects", "queues"), 60.0, "pw", "token")
    assert (lyon.api_gateway, lyon.backend, len(lyon.collectors)) == (True, "wazo_user", 6)
    assert old.collectors == ("objects", "devices")  # digest only reaches confd
    assert [t.name for t in cfg.targets] == ["sbc-1", "pbx-paris", "wazo-lyon", "pbx-old"]


def test_xivo_problems(tmp_path):
    assert problems(tmp_path, """
vsxi:
  - {name: shared, url: "http://h", username: u, password: p}
xivo:
  - name: shared
    url: https://192.0.2.20
    services: {confd: "ftp://x", ctid: "https://h"}
    username: u
    password: p
    auth: digest
    backend: ldap
    api_gateway: true
    generation: wazo
    collectors: [objects, queues]
""") == [
        "CFG: xivo[0].services.ctid: unknown key (expected one of: auth, confd, agentd, amid, calld)",
        "CFG: xivo[0].services.confd: expected an http:// or https:// URL with a host, got 'ftp://x'",
        "CFG: xivo[0].collectors: collector 'queues' needs auth: token (digest auth only reaches confd: "
        "objects, devices)",
        "CFG: xivo[0].auth: digest auth is a legacy XiVO confd mechanism; Wazo (generation: wazo) has none",
        "CFG: xivo[0].backend: expected one of xivo_service, wazo_user, got 'ldap'",
        "CFG: xivo[0].name: duplicate target name 'shared' (also vsxi[0])",
    ]


def test_xivo_queue_status_is_asked_for_by_name(tmp_path):
    """queue_status needs an ACL older accounts lack: not polled unless listed; its member series only with
    queue_members, capped by max_queue_members."""
    cfg = load_config(write(tmp_path, """
xivo:
  - {name: pbx-a, url: "https://192.0.2.20", username: u, password: p}
  - {name: pbx-b, url: "https://192.0.2.21", username: u, password: p, collectors: [queues, queue_status],
     queue_members: true, max_queue_members: 250}
"""))
    a, b = cfg.of_family("xivo")
    assert "queue_status" not in a.collectors and (a.queue_members, a.max_queue_members) == (False, 1000)
    assert (b.collectors, b.queue_members, b.max_queue_members) == (("queues", "queue_status"), True, 250)
    assert problems(tmp_path, """
xivo:
  - {name: pbx-a, url: "https://192.0.2.20", username: u, password: p, queue_members: true}
  - {name: pbx-b, url: "https://192.0.2.21", username: u, password: p, collectors: [queue_status],
     queue_members: "yes", max_queue_members: 0}
""") == [
        "CFG: xivo[0].queue_members: needs the queue_status collector (add it to collectors)",
        "CFG: xivo[1].queue_members: expected true or false, got string",
        "CFG: xivo[1].max_queue_members: expected a positive integer, got 0",
    ]


def test_profiles_share_settings_and_targets_override(tmp_path):
    """A thousand SBCs name a profile instead of repeating credentials, TLS and intervals; what a target
    writes itself wins; labels merge, the target's own winning per name."""
    (tmp_path / "sbc.pass").write_text("s3cret\n")
    cfg = load_config(write(tmp_path, """
profiles:
  sbc-standard:
    family: vsxi
    username: monitor
    password_file: sbc.pass
    format: json
    interval: 1m
    tls: {insecure_skip_verify: true}
    labels: {region: emea, tier: 1}
  pbx-wazo: {family: xivo, username: exporter, password: pw, backend: wazo_user, api_gateway: true}
vsxi:
  - {name: sbc-atl-1, url: "https://192.0.2.1:8888", profile: sbc-standard, labels: {site: atl}}
  - {name: sbc-atl-2, url: "https://192.0.2.2:8888", profile: sbc-standard, interval: 30s,
     labels: {site: atl, tier: gold}}
  - {name: sbc-lab, url: "http://192.0.2.9:8888", username: u, password: p}
xivo:
  - {name: pbx-lyon, url: "https://192.0.2.30", profile: pbx-wazo}
"""))
    a1, a2, lab = cfg.of_family("vsxi")
    assert (a1.username, a1.password, a1.format, a1.interval, a1.tls.insecure_skip_verify, a1.profile) == (
        "monitor", "s3cret", "json", 60.0, True, "sbc-standard")
    assert a1.labels == (("region", "emea"), ("site", "atl"), ("tier", "1"))
    assert (a2.interval, a2.labels) == (30.0, (("region", "emea"), ("site", "atl"), ("tier", "gold")))
    assert (lab.profile, lab.labels, lab.format) == ("", (), "xml")
    (pbx,) = cfg.of_family("xivo")
    assert (pbx.backend, pbx.api_gateway, pbx.profile) == ("wazo_user", True, "pbx-wazo")


def test_profile_problems_name_the_profile_once(tmp_path):
    assert problems(tmp_path, """
profiles:
  sbc-bad: {family: vsxi, username: u, password: p, interval: soon, colour: blue, labels: {__x: 1, job: a}}
  no-family: {username: u}
  with-name: {family: xivo, name: x, url: "https://h", username: u, password: p}
vsxi:
  - {name: sbc-1, url: "http://192.0.2.1", profile: sbc-bad}
  - {name: sbc-2, url: "http://192.0.2.2", profile: sbc-bad, interval: 10s}
  - {name: sbc-3, url: "http://192.0.2.3", profile: nowhere}
  - {name: sbc-4, url: "http://192.0.2.4", profile: with-name}
  - {name: sbc-5, url: "http://192.0.2.5", username: u, password: p, labels: {site: [a], 9lives: x}}
""") == [
        "CFG: profiles.no-family.family: missing required key (one of: vsxi, xivo)",
        "CFG: profiles.with-name.name: a target's own key: not shared through a profile",
        "CFG: profiles.with-name.url: a target's own key: not shared through a profile",
        "CFG: profiles.sbc-bad.labels.__x: invalid label name (letters, digits and _, not starting with a digit "
        "or with __)",
        "CFG: profiles.sbc-bad.labels.job: reserved label name (the exporter's or Prometheus' own: target, family, "
        "profile, job, instance)",
        "CFG: profiles.sbc-bad.colour: unknown key (expected one of: " + ", ".join(k.name for k in VSXI_KEYS) + ")",
        "CFG: profiles.sbc-bad.interval: expected a duration like 15s, 2m or 500ms, got 'soon'",
        "CFG: vsxi[2].profile: unknown profile 'nowhere' (defined: sbc-bad, with-name)",
        "CFG: vsxi[3].profile: profile 'with-name' is for xivo, not vsxi",
        "CFG: vsxi[4].labels.site: expected a string, got list",
        "CFG: vsxi[4].labels.9lives: invalid label name (letters, digits and _, not starting with a digit or "
        "with __)",
    ]


# --- files and values that used to pass, crash or mislead (issue 9) ------------------------------------------

TEST_CA = pathlib.Path(__file__).parent / "fixtures" / "tls" / "ca.pem"
TARGET = "vsxi:\n- {name: a, url: 'https://h', username: u, password: p%s}\n"


def test_ca_file_is_loaded_at_check_time(tmp_path):
    der = tmp_path / "ca.der"
    der.write_bytes((TEST_CA.parent / "ca.der").read_bytes())
    pem = tmp_path / "ca.pem"
    pem.write_bytes(TEST_CA.read_bytes())
    config = load_config(write(tmp_path, TARGET % f", tls: {{ca_file: {pem}}}"))
    assert config.of_family("vsxi")[0].tls.ca_file == str(pem)
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, TARGET % f", tls: {{ca_file: {der}}}"))
    (problem,) = err.value.problems
    assert problem.endswith(f"config.yml: vsxi[0].tls.ca_file: cannot load CA certificates from {der}: "
                            "NO_CERTIFICATE_OR_CRL_FOUND (expected PEM)")


def test_files_that_are_not_utf8_are_config_errors(tmp_path):
    path = tmp_path / "config.yml"
    path.write_bytes(b"vsxi: []\n# caf\xe9\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert err.value.problems == [f"{path}: not UTF-8 text (byte 0xe9 at offset 14); save it as UTF-8"]
    secret = tmp_path / "sbc.pass"
    secret.write_bytes(b"p\xe4ss\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, TARGET.replace("password: p%s", f"password_file: {secret}%s") % ""))
    assert err.value.problems == [f"{path}: vsxi[0].password_file: {secret}: not UTF-8 text (byte 0xe4 at "
                                  "offset 1); save it as UTF-8"]


def test_duplicate_keys_are_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "defaults:\n  interval: 30s\n  interval: 1s\nvsxi: []\n"))
    assert err.value.problems == [f"{tmp_path / 'config.yml'}: line 3, column 3: invalid YAML: duplicate key "
                                  "'interval'"]


@pytest.mark.parametrize("extra,problem", [
    (", interval: 1ms", "vsxi[0].interval: must be at least 1s, got '1ms'"),
    (", interval: 0s", "vsxi[0].interval: must be longer than zero, got '0s'"),
    (", timeout: 50ms", "vsxi[0].timeout: must be at least 100ms, got '50ms'"),
    (", interval: soon", "vsxi[0].interval: expected a duration like 15s, 2m or 500ms, got 'soon'"),
    (", ha_group: ''", "vsxi[0].ha_group: must not be empty"),
    (", timeout: 2s, connect_timeout: 5s", "vsxi[0].connect_timeout: connect_timeout (5s) must not exceed timeout "
                                          "(2s)"),
    (", connect_timeout: 10ms", "vsxi[0].connect_timeout: must be at least 100ms, got '10ms'"),
])
def test_durations_and_strings_say_what_is_wrong(tmp_path, extra, problem):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, TARGET % extra))
    assert err.value.problems == [f"{tmp_path / 'config.yml'}: {problem}"]


def test_minimums_are_accepted(tmp_path):
    target = load_config(write(tmp_path, TARGET % ", interval: 1s, timeout: 100ms")).of_family("vsxi")[0]
    assert (target.interval, target.timeout) == (1.0, 0.1)


def test_connect_timeout_defaults_to_3s_shortened_by_a_shorter_timeout(tmp_path):
    (target,) = load_config(write(tmp_path, TARGET % "")).of_family("vsxi")
    assert (target.timeout, target.connect_timeout) == (10.0, 3.0)
    (target,) = load_config(write(tmp_path, TARGET % ", timeout: 2s")).of_family("vsxi")
    assert target.connect_timeout == 2.0  # the default is an upper bound
    (target,) = load_config(write(tmp_path, TARGET % ", connect_timeout: 500ms")).of_family("vsxi")
    assert target.connect_timeout == 0.5
    text = "defaults: {timeout: 2s, connect_timeout: 5s}\n" + TARGET % ""
    assert problems(tmp_path, text) == ["CFG: defaults.connect_timeout: connect_timeout (5s) must not exceed timeout "
                                        "(2s)"]


# --- the configuration reference: generated from the checker's own tables -------------------------------------

def test_configuration_reference_is_the_generated_one():
    """docs/configuration.md is what `python -m exporter.configdoc` writes from the checker's key tables."""
    from exporter.configdoc import render

    committed = (pathlib.Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    assert committed == render(), "docs/configuration.md is stale: python -m exporter.configdoc > docs/configuration.md"


def _accepted(tmp_path, text: str, where: str) -> list[str]:
    """The keys the checker accepts at ``where``, as its unknown-key error lists them."""
    import re

    found = [p for p in problems(tmp_path, text) if p.startswith(f"CFG: {where}.zz_unknown: unknown key")]
    assert len(found) == 1, problems(tmp_path, text)
    return re.search(r"expected one of: (.*)\)$", found[0]).group(1).split(", ")


def test_the_checker_accepts_exactly_the_documented_keys(tmp_path):
    """Each section's accepted keys, as the checker's own error names them, are the documented ones: a key
    added to a check and not to its table, or documented and refused, fails here."""
    from exporter.config import ENTRY_KEYS, GLOBAL_KEYS, INVENTORY_KEYS, SECTIONS
    from exporter.keys import names
    from exporter.registry import FAMILIES
    from exporter.target import DEFAULTS_KEYS, TLS_KEYS, target_keys

    top = [p for p in problems(tmp_path, "zz_unknown: 1\n") if p.startswith("CFG: zz_unknown: unknown key")]
    assert top and top[0].endswith("expected one of: " + ", ".join((*names(SECTIONS), *FAMILIES)) + ")")
    assert _accepted(tmp_path, "global: {zz_unknown: 1}\n", "global") == list(names(GLOBAL_KEYS))
    assert _accepted(tmp_path, "defaults: {zz_unknown: 1}\n", "defaults") == list(names(DEFAULTS_KEYS))
    assert _accepted(tmp_path, "inventory: {zz_unknown: 1}\n", "inventory") == list(names(INVENTORY_KEYS))
    for name, family in FAMILIES.items():
        entry = f"{name}:\n  - {{name: t1, url: 'http://h', username: u, password: p, zz_unknown: 1}}\n"
        assert _accepted(tmp_path, entry, f"{name}[0]") == list(names(target_keys(family.target_keys)))
        tls = f"{name}:\n  - {{name: t1, url: 'http://h', username: u, password: p, tls: {{zz_unknown: 1}}}}\n"
        assert _accepted(tmp_path, tls, f"{name}[0].tls") == list(names(TLS_KEYS))
    # `profile` and `labels` are taken from an entry before its family checks the rest.
    assert set(names(ENTRY_KEYS)).isdisjoint(names(target_keys()))


def test_an_inventory_group_accepts_exactly_the_documented_keys(tmp_path):
    from exporter.config import load_config
    from exporter.inventory import GROUP_KEYS, read_file
    from exporter.keys import names

    (tmp_path / "inv.yml").write_text("- {targets: [a=http://h], labels: {profile: p}, zz_unknown: 1}\n")
    config = load_config(write(tmp_path, "profiles: {p: {family: vsxi, username: u, password: pw}}\n"))
    with pytest.raises(ConfigError) as err:
        read_file(str(tmp_path / "inv.yml"), config, {})
    assert any(p.endswith("[0].zz_unknown: unknown key (expected one of: " + ", ".join(names(GROUP_KEYS)) + ")")
               for p in err.value.problems), err.value.problems


def test_every_key_of_the_example_config_is_documented():
    """config.example.yml uses only keys of the tables (it also loads: test_example_config_is_valid)."""
    import yaml

    from exporter.config import ENTRY_KEYS, GLOBAL_KEYS, INVENTORY_KEYS, PROFILE_KEYS, SECTIONS
    from exporter.keys import names
    from exporter.registry import FAMILIES
    from exporter.target import DEFAULTS_KEYS, TLS_KEYS, target_keys

    doc = yaml.safe_load((pathlib.Path(__file__).parent.parent / "config.example.yml").read_text())
    unknown = set(doc) - {*names(SECTIONS), *FAMILIES}
    unknown |= set(doc.get("global", {})) - set(names(GLOBAL_KEYS))
    unknown |= set(doc.get("defaults", {})) - set(names(DEFAULTS_KEYS))
    unknown |= set(doc.get("inventory") or {}) - set(names(INVENTORY_KEYS))
    for body in (doc.get("profiles") or {}).values():
        family = FAMILIES[body["family"]]
        unknown |= set(body) - {*names(PROFILE_KEYS), *names(ENTRY_KEYS), *names(target_keys(family.target_keys))}
    for name, family in FAMILIES.items():
        for entry in doc.get(name) or []:
            unknown |= set(entry) - {*names(ENTRY_KEYS), *names(target_keys(family.target_keys))}
            unknown |= set(entry.get("tls") or {}) - set(names(TLS_KEYS))
    assert unknown == set()


def test_a_familys_target_record_has_a_field_for_each_of_its_keys():
    """The record and the table describe the same target: every key is a field (password_file fills
    password), and every field is a key or set by the loader (profile, labels) or the family (family)."""
    import dataclasses

    from exporter.config import ENTRY_KEYS
    from exporter.keys import names
    from exporter.registry import FAMILIES
    from exporter.target import target_keys

    for family in FAMILIES.values():
        record = {f.name for f in dataclasses.fields(_target_type(family))}
        keys = set(names(target_keys(family.target_keys))) - {"password_file"}
        assert keys <= record, (family.name, keys - record)
        assert record - keys == {*names(ENTRY_KEYS), "family"}, (family.name, record - keys)


def _target_type(family):
    """The target record a family's check makes (its return annotation, ``X | None``)."""
    import typing

    return typing.get_type_hints(family.check_target)["return"].__args__[0]


def test_a_pbx_time_zone_must_be_one_the_system_knows(tmp_path):
    assert problems(tmp_path, """
xivo:
  - {name: pbx-1, url: "https://h", username: u, password: p, timezone: Europe/Atlantis}
""") == ["CFG: xivo[0].timezone: unknown time zone 'Europe/Atlantis' (an IANA name such as Europe/Paris, or UTC)"]
    config = load_config(write(tmp_path, """
xivo:
  - {name: pbx-1, url: "https://h", username: u, password: p, timezone: Europe/Paris}
  - {name: pbx-2, url: "https://h2", username: u, password: p}
"""))
    assert [t.timezone for t in config.of_family("xivo")] == ["Europe/Paris", "UTC"]
