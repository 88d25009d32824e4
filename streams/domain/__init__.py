"""Pure stream-processing logic: thread state, notification derivation, spam scoring, text parsing.

Imports only ``schemas`` and the standard library (no Kafka, Faust, ClickHouse or HTTP), so every
function here can be unit-tested on plain values and gives the same answer live and on replay.
"""
