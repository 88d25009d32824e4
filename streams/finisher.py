"""Finishing an agent's batches in order: output acknowledged, then state saved, then offsets.

See the ordering in ``streams.app``'s docstring: this is steps 4 and 5.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from faust.types import EventT


async def send_changelog(
    table: Any, saves: dict[bytes, bytes], partitions: dict[bytes, int], producer: Any
) -> list[Awaitable[Any]]:
    """Send each changed key's state to the table's changelog; return the acknowledgements.

    Faust's own table write queues the changelog record in a buffer that its offset commit does
    not reliably drain (the drain gives up after 0.1 s), so a worker killed at the wrong moment
    could commit offsets whose state was never written: seen as a replay that differed from an
    undisturbed run. Here the record is sent directly, to the partition of the key's source
    records (the partition table recovery reads it from), and the batch's source events are
    acknowledged only once Kafka has them all (``Finisher``).
    """
    changelog = table.changelog_topic.get_topic_name()
    return [
        await producer.send(changelog, key, value, partitions[key], None, None)
        for key, value in saves.items()
    ]


class Finisher:
    """Completes an agent's batches in order while the agent goes on with the next one.

    For each batch, in the order they were processed: wait for its output's acknowledgements,
    then send its changed states to the changelog and wait for those, then acknowledge its
    source events to Faust (which may then commit their offsets). So at any moment the
    committed offsets are behind the saved states, which are behind the acknowledged output:
    the order that makes a crash harmless (module docstring). Processing of the next batch
    overlaps these waits; it reads the states from the local store, which is updated at once.
    At most ``depth`` batches wait to finish; beyond that the agent waits (backpressure).
    A failure (the broker refusing, a timeout) is raised into the agent, which stops.
    """

    def __init__(self, stream: Any, producer: Any, table: Any, *, depth: int = 2) -> None:
        self.stream, self.producer, self.table, self.depth = stream, producer, table, depth
        self.pending: list[asyncio.Task[None]] = []

    async def add(
        self,
        output_acks: list[Awaitable[Any]],
        saves: dict[bytes, bytes],
        partitions: dict[bytes, int],
        batch: Sequence[EventT[bytes]],
    ) -> None:
        previous = self.pending[-1] if self.pending else None

        async def finish() -> None:
            if previous is not None:
                await previous
            if output_acks:
                await asyncio.gather(*output_acks)
            saved = await send_changelog(self.table, saves, partitions, self.producer)
            if saved:
                await asyncio.gather(*saved)
            for event in batch:
                await self.stream.ack(event)

        self.pending.append(asyncio.ensure_future(finish()))
        await self.settle(self.depth)

    async def settle(self, depth: int = 0) -> None:
        """Wait until at most ``depth`` batches are unfinished; raise the first failure."""
        while self.pending and (len(self.pending) > depth or self.pending[0].done()):
            await self.pending.pop(0)
