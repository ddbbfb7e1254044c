"""ledgerlink.settings: each function's settings class, read from the environment; shared fields declared once."""

from __future__ import annotations

import dataclasses

import pytest

from ledgerlink import settings
from ledgerlink.errors import ConfigError

GROUPS = (settings._ConfigReader, settings._Inbound, settings._Intake, settings._Outcomes, settings._ErpTargets)


@pytest.mark.parametrize("name", sorted(settings.FUNCTION_SETTINGS))
def test_settings_are_frozen_slotted_and_read_from_their_variables(name):
    cls = settings.FUNCTION_SETTINGS[name]
    environ = {variable: "7" for variable in settings.all_env(cls)}
    read = settings.read_settings(cls, environ)
    assert not hasattr(read, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.__setattr__(dataclasses.fields(cls)[0].name, "x")
    for item in dataclasses.fields(cls):
        assert getattr(read, item.name) == (7 if item.type == "int" else "7")


def test_a_missing_variable_is_named_and_an_empty_one_takes_the_default():
    with pytest.raises(ConfigError, match="ExceptionSettings: missing environment variables: "):
        settings.read_settings(settings.ExceptionSettings, {settings.LEDGER_TABLE: "l"})
    read = settings.read_settings(settings.ExceptionSettings, {
        settings.LEDGER_TABLE: "l", settings.TOTALS_TABLE: "t", settings.EXCEPTIONS_TABLE: "e",
        settings.EVENT_BUS_NAME: ""})
    assert (read.ledger_table, read.totals_table, read.exceptions_table, read.event_bus_name) == ("l", "t", "e",
                                                                                                  "default")


def test_a_shared_field_is_declared_once_in_its_group():
    for cls in {*settings.FUNCTION_SETTINGS.values(), *GROUPS}:
        own = set(cls.__dict__.get("__annotations__", {}))
        inherited = {f.name for base in cls.__mro__[1:] if dataclasses.is_dataclass(base)
                     for f in dataclasses.fields(base)}
        assert not own & inherited, (cls.__name__, own & inherited)
