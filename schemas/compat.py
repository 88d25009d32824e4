"""Can a reader schema read data written with a writer schema? Avro schema resolution, as a checker.

``read_problems(reader, writer)`` walks both schemas the way an Avro reader resolves data and
returns every reason the reader would fail, as human-readable lines naming the path
(``Record.field``, ``[]`` for array items, ``{}`` for map values, ``<type>`` for a union branch).
An empty list means every datum the writer can produce is readable. Rules (Avro specification,
"Schema Resolution"):

- records: same unqualified name (or a reader alias); a reader field missing from the writer needs a
  default, and the default must fit the field's type (for a union, its first branch); writer fields
  the reader lacks are skipped; matching fields are resolved recursively (fields match by name or
  by a reader field alias).
- enums: same name; every writer symbol must be a reader symbol, unless the reader has a default.
- fixed: same name and size. arrays: items resolve. maps: values resolve.
- primitives: equal, or a promotion: int -> long/float/double, long -> float/double,
  float -> double, string <-> bytes. Logical types do not affect resolution.
- unions: a writer union needs each branch readable; a reader union needs a branch that matches the
  writer (the first of the same type and name, else the first the writer promotes to).

Schemas are JSON values as loaded from ``.avsc`` files (not fastavro's parsed form).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
# (writer type, reader type) pairs a reader may widen.
PROMOTIONS = frozenset(
    {
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    }
)


def _full_name(node: dict[str, Any], namespace: str) -> tuple[str, str]:
    """(full name, namespace for names nested inside) of a named type definition."""
    name = str(node["name"])
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    space = node.get("namespace", namespace) or ""
    return (f"{space}.{name}" if space else name), space


class _Names:
    """The named types one schema defines, so references by name can be followed."""

    def __init__(self, schema: Any) -> None:
        self.types: dict[str, tuple[dict[str, Any], str]] = {}
        self._collect(schema, "")

    def _collect(self, node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for branch in node:
                self._collect(branch, namespace)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in NAMED:
                full, inner = _full_name(node, namespace)
                self.types[full] = (node, inner)
                for field in node.get("fields", ()) if kind in ("record", "error") else ():
                    self._collect(field["type"], inner)
            elif kind == "array":
                self._collect(node["items"], namespace)
            elif kind == "map":
                self._collect(node["values"], namespace)
            elif isinstance(kind, dict | list):
                self._collect(kind, namespace)

    def resolve(self, node: Any, namespace: str) -> tuple[str, Any, str]:
        """(kind, definition, namespace): kind is a primitive, a complex type or "union"."""
        if isinstance(node, list):
            return "union", node, namespace
        if isinstance(node, str):
            if node in PRIMITIVES:
                return node, node, namespace
            for candidate in (f"{namespace}.{node}" if namespace else node, node):
                if candidate in self.types:
                    definition, inner = self.types[candidate]
                    return str(definition["type"]), definition, inner
            return "unknown", node, namespace
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in PRIMITIVES:
                return str(kind), kind, namespace
            if kind in NAMED:
                _, inner = _full_name(node, namespace)
                return str(kind), node, inner
            if kind in ("array", "map"):
                return str(kind), node, namespace
            return self.resolve(kind, namespace)
        return "unknown", node, namespace


def _short(name: Any) -> str:
    return str(name).rsplit(".", 1)[-1]


def _describe(kind: str, node: Any) -> str:
    if kind in ("record", "error", "enum", "fixed"):
        return f"{kind} {_short(node['name'])}"
    return kind


class _Checker:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.readers = _Names(reader)
        self.writers = _Names(writer)
        self.problems: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def check(self, reader: Any, r_ns: str, writer: Any, w_ns: str, path: str) -> None:
        r_kind, r_node, r_ns = self.readers.resolve(reader, r_ns)
        w_kind, w_node, w_ns = self.writers.resolve(writer, w_ns)
        if "unknown" in (r_kind, w_kind):
            side, node = ("reader", r_node) if r_kind == "unknown" else ("writer", w_node)
            self.problems.append(f"{path}: {side} type {node!r} is not defined")
            return
        if w_kind == "union":
            for branch in w_node:
                b_kind, b_node, _ = self.writers.resolve(branch, w_ns)
                self.check(r_node, r_ns, branch, w_ns, f"{path}<{_describe(b_kind, b_node)}>")
            return
        if r_kind == "union":
            self._check_reader_union(r_node, r_ns, w_kind, w_node, w_ns, writer, path)
            return
        if r_kind != w_kind:
            if (w_kind, r_kind) not in PROMOTIONS:
                self.problems.append(
                    f"{path}: writer {_describe(w_kind, w_node)} cannot be read as "
                    f"{_describe(r_kind, r_node)}"
                )
            return
        if r_kind in ("record", "error"):
            self._check_record(r_node, r_ns, w_node, w_ns, path)
        elif r_kind == "enum":
            self._check_enum(r_node, w_node, path)
        elif r_kind == "fixed":
            self._check_name(r_node, w_node, path)
            if r_node.get("size") != w_node.get("size"):
                self.problems.append(
                    f"{path}: fixed size {w_node.get('size')} written, {r_node.get('size')} read"
                )
        elif r_kind == "array":
            self.check(r_node["items"], r_ns, w_node["items"], w_ns, f"{path}[]")
        elif r_kind == "map":
            self.check(r_node["values"], r_ns, w_node["values"], w_ns, f"{path}{{}}")

    def _check_reader_union(
        self,
        branches: list[Any],
        r_ns: str,
        w_kind: str,
        w_node: Any,
        w_ns: str,
        writer: Any,
        path: str,
    ) -> None:
        resolved = [(b, *self.readers.resolve(b, r_ns)) for b in branches]
        same = [
            b
            for b, kind, node, _ in resolved
            if kind == w_kind and (kind not in NAMED or self._names_match(node, w_node))
        ]
        promoted = [b for b, kind, _, _ in resolved if (w_kind, kind) in PROMOTIONS]
        if not same and not promoted:
            self.problems.append(
                f"{path}: writer {_describe(w_kind, w_node)} matches no branch of the reader union"
            )
            return
        self.check((same or promoted)[0], r_ns, writer, w_ns, path)

    def _names_match(self, reader: dict[str, Any], writer: dict[str, Any]) -> bool:
        wanted = _short(writer["name"])
        aliases = {_short(a) for a in reader.get("aliases", ())}
        return _short(reader["name"]) == wanted or wanted in aliases

    def _check_name(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> bool:
        if self._names_match(reader, writer):
            return True
        self.problems.append(
            f"{path}: writer {writer['type']} {_short(writer['name'])} cannot be read as "
            f"{reader['type']} {_short(reader['name'])} (names differ and no alias)"
        )
        return False

    def _check_record(
        self, reader: dict[str, Any], r_ns: str, writer: dict[str, Any], w_ns: str, path: str
    ) -> None:
        if not self._check_name(reader, writer, path):
            return
        pair = (_full_name(reader, r_ns)[0], _full_name(writer, w_ns)[0])
        if pair in self._seen:  # a recursive type: this pair is already being checked
            return
        self._seen.add(pair)
        base = path if path else _short(reader["name"])
        written = {f["name"]: f for f in writer.get("fields", ())}
        for field in reader.get("fields", ()):
            names = [field["name"], *field.get("aliases", ())]
            source = next((written[n] for n in names if n in written), None)
            where = f"{base}.{field['name']}"
            if source is not None:
                self.check(field["type"], r_ns, source["type"], w_ns, where)
            elif "default" not in field:
                self.problems.append(
                    f"{where}: field is not in the writer schema and has no default "
                    "(add a default, or data written before the field existed cannot be read)"
                )
            else:
                reason = self._default_misfit(field["type"], r_ns, field["default"])
                if reason:
                    self.problems.append(f"{where}: default {field['default']!r} {reason}")

    def _check_enum(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        if not self._check_name(reader, writer, path):
            return
        symbols = set(reader.get("symbols", ()))
        missing = [s for s in writer.get("symbols", ()) if s not in symbols]
        if missing and "default" not in reader:
            self.problems.append(
                f"{path}: writer enum symbols {', '.join(missing)} are not in the reader enum "
                f"{_short(reader['name'])} and it has no default"
            )

    def _default_misfit(self, schema: Any, namespace: str, value: Any) -> str:
        """Why ``value`` is not a valid default for ``schema`` ("" when it is)."""
        kind, node, namespace = self.readers.resolve(schema, namespace)
        if kind == "union":
            return self._default_misfit(node[0], namespace, value) if node else "empty union"
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "null":
            fits = value is None
        elif kind == "boolean":
            fits = isinstance(value, bool)
        elif kind in ("int", "long"):
            fits = isinstance(value, int) and not isinstance(value, bool)
        elif kind in ("float", "double"):
            fits = number
        elif kind in ("bytes", "string"):
            fits = isinstance(value, str)
        elif kind == "fixed":
            fits = isinstance(value, str) and len(value) == node.get("size")
        elif kind == "enum":
            fits = value in node.get("symbols", ())
        else:
            fits = None
        if fits is not None:
            return "" if fits else f"does not fit type {_describe(kind, node)}"
        if kind == "array":
            if not isinstance(value, list):
                return "does not fit type array"
            for item in value:
                reason = self._default_misfit(node["items"], namespace, item)
                if reason:
                    return reason
            return ""
        if kind == "map":
            if not isinstance(value, dict):
                return "does not fit type map"
            for item in value.values():
                reason = self._default_misfit(node["values"], namespace, item)
                if reason:
                    return reason
            return ""
        if kind in ("record", "error"):
            if not isinstance(value, dict):
                return f"does not fit type {_describe(kind, node)}"
            for field in node.get("fields", ()):
                if field["name"] in value:
                    reason = self._default_misfit(field["type"], namespace, value[field["name"]])
                    if reason:
                        return reason
                elif "default" not in field:
                    return f"lacks field {field['name']} of record {_short(node['name'])}"
            return ""
        return f"has unknown type {node!r}"


def read_problems(reader: Any, writer: Any) -> list[str]:
    """Every reason ``reader`` cannot read data written with ``writer``; empty when it can."""
    checker = _Checker(reader, writer)
    checker.check(reader, "", writer, "", "")
    # A problem at the top of an unnamed schema has an empty path; say so rather than print ": ...".
    return [p if not p.startswith(":") else f"(root){p}" for p in checker.problems]


def can_read(reader: Any, writer: Any) -> bool:
    """Whether ``reader`` can read everything written with ``writer``."""
    return not read_problems(reader, writer)


def transitive_problems(reader: Any, writers: Iterable[tuple[str, Any]]) -> list[str]:
    """Backward-transitive check: problems of ``reader`` against each (label, writer) pair, each
    line prefixed with the writer's label (e.g. "v1")."""
    return [f"{label}: {p}" for label, writer in writers for p in read_problems(reader, writer)]


def history_problems() -> dict[str, list[str]]:
    """Problems of every current event schema against every released version of its type.

    Empty lists everywhere mean the build reads every message ever written. Intended for CI.
    """
    from schemas import registry
    from schemas.events import EVENT_TYPES

    out: dict[str, list[str]] = {}
    for event_type in EVENT_TYPES:
        current = registry.current(event_type).schema
        out[event_type] = transitive_problems(
            current, ((f"v{v.version}", v.schema) for v in registry.history(event_type))
        )
    return out
