"""The schema-resolution checker on hand-built changes, compatible and not."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastavro import parse_schema

from schemas import registry
from schemas.compat import can_read, read_problems, transitive_problems


def current(event_type: str) -> dict[str, Any]:
    return registry.current(event_type).schema


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in schema["fields"] if f["name"] == name)
    return found


def record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


# -- the three breaking changes the evolution suite must catch ------------------------------------


def test_new_field_without_default_is_incompatible() -> None:
    writer = current("PostPublished")
    reader = copy.deepcopy(writer)
    reader["fields"].append({"name": "language", "type": "string"})
    parse_schema(reader)  # a legal schema, just not a compatible one
    assert read_problems(reader, writer) == [
        "PostPublished.language: field is not in the writer schema and has no default "
        "(add a default, or data written before the field existed cannot be read)"
    ]
    reader["fields"][-1]["default"] = "en"
    assert read_problems(reader, writer) == []


def test_string_to_int_is_incompatible() -> None:
    writer = current("PostPublished")
    reader = copy.deepcopy(writer)
    field(reader, "title")["type"] = "int"
    field(reader, "title")["default"] = 0
    assert read_problems(reader, writer) == [
        "PostPublished.title: writer string cannot be read as int"
    ]


def test_removed_enum_symbol_is_incompatible() -> None:
    writer = current("ModerationVerdict")
    reader = copy.deepcopy(writer)
    field(reader, "verdict")["type"]["symbols"] = ["spam"]
    assert read_problems(reader, writer) == [
        "ModerationVerdict.verdict: writer enum symbols ham are not in the reader enum Verdict "
        "and it has no default"
    ]
    field(reader, "verdict")["type"]["default"] = "spam"
    assert read_problems(reader, writer) == []


def test_added_enum_symbol_is_compatible_for_the_reader() -> None:
    writer = current("ModerationVerdict")
    reader = copy.deepcopy(writer)
    field(reader, "source")["type"]["symbols"].append("community")
    assert can_read(reader, writer)
    assert read_problems(writer, reader) == [
        "ModerationVerdict.source: writer enum symbols community are not in the reader enum "
        "VerdictSource and it has no default"
    ]


def test_removed_field_is_compatible() -> None:
    writer = current("PostPublished")
    reader = copy.deepcopy(writer)
    reader["fields"] = [f for f in reader["fields"] if f["name"] != "title"]
    assert read_problems(reader, writer) == []


def test_changed_record_name_is_incompatible_unless_aliased() -> None:
    writer = current("PostDeleted")
    reader = copy.deepcopy(writer)
    reader["name"] = "PostRemoved"
    assert read_problems(reader, writer) == [
        "(root): writer record PostDeleted cannot be read as record PostRemoved "
        "(names differ and no alias)"
    ]
    reader["aliases"] = ["dev.hubbub.events.PostDeleted"]
    assert read_problems(reader, writer) == []


def test_renamed_field_reads_through_an_alias() -> None:
    writer = current("Followed")
    reader = copy.deepcopy(writer)
    field(reader, "followee")["name"] = "target"
    assert read_problems(reader, writer) == [
        "Followed.target: field is not in the writer schema and has no default "
        "(add a default, or data written before the field existed cannot be read)"
    ]
    field(reader, "target")["aliases"] = ["followee"]
    assert read_problems(reader, writer) == []


# -- primitives and promotions --------------------------------------------------------------------

PROMOTABLE = [
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
]
NOT_PROMOTABLE = [
    ("long", "int"),
    ("double", "float"),
    ("float", "long"),
    ("int", "string"),
    ("boolean", "int"),
    ("null", "string"),
    ("string", "int"),
]


@pytest.mark.parametrize(("writer", "reader"), PROMOTABLE)
def test_promotions(writer: str, reader: str) -> None:
    assert read_problems(reader, writer) == []
    assert read_problems({"type": reader}, {"type": writer}) == []


@pytest.mark.parametrize(("writer", "reader"), NOT_PROMOTABLE)
def test_non_promotions(writer: str, reader: str) -> None:
    assert read_problems(reader, writer) == [f"(root): writer {writer} cannot be read as {reader}"]


def test_logical_types_resolve_on_their_underlying_type() -> None:
    millis = {"type": "long", "logicalType": "timestamp-millis"}
    assert read_problems(millis, "long") == []
    assert read_problems("double", millis) == []
    assert read_problems({"type": "string", "logicalType": "uuid"}, "string") == []


# -- unions ---------------------------------------------------------------------------------------


def test_optional_writer_needs_an_optional_reader() -> None:
    assert read_problems("string", ["null", "string"]) == [
        "<null>: writer null cannot be read as string"
    ]
    assert read_problems(["null", "string"], "string") == []
    assert read_problems(["string", "null"], ["null", "string"]) == []


def test_reader_union_branch_by_promotion() -> None:
    assert read_problems(["null", "long"], "int") == []
    assert read_problems(["null", "string"], "boolean") == [
        "(root): writer boolean matches no branch of the reader union"
    ]


def test_union_to_union_reports_the_unreadable_branch() -> None:
    assert read_problems(["null", "string"], ["null", "string", "int"]) == [
        "<int>: writer int matches no branch of the reader union"
    ]


# -- nested types ---------------------------------------------------------------------------------


def test_nested_record_in_array_needs_defaults_too() -> None:
    item_v1 = record("Item", {"name": "id", "type": "string"})
    item_v2 = record("Item", {"name": "id", "type": "string"}, {"name": "qty", "type": "int"})
    writer = record("Order", {"name": "items", "type": {"type": "array", "items": item_v1}})
    reader = record("Order", {"name": "items", "type": {"type": "array", "items": item_v2}})
    assert read_problems(reader, writer) == [
        "Order.items[].qty: field is not in the writer schema and has no default "
        "(add a default, or data written before the field existed cannot be read)"
    ]
    item_v2["fields"][1]["default"] = 1
    assert read_problems(reader, writer) == []


def test_map_values_resolve() -> None:
    writer = {"type": "map", "values": "int"}
    assert read_problems({"type": "map", "values": "double"}, writer) == []
    assert read_problems({"type": "map", "values": "string"}, writer) == [
        "{}: writer int cannot be read as string"
    ]
    assert read_problems({"type": "array", "items": "int"}, writer) == [
        "(root): writer map cannot be read as array"
    ]


def test_named_references_and_namespaces_are_followed() -> None:
    kind = {"type": "enum", "name": "Kind", "symbols": ["a", "b"]}
    writer = record(
        "Pair",
        {"name": "first", "type": kind},
        {"name": "second", "type": "Kind"},
        namespace="x.y",
    )
    reader = copy.deepcopy(writer)
    reader["fields"][0]["type"]["symbols"] = ["a"]
    assert read_problems(reader, writer) == [
        "Pair.first: writer enum symbols b are not in the reader enum Kind and it has no default",
        "Pair.second: writer enum symbols b are not in the reader enum Kind and it has no default",
    ]


def test_fixed_needs_name_and_size() -> None:
    writer = {"type": "fixed", "name": "Hash", "size": 16}
    assert read_problems({"type": "fixed", "name": "Hash", "size": 16}, writer) == []
    assert read_problems({"type": "fixed", "name": "Hash", "size": 32}, writer) == [
        "(root): fixed size 16 written, 32 read"
    ]


def test_recursive_types_terminate() -> None:
    node = record(
        "Node",
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"], "default": None},
    )
    wider = copy.deepcopy(node)
    wider["fields"][0]["type"] = "long"
    assert read_problems(wider, node) == []
    assert read_problems(node, wider) == ["Node.value: writer long cannot be read as int"]


def test_undefined_reference_is_reported() -> None:
    assert read_problems(record("R", {"name": "x", "type": "Missing"}), record("R")) == [
        "R.x: field is not in the writer schema and has no default "
        "(add a default, or data written before the field existed cannot be read)"
    ]
    writer = record("R", {"name": "x", "type": "int"})
    assert read_problems(record("R", {"name": "x", "type": "Missing"}), writer) == [
        "R.x: reader type 'Missing' is not defined"
    ]


# -- defaults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "default", "fits"),
    [
        (["null", "string"], None, True),
        (["null", "string"], "x", False),
        (["string", "null"], "x", True),
        ("int", 1, True),
        ("int", True, False),
        ("double", 1, True),
        ("string", 1, False),
        ({"type": "array", "items": "string"}, [], True),
        ({"type": "array", "items": "string"}, [1], False),
        ({"type": "map", "values": "int"}, {"a": 1}, True),
        ({"type": "enum", "name": "E", "symbols": ["a"]}, "b", False),
        (record("Inner", {"name": "a", "type": "int"}), {"a": 1}, True),
        (record("Inner", {"name": "a", "type": "int"}), {}, False),
    ],
)
def test_added_field_default_must_fit(schema: Any, default: Any, fits: bool) -> None:
    writer = record("R")
    reader = record("R", {"name": "added", "type": schema, "default": default})
    problems = read_problems(reader, writer)
    assert (problems == []) is fits
    if not fits:
        assert len(problems) == 1
        assert problems[0].startswith(f"R.added: default {default!r} ")


def test_transitive_problems_label_each_writer() -> None:
    v1 = record("R", {"name": "a", "type": "int"})
    v2 = record("R", {"name": "a", "type": "long"})
    v3 = record("R", {"name": "a", "type": "int"})
    assert transitive_problems(v3, [("v1", v1), ("v2", v2)]) == [
        "v2: R.a: writer long cannot be read as int"
    ]
