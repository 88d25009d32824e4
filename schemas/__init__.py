"""Hubbub's contracts: the typed events, their Avro schemas and the wire codec.

Import what you need from the submodules: ``schemas.events`` (the event classes, ``EVENT_TYPES``,
``stable_event_id``), ``schemas.codec`` (``encode``/``decode``, headers, JSON), ``schemas.errors``
(the exception tree), ``schemas.compat`` (schema-evolution checks), ``schemas.registry`` (the
``.avsc`` files). This file imports nothing, so ``infra`` can use ``schemas.errors`` cheaply.
"""
