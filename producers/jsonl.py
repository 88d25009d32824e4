"""Publishing events given as JSON lines (``hubbub produce FILE.jsonl``).

Each line is one event as ``schemas.codec.to_json`` writes it: ``{"type": "CommentPosted", ...}``.
A line that is not valid JSON, names an unknown type or breaks the event's contract is reported
with its line number and reason; every other line is still published. Blank lines and lines
starting with ``#`` are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from producers.publisher import Publisher
from schemas.codec import from_json
from schemas.errors import HubbubError, PublishFailed
from schemas.events import Event

_BATCH = 5_000


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


@dataclass
class ProduceReport:
    """What happened to a file: published, rejected lines, and events the broker did not take."""

    published: int = 0
    rejected: list[LineError] = field(default_factory=list)
    unsent: list[tuple[str, str]] = field(default_factory=list)
    unsent_cause: str = ""

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.unsent


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, Event | LineError]]:
    """Yield (line number, event or the reason the line was rejected), 1-based."""
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, LineError(number, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield number, LineError(number, 'expected a JSON object with a "type" field')
            continue
        try:
            yield number, from_json(obj)
        except HubbubError as exc:
            yield number, LineError(number, str(exc))


def produce_lines(
    lines: Iterable[str],
    publisher: Publisher,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> ProduceReport:
    """Publish every valid line; report rejected lines and anything the broker did not take."""
    report = ProduceReport()
    sent = since_flush = 0
    for _number, item in parse_lines(lines):
        if isinstance(item, LineError):
            report.rejected.append(item)
        else:
            publisher.publish(item)
            sent += 1
            since_flush += 1
        if on_progress is not None:
            on_progress(1)
        if since_flush >= _BATCH:
            _flush(publisher, report)
            since_flush = 0
    _flush(publisher, report)
    report.published = sent - len(report.unsent)
    return report


def _flush(publisher: Publisher, report: ProduceReport) -> None:
    try:
        publisher.flush()
    except PublishFailed as exc:
        report.unsent.extend(exc.unsent)
        report.unsent_cause = exc.cause
