"""Load the YAML config file with errors that name the field *and the file line*.

PyYAML's node tree keeps the position of every key and value; pydantic's error locations are mapped
back onto it, so ``entities.0.time_zone`` becomes ``config.yaml:12: entities[0].time_zone: unknown
IANA time zone 'Europe/Pariss'`` instead of a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import ConfigError


def _line_index(node: Any, path: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> None:
    import yaml

    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[(*path, key)] = key_node.start_mark.line + 1
            _line_index(value_node, (*path, key), index)
            index[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, (*path, position), index)


def _nearest_line(loc: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> int | None:
    path = tuple(loc)
    while path:
        if path in index:
            return index[path]
        path = path[:-1]
    return index.get(())


def _clean_loc(loc: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """Drop the discriminator/validator tags pydantic inserts into locations (they are not YAML keys)."""
    cleaned: list[Any] = []
    for position, part in enumerate(loc):
        if (*cleaned, part) in index or position == len(loc) - 1:
            cleaned.append(part)
    return tuple(cleaned)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _unbuildable_scalar(root: Any, origin: str, error: Exception) -> str:
    """``file:line: path: not a valid date '2026-13-45' (month must be in 1..12)`` for the first timestamp-looking
    scalar PyYAML cannot construct."""
    import yaml

    loader = yaml.SafeLoader("")
    stack: list[tuple[Any, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop(0)
        if isinstance(node, yaml.MappingNode):
            stack[:0] = [(value, (*path, key.value)) for key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            stack[:0] = [(item, (*path, position)) for position, item in enumerate(node.value)]
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                loader.construct_yaml_timestamp(node)
            except (ValueError, TypeError, OverflowError) as exc:
                return (f"{origin}:{node.start_mark.line + 1}: {_format_loc(path)}: not a valid date or time "
                        f"{node.value!r} ({exc}); dates are YYYY-MM-DD")
    return f"{origin}: a value cannot be read: {error}"


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of ``loc`` (``("account_mappings", 3, "accounts", "recievable")``) in the YAML ``text``."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    index: dict[tuple[Any, ...], int] = {}
    if root is not None:
        _line_index(root, (), index)
    return _nearest_line(tuple(loc), index)


def parse_config_text(text: str, origin: str = "<config>") -> LedgerLinkConfig:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark else origin
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # a scalar YAML resolves as a timestamp but cannot build (2026-13-45): PyYAML raises a bare ValueError
        raise ConfigError(_unbuildable_scalar(root, origin, exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the config must be a YAML mapping at the top level")
    index: dict[tuple[Any, ...], int] = {}
    _line_index(root, (), index)
    try:
        return LedgerLinkConfig.model_validate(data)
    except ValidationError as exc:
        messages = []
        for error in exc.errors(include_url=False):
            base = _clean_loc(tuple(error["loc"]), index)
            problems = (error.get("ctx") or {}).get("problems") or [((), error["msg"])]
            for sub_loc, message in problems:
                loc = (*base, *sub_loc)
                line = _nearest_line(loc, index)
                where = f"{origin}:{line}" if line else origin
                messages.append(f"{where}: {_format_loc(loc)}: {message.removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages), errors=messages) from None


def load_config_file(path: str | Path) -> LedgerLinkConfig:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    return parse_config_text(text, origin=str(file))


def config_hash(config: LedgerLinkConfig) -> str:
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def config_json_schema() -> dict[str, Any]:
    schema = LedgerLinkConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "LedgerLink configuration"
    return schema
