"""Machine spam scoring of posts and comments: explainable features, one number, one threshold.

``score`` adds up the weights of the features a text shows and maps the total ``t`` to
``1 - exp(-t)`` in [0, 1): one strong feature alone stays below the threshold, two together (or
one overwhelming one) cross it. ``THRESHOLD`` is 0.5 (a total of ln 2, about 0.69).

Features (each named in ``SpamScore.reasons`` when it fires):

- promotional phrasing: a lexicon of lead-selling and multi-level-marketing terms ("mlm",
  "downline", "network marketing", "free leads"), income offers ("passive income", "work from
  home", "$500 a day"), calls to action ("click here", "buy now", "visit my site") and the usual
  verticals (casino, payday loans, pills). Each entry counts once, however often it recurs.
- links: every URL adds weight (up to three), and a text that is mostly links adds more.
- contact details: phone numbers, e-mail addresses, messenger handles ("whatsapp me").
- shouting: mostly capital letters over at least 20 letters; runs of "!!".
- repetition: one word making up a quarter or more of a text of at least 12 words.
- authorship: an author with earlier accepted contributions has the total damped (halved after
  two, a third after four); a first-time author gets no bonus either way.

Calibrated on the shared reference thread: its two multi-level-marketing comments score above the
threshold (0.92 and 0.59); the post and the seven genuine comments score 0. The lexicon is English
and blunt: a genuine comment *about* MLM that uses two of its terms is flagged, which is why a
person's "ham" verdict always overrides the machine.

``machine_verdict_for`` turns a score into the machine's ``ModerationVerdict`` event with a
deterministic id, so scoring again on replay yields the same event and the thread state drops it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.events import (
    REASON_MAX,
    REASONS_MAX_ITEMS,
    ModerationVerdict,
    Verdict,
    stable_event_id,
)
from streams.domain.threads import ThreadObject

__all__ = [
    "MACHINE_ACTOR",
    "SCORER_VERSION",
    "THRESHOLD",
    "SpamScore",
    "is_spam",
    "machine_verdict_for",
    "score",
]

SCORER_VERSION = "lexicon-1"
"""Changes whenever features or weights change; verdict ids include it, so a new scorer
re-judges everything."""
THRESHOLD = 0.5
MACHINE_ACTOR = "hubbub-spam-scorer"
"""The ``actor`` of machine verdicts (a reserved user id)."""
_ID_NAMESPACE = "hubbub-spam"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SpamScore:
    """``score`` in [0, 1] (rounded to 4 places) and the features that raised it, strongest
    first."""

    score: float
    reasons: tuple[str, ...]


def _terms(weight: float, *patterns: str) -> list[tuple[re.Pattern[str], float]]:
    return [(re.compile(rf"\b{p}\b", re.IGNORECASE), weight) for p in patterns]


# (pattern, weight); a pattern's text (without the \b anchors) is its name in the reasons.
_LEXICON: list[tuple[re.Pattern[str], float]] = [
    *_terms(0.5, "mlm", "multi[- ]?level marketing", "downlines?", "pyramid scheme"),
    *_terms(
        0.4,
        "network marketing",
        "attraction marketing",
        r"(?:free|qualified|targeted|fresh|guaranteed)(?:\s+\w+)?\s+(?:leads|sign-?ups)",
        "make (?:real |easy |extra )?money",
        "(?:passive|residual|extra) income",
        "work(?:ing)? from home",
        "financial freedom",
        "be your own boss",
        "get rich",
        "earn (?:up to )?[$€£]?\\d+",
        "casino",
        "payday loans?",
        "viagra|cialis",
        "forex signals",
    ),
    *_terms(
        0.3,
        "click here",
        "(?:visit|check out) (?:my|our) (?:site|website|blog|page|profile|link)",
        "(?:buy|order|call|act|join|sign up) (?:now|today)",
        "limited[- ]time (?:offer|only)",
        "join my team",
        "no experience (?:needed|required)",
        "risk[- ]free",
        "free trial",
        "\\d{1,3}% off",
    ),
    *_terms(0.15, "guaranteed", "sign-?ups", "opportunity", "discount"),
]
# Every lexicon pattern in one: a text none of them matches (most texts) is scanned once, not
# once per pattern. A text it matches goes through the patterns one by one as before.
_ANY_TERM = re.compile("|".join(f"(?:{p.pattern})" for p, _ in _LEXICON), re.IGNORECASE)
# That scan tries every alternative at every position (37 of the scorer's 69 us per text), so
# it runs only on texts that hold a trigger: every match of a lexicon pattern contains one of
# these words as a whole run of letters and digits, or one of the substrings ("\bviagra|cialis\b"
# is anchored at one end only). Texts are case-folded with the two dotted/dotless i forms mapped
# to "i", so every character IGNORECASE matches to an ASCII letter becomes that letter.
_TRIGGER_WORDS = frozenset(
    "mlm marketing downline downlines pyramid leads sign signups money income home freedom boss "
    "rich earn casino payday forex click visit check now today limited team experience risk "
    "trial off guaranteed opportunity discount".split()
)
_TRIGGER_SUBSTRINGS = ("viagra", "cialis")
_TOKEN = re.compile(r"[^\W_]+")
_MONEY = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?(?:k\b)?\s*(?:a|per|/)\s*(?:day|week|month)", re.I)
_URL = re.compile(r"(?:\bhttps?://|\bwww\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ()./-]{7,}\d(?!\w)")
_MESSENGER = re.compile(
    r"\b(?:whats ?app|telegram|wechat|signal) (?:me|us)\b|\b(?:dm|text|call) me\b", re.I
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_STOPWORDS = frozenset(
    "the a an and or but of to in on at for with is are was were be been it its this that "
    "i you he she we they me my your our their not no so as if by from".split()
)


def _may_promote(text: str) -> bool:
    """False only when no lexicon pattern can match ``text`` (see ``_TRIGGER_WORDS``)."""
    folded = text.casefold().replace("i\u0307", "i").replace("\u0131", "i")
    if any(s in folded for s in _TRIGGER_SUBSTRINGS):
        return True
    return not _TRIGGER_WORDS.isdisjoint(_TOKEN.findall(folded))


def score(text: str, *, title: str = "", author_seen_before: int = 0) -> SpamScore:
    """Score ``title`` and ``text`` together. Total, pure and deterministic; never raises.

    ``author_seen_before`` counts the author's earlier contributions that were not spam (the
    caller decides from what; it must be derived from the log for replays to agree).
    """
    full = f"{title}\n{text}" if title else text
    found: list[tuple[float, str]] = []

    if _may_promote(full) and _ANY_TERM.search(full):
        for pattern, weight in _LEXICON:
            match = pattern.search(full)
            if match:
                found.append((weight, f"promotional phrasing: {match.group(0).lower()!r}"))
    money = _MONEY.search(full)
    if money:
        found.append((0.4, f"money offer: {money.group(0)!r}"))

    words = _WORD.findall(full)
    links = len(_URL.findall(full))
    if links:
        found.append((0.2 * min(links, 3), f"{links} link(s)"))
        if len(words) < 12 * links:
            found.append((0.3, "mostly links"))

    contacts = [
        name
        for name, pattern in (("e-mail", _EMAIL), ("phone", _PHONE), ("messenger", _MESSENGER))
        if _has_contact(pattern, full)
    ]
    if contacts:
        found.append((0.35 * len(contacts), f"contact details: {', '.join(contacts)}"))

    letters = list(filter(str.isalpha, full))
    upper = sum(map(str.isupper, letters))
    if len(letters) >= 20 and upper >= 0.6 * len(letters):
        found.append((0.35, f"shouting: {round(100 * upper / len(letters))}% capitals"))
    if "!!!" in full or full.count("!!") >= 2:
        found.append((0.15, "repeated exclamation marks"))

    content = [w.lower() for w in words if len(w) >= 3 and w.lower() not in _STOPWORDS]
    if len(words) >= 12 and content:
        word, count = Counter(content).most_common(1)[0]
        if count >= 0.25 * len(words) and count >= 4:
            found.append((0.3, f"repetition: {word!r} {count} times"))

    total = sum(weight for weight, _ in found)
    if author_seen_before > 0:
        total /= 1 + 0.5 * min(author_seen_before, 4)
    found.sort(key=lambda item: -item[0])  # stable: equal weights keep feature order
    reasons = tuple(reason[:REASON_MAX] for _, reason in found[:REASONS_MAX_ITEMS])
    return SpamScore(round(1.0 - math.exp(-total), 4), reasons)


def _has_contact(pattern: re.Pattern[str], text: str) -> bool:
    if pattern is _EMAIL and "@" not in text:
        return False
    if pattern is _PHONE:
        if sum(map(str.isdigit, text)) < 9:  # cheap: no phone number without 9 digits
            return False
        # Dates, versions and years look like digit runs; a phone number has 9+ digits.
        return any(sum(c.isdigit() for c in m.group(0)) >= 9 for m in pattern.finditer(text))
    return pattern.search(text) is not None


def is_spam(result: SpamScore) -> bool:
    """True when ``result`` is at or above ``THRESHOLD``."""
    return result.score >= THRESHOLD


def machine_verdict_for(
    thread_object: ThreadObject,
    *,
    tenant: str,
    post_id: str,
    revision: int = 0,
    author_seen_before: int = 0,
) -> ModerationVerdict | None:
    """The machine's verdict event for ``thread_object`` if it has something new to say, else None.

    Says "spam" when the object scores at or above ``THRESHOLD`` and the machine has not already
    called it spam; says "ham" only to take back its own earlier "spam" (an edit cleaned the text).
    None for placeholders, deleted objects and texts that stay as the machine judged them.

    The event is deterministic: ``occurred_at`` is the object's creation time and the id is
    ``stable_event_id`` over the scorer version, tenant, object id, verdict, ``revision`` and a
    digest of the scored text. Scoring the same state again (on replay) gives the same event,
    which ``ThreadState.apply`` drops as a duplicate; an edit gets a fresh verdict. Pass the
    thread's ``seq`` as ``revision`` (it is identical on replay) so that text edited back to an
    earlier spam version is judged again rather than deduplicated against the old verdict.
    """
    if not thread_object.published or thread_object.deleted:
        return None
    result = score(
        thread_object.body, title=thread_object.title, author_seen_before=author_seen_before
    )
    verdict: Verdict = "spam" if is_spam(result) else "ham"
    if verdict == "spam" and thread_object.machine_verdict == "spam":
        return None
    if verdict == "ham" and thread_object.machine_verdict != "spam":
        return None
    digest = hashlib.sha256(f"{thread_object.title}\n{thread_object.body}".encode()).hexdigest()
    return ModerationVerdict(
        event_id=stable_event_id(
            _ID_NAMESPACE,
            SCORER_VERSION,
            tenant,
            thread_object.object_id,
            verdict,
            str(revision),
            digest,
        ),
        occurred_at=_EPOCH + timedelta(milliseconds=thread_object.created_ms),
        tenant=tenant,
        actor=MACHINE_ACTOR,
        post_id=post_id,
        object_id=thread_object.object_id,
        object_kind=thread_object.kind,
        verdict=verdict,
        source="machine",
        score=result.score,
        reasons=result.reasons,
    )
