"""Every Lambda: code asset, runtime, settings env vars (no secrets), logs and tracing."""

from __future__ import annotations

import re

import pytest

from ledgerlink import settings
from ledgerlink.store.tables import TABLE_ENV

from tests.infra.template_queries import function_names, of_type, output_target, ref, table_ids

POWERTOOLS_AND_STAGE = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
                        settings.STAGE}
FUNCTION_NAMES = tuple(settings.FUNCTION_SETTINGS)
SIZING = {"ingest": (256, 10), "normalize": (512, 120), "reconcile": (512, 300), "bank_file": (512, 60),
          "poll": (256, 120), "ops": (512, 30), "flush": (512, 300), "master_data": (256, 60),
          "revenue_release": (1024, 900), "console": (1024, 30)}
SECRET_LOOKING = re.compile(r"whsec_|sk_(live|test)_|secretsmanager|-----BEGIN|password|AKIA[0-9A-Z]{16}", re.I)


@pytest.fixture(scope="module")
def functions(assembly):
    names = function_names(assembly.template, assembly.assets, assembly.outdir)
    return {name: assembly.resources[lid]["Properties"] for name, lid in names.items()}


def test_every_function_folder_is_deployed_from_its_own_asset(functions):
    # Given the synthesized stack, When functions are matched to their staged code,
    # Then each functions/<name>/handler.py is exactly one Lambda.
    assert set(functions) == set(FUNCTION_NAMES)


def test_function_assets_contain_only_the_handler(assembly):
    code_assets = [asset for asset in assembly.assets["files"].values()
                   if (assembly.outdir / asset["source"]["path"] / "handler.py").is_file()]
    assert len(code_assets) == len(FUNCTION_NAMES)
    for asset in code_assets:
        directory = assembly.outdir / asset["source"]["path"]
        assert sorted(p.name for p in directory.rglob("*")) == ["handler.py"], asset["displayName"]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_runtime_architecture_tracing_and_json_logs(functions, name):
    props = functions[name]
    assert props["Handler"] == "handler.handler"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]  # cdk.json default
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert len(props["Layers"]) == 1


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_environment_is_exactly_the_settings_class_plus_powertools_and_stage(functions, name):
    environment = functions[name]["Environment"]["Variables"]
    expected = settings.all_env(settings.FUNCTION_SETTINGS[name]) | POWERTOOLS_AND_STAGE
    assert set(environment) == expected
    assert settings.required_env(settings.FUNCTION_SETTINGS[name]) <= set(environment)
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "LedgerLink"
    assert environment[settings.STAGE] == "dev"


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_no_environment_value_is_or_points_at_a_secret(template, functions, name):
    secrets = set(of_type(template, "AWS::SecretsManager::Secret"))
    for variable, value in functions[name]["Environment"]["Variables"].items():
        text = ref(value)
        assert not SECRET_LOOKING.search(text), (variable, text)
        assert not any(secret in text for secret in secrets), (variable, text)
        assert "{{resolve:" not in text, (variable, text)


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_environment_values_name_the_right_resources(template, functions, name):
    tables = table_ids(template)
    environment = functions[name]["Environment"]["Variables"]
    for table, variable in TABLE_ENV.items():
        if variable in environment:
            assert ref(environment[variable]) == tables[table], variable
    targets = {settings.ARCHIVE_BUCKET: output_target(template, "ArchiveBucketName"),
               settings.INBOUND_QUEUE_URL: output_target(template, "InboundQueueUrl"),
               settings.STATE_MACHINE_ARN: output_target(template, "StateMachineArn")}
    for variable, target in targets.items():
        if variable in environment:
            assert ref(environment[variable]) == target, variable
    if settings.BOOKS_URI in environment:
        books = output_target(template, "BooksBucketName")
        assert ref(environment[settings.BOOKS_URI]) == f"s3://{books}/books"


def test_memory_and_timeouts(functions):
    for name, (memory, timeout) in SIZING.items():
        assert (functions[name]["MemorySize"], functions[name]["Timeout"]) == (memory, timeout)
    for name in set(FUNCTION_NAMES) - set(SIZING):
        assert functions[name]["MemorySize"] == 256
        assert 30 <= functions[name]["Timeout"] <= 60


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_each_function_logs_to_its_own_encrypted_log_group_with_retention(template, functions, name):
    log_group = template["Resources"][ref(functions[name]["LoggingConfig"]["LogGroup"])]["Properties"]
    assert log_group["RetentionInDays"] == 30  # dev; prod keeps a year
    assert ref(log_group["KmsKeyId"]) in of_type(template, "AWS::KMS::Key")
    others = [ref(props["LoggingConfig"]["LogGroup"]) for other, props in functions.items() if other != name]
    assert ref(functions[name]["LoggingConfig"]["LogGroup"]) not in others


def test_every_log_group_has_retention_and_the_data_key(template):
    keys = set(of_type(template, "AWS::KMS::Key"))
    for lid, log_group in of_type(template, "AWS::Logs::LogGroup").items():
        assert log_group["Properties"].get("RetentionInDays"), lid
        assert ref(log_group["Properties"].get("KmsKeyId")) in keys, lid
