"""Parsing of @mentions and #hashtags out of post and comment text.

Both parsers are pure, total (any ``str`` in, never raise) and deterministic: the same text always
gives the same list, in first-seen order, without duplicates.

Mentions
    ``@handle`` where ``handle`` is ``[A-Za-z0-9][A-Za-z0-9_.-]{0,63}``: the catalogue's user
    id format narrowed to the characters people type in a handle (``:`` and ``@`` are legal in
    ids but would swallow punctuation such as "cc @ana: look" and e-mail addresses). The ``@``
    must not follow a word character or another ``@``, so ``ana@example.com`` and ``@@ana``
    mention nobody. Trailing ``.`` and ``-`` are stripped ("thanks @ana." mentions ``ana``). A
    handle that runs on into further word characters (``@anaé``) or is longer than 64
    characters mentions nobody rather than a truncated stranger. Case is preserved: ids are
    case-sensitive in the catalogue, so ``@Ana`` and ``@ana`` are different users (both are
    returned if both appear).

Hashtags
    ``#`` then an ASCII letter then ``[A-Za-z0-9_]{0,99}``. The ``#`` must not follow a word
    character (URL fragments such as ``page#intro``), ``&`` (HTML entities such as ``&#39;``)
    or another ``#``. A tag that runs on into further word characters (``#café``) or is longer
    than 100 characters is not a tag. Tags are folded to lowercase, so ``#Launch`` and
    ``#launch`` are one.
"""

from __future__ import annotations

import re

__all__ = ["HANDLE_MAX", "HASHTAG_MAX", "hashtags", "mentions"]

HANDLE_MAX = 64
HASHTAG_MAX = 100

# Possessive quantifiers (``*+``) stop the engine from backtracking into a shorter handle when the
# lookahead fails: "@anaé" must yield nothing, not "an".
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9_.-]*+)(?!\w)")
_HASHTAG = re.compile(r"(?<![\w&#])#([A-Za-z][A-Za-z0-9_]*+)(?!\w)")


def mentions(text: str) -> list[str]:
    """Return the distinct handles @mentioned in ``text``, case preserved, in first-seen order."""
    found: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".-")
        if handle and len(handle) <= HANDLE_MAX:
            found.setdefault(handle, None)
    return list(found)


def hashtags(text: str) -> list[str]:
    """Return the distinct hashtags in ``text`` (without ``#``), lowercased, in first-seen order."""
    found: dict[str, None] = {}
    for match in _HASHTAG.finditer(text):
        tag = match.group(1)
        if len(tag) <= HASHTAG_MAX:
            found.setdefault(tag.lower(), None)
    return list(found)
