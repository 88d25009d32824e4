"""Importers: turn outside text (exported blog threads) into catalogue events.

Importers are pure: they read text handed to them and return events; publishing them is the
caller's job (through ``producers``' publisher), so an import can be checked before it is sent.
"""
