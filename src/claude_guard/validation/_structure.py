"""Structure: role markup that starts a turn, and URLs judged by what they carry.

- Role markers count only where they start a turn-like structure. ``Human:`` / ``Assistant:`` at the start
  of a line score high when two different roles alternate (a forged conversation) and low alone (a novel's
  transcript with one ``Human:`` line passes). XML-style role tags (``<system>``, ``</user>``) score high at a
  line start or when one closes and another opens, low in the middle of a sentence. Markdown role headers
  (``### System:``, ``**System:**``, ``[SYSTEM]:``) count at a line start only.
- URLs are judged by their path and query, not by having a query string: a template slot (``{chat}``,
  ``[DATA]``, ``$SECRET``, ``%7B…``), data-looking payload (base64 or hex that decodes to text, a long
  sentence in a parameter), or a parameter or path naming conversation data. A markdown image or an HTML
  resource is fetched without a click, so it scores higher than a bare URL. README badges
  (``img.shields.io/badge/build-passing-green?style=flat``) and ordinary image URLs carry none of these.

Every search here is a single regular expression pass with bounded repeats, or a literal scan.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ._config import WorkMeter

__all__ = ["StructureFinding", "find_role_markers", "find_url_exfiltration"]


@dataclass(frozen=True, slots=True)
class StructureFinding:
    """A structural finding (positions in the text it was found in)."""

    rule_id: str
    score: float
    start: int
    end: int
    reasons: tuple[str, ...]


_ROLE_WORDS: Final = (
    "human",
    "assistant",
    "user",
    "system",
    "developer",
    "admin",
    "new instructions",
    "instructions",
    " ai",
)
_SPEAKERS: Final = frozenset({"human", "user"})
_ANSWERERS: Final = frozenset({"assistant", "ai"})
_HEADER_ROLES: Final = frozenset({"system", "developer", "admin", "instructions", "new instructions"})
_ROLE_TAG: Final = re.compile(
    r"<(/?)(system|system_prompt|system-prompt|sys|instructions|admin|developer|assistant|user|human|"
    r"im_system|new_instructions|override)(?: [a-z_\-]{1,20}=\"[^\"\n]{0,40}\")?>"
)
_AFTER: Final = re.compile(r"(?: prompt| message| override| note| update)?(\*\*|\]| ===| ---)? ?(:)?(\*\*)?")
_MAX_ROLE_WORDS: Final = 256


def _occurrences(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for word in _ROLE_WORDS:
        index = text.find(word)
        while index >= 0 and len(found) < _MAX_ROLE_WORDS:
            found.append((index + (1 if word == " ai" else 0), word.strip()))
            index = text.find(word, index + 1)
    found.sort()
    return found


_MATERIAL: Final = re.compile(
    r"\b(?:transcripts?|chat ?logs?|logs?|dialogues?|dialogs?|conversations?|scripts?|screenplay|scene|"
    r"excerpts?|interviews?|examples?|samples?|exchange|story)\b"
)


def _introduced(text: str, start: int) -> bool:
    """Whether the line before ``start`` introduces quoted material ("Transcript of the call:")."""
    line_end = text.rfind("\n", 0, start)
    if line_end <= 0:
        return False
    line = text[text.rfind("\n", 0, line_end) + 1 : line_end].rstrip()
    return line.endswith(":") and len(line) <= 200 and _MATERIAL.search(line) is not None


_HEADING: Final = re.compile(r"^#{1,6} ([^\W\d_][^\n:]{0,80})$", re.MULTILINE)
_ROLE_TITLES: Final = frozenset(
    (*_HEADER_ROLES, *_SPEAKERS, *_ANSWERERS, "system prompt", "new instructions")
)


def _outlined(text: str) -> bool:
    """Whether ``text`` has a markdown heading that names no role ("# Onboarding", "### Storage")."""
    for count, match in enumerate(_HEADING.finditer(text)):
        if count >= 64:
            break
        if match.group(1).strip(" *#") not in _ROLE_TITLES:
            return True
    return False


def find_role_markers(text: str, meter: WorkMeter, *, hidden: bool = False) -> list[StructureFinding]:
    """Role markers in ``text`` (canonical), scored by the structure they start.

    Role words are found with ``str.find`` (at most `_MAX_ROLE_WORDS` looked at), and each occurrence is
    judged by what surrounds it: the start of its line, a colon after it, a tag around it.
    In ``hidden`` text (decoded from an encoding or smuggled in invisible characters) any role marker
    scores high: nobody hides a novel's dialogue in base64, and tag characters cannot carry line breaks.
    """
    meter.scan("structure.roles", len(text))
    found: list[StructureFinding] = []
    turn_roles: dict[str, tuple[int, int]] = {}
    header: StructureFinding | None = None
    size = len(text)
    for start, role in _occurrences(text):
        end = start + len(role)
        if end < size and (text[end].isalpha() or text[end] == "_") and role != "instructions":
            continue  # "users", "systematic"
        if start and text[start - 1].isalpha() and not hidden:
            continue
        line_start = text.rfind("\n", 0, start) + 1
        prefix = text[line_start:start]
        after = _AFTER.match(text, end)
        closer, colon, _bold_end = (
            (after.group(1), after.group(2), after.group(3)) if after else (None, None, None)
        )
        at_line_start = len(prefix) <= 8 and all(char in " >#*[=-" for char in prefix)
        # Hidden text has no line breaks to start a turn with (tag characters cannot carry them).
        sentence_start = not at_line_start and (
            hidden
            or text[start - 1 : start] in (".", "!", "?", '"')
            or text[max(0, start - 2) : start] in (". ", "! ", "? ")
        )
        if role in _SPEAKERS or role in _ANSWERERS:
            if colon and ((at_line_start and not prefix.strip("> ")) or sentence_start):
                turn_roles.setdefault(
                    role, (start if not at_line_start else line_start, after.end() if after else end)
                )
            elif (
                colon
                and at_line_start
                and prefix.strip() in ("**", "#", "##", "###", "####", "[")
                and header is None
            ):
                header = StructureFinding("markers.role_header", 0.5, line_start, end, ("role header",))
            continue
        if role in _HEADER_ROLES and header is None:
            marked = prefix.strip(" >")
            # "### System:" or a bare "## System" line; not "## System requirements" (a section title).
            bare_title = marked.startswith("#") and text[
                after.end() if after else end : (after.end() if after else end) + 1
            ] in ("", "\n")
            if at_line_start and marked[:2] in ("- ", "* ", "+ ") and (colon or closer):
                # "- **System**: the scheduler that triggers jobs": a term defined in a list, not a header.
                header = StructureFinding(
                    "markers.role_header", 0.3, line_start, end, ("role label in a list item",)
                )
            elif at_line_start and bare_title and not (colon or closer) and _outlined(text):
                # "## System" over prose, in a document with sections of other names ("# Onboarding"):
                # a section title, not a forged turn (a role header has a colon: "### System:").
                header = StructureFinding(
                    "markers.role_header", 0.5, line_start, end, ("section title in an outline",)
                )
            elif at_line_start and marked and (colon or closer or bare_title):
                header = StructureFinding(
                    "markers.role_header", 0.85, line_start, end, ("role header at a line start",)
                )
            elif (
                (marked.endswith("**") or marked.endswith("[") or marked.endswith("==="))
                and (colon or closer)
            ) or (
                text[max(0, start - 4) : start].endswith(("**", "[", "= ", "## ", "##"))
                and (colon or closer)
                and role != "instructions"
            ):
                header = StructureFinding(
                    "markers.role_header", 0.75, start, end, ("bold or bracketed role label",)
                )
            elif at_line_start and not marked and colon and role != "instructions":
                header = StructureFinding(
                    "markers.role_header", 0.3, line_start, end, ("role label at a line start",)
                )
    if turn_roles:
        first = min(turn_roles.values())
        if set(turn_roles) & _SPEAKERS and set(turn_roles) & _ANSWERERS:
            # Both words for one side ("user:" lines, then "Human:") mix two label conventions: a turn written
            # into the quoted log from elsewhere, not the log itself.
            mixed = len(set(turn_roles) & _SPEAKERS) > 1 or len(set(turn_roles) & _ANSWERERS) > 1
            if not hidden and not mixed and _introduced(text, first[0]):
                # "Chat log from our bot, for QA:" on the line before: quoted material, not a forged turn.
                found.append(
                    StructureFinding(
                        "markers.turns", 0.5, *first, ("alternating roles", "introduced transcript")
                    )
                )
            else:
                found.append(StructureFinding("markers.turns", 0.9, *first, ("alternating roles",)))
        else:
            found.append(StructureFinding("markers.turns", 0.25, *first, ("one role line",)))
    if header is not None:
        found.append(header)
    if "<" in text:
        meter.scan("structure.tags", len(text))
        opened: set[str] = set()
        for tags, match in enumerate(_ROLE_TAG.finditer(text)):
            if tags >= 64:
                break
            start = match.start()
            if match.group(1) != "/":
                opened.add(match.group(2))
            elif match.group(2) in opened:
                found.append(StructureFinding("markers.role_tag", 0.85, start, match.end(), ("role block",)))
                break
            line_start = (
                start == 0 or text[start - 1] == "\n" or text[max(0, start - 2) : start] in ("\n ", "> ")
            )
            closing = match.group(1) == "/"
            follows = text.find("<", match.end(), match.end() + 3) >= 0
            if line_start or (closing and follows):
                found.append(
                    StructureFinding(
                        "markers.role_tag", 0.85, start, match.end(), ("role tag starts a turn",)
                    )
                )
                break
            found.append(
                StructureFinding("markers.role_tag", 0.3, start, match.end(), ("role tag mid-sentence",))
            )
    if hidden:
        found = [
            StructureFinding(f.rule_id, max(f.score, 0.85), f.start, f.end, (*f.reasons, "hidden"))
            for f in found
        ]
    return found


_FETCHED: Final = re.compile(
    r"!\[[^\]\n]{0,200}\]\s?\(\s?<?((?:https?:)?//[^)<>\n]{1,600})|"
    r"<(?:img|image|iframe|frame|script|embed|object|source|video|audio|link|input|track)(?![A-Za-z])"
    r"[^>]{0,200}?(?:src|href|data|srcset|action|poster)\s?=\s?[\"']?((?:https?:)?//[^\"'<>\n]{1,600})",
    re.IGNORECASE,
)
_BARE_URL_AT: Final = re.compile(r"//[A-Za-z0-9.\-]{1,253}(?::\d{1,5})?/[^\s<>\"'`]{1,600}")
_SLOT: Final = re.compile(
    r"\{[^{}\s]{0,60}\}|\[[A-Za-z_ \-]{2,60}\]|\$\{?[A-Z_]{2,40}\}?|%7B|%5B|<[a-z_]{2,40}>|\{\{",
    re.IGNORECASE,
)
_DATA_WORDS: Final = re.compile(
    r"(?:conversation|convo|chat|history|transcript|message|prompt|secret|password|passwd|credential|"
    r"session|cookie|memory|summary|context|apikey|api_key|private|personal|ssn|exfil|leak|stolen|"
    r"userdata|user_data|email|instructions|system)",
    re.IGNORECASE,
)
_READER_PLACEHOLDER: Final = re.compile(
    r"<?(?:YOUR|MY)[_\-](?:API[_\-]?)?(?:KEY|TOKEN|ID|CLIENT[_\-]ID|APP[_\-]ID|ACCESS[_\-]KEY)>?",
    re.IGNORECASE,
)
_CONCRETE: Final = re.compile(r"[\w.+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){1,4}|\d{1,20}")
_PAYLOAD: Final = re.compile(r"[A-Za-z0-9+_\-]{20,}")
_HEXLIKE: Final = re.compile(r"(?:[0-9a-fA-F]{2}){12,}")


def _decodes_to_text(token: str) -> bool:
    candidates: list[bytes] = []
    if _HEXLIKE.fullmatch(token) and len(token) % 2 == 0:
        candidates.append(bytes.fromhex(token))
    core = token.replace("-", "+").replace("_", "/")
    core = core.rstrip("=")
    core = core[: len(core) - len(core) % 4] if len(core) % 4 == 1 else core
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(core + "=" * (-len(core) % 4)))
    for data in candidates:
        text = data.decode("utf-8", errors="replace")
        letters = sum(1 for char in text if char.isalpha() or char == " ")
        if len(text) >= 12 and letters >= 0.8 * len(text) and " " in text:
            return True
    return False


def _judge(url: str) -> tuple[float, str] | None:
    try:
        return _judge_url(url)
    except (ValueError, UnicodeError):  # not a URL urllib can split (odd brackets, ports): nothing to judge
        return None


def _judge_url(url: str) -> tuple[float, str] | None:
    slash = url.find("/", url.find("//") + 2)
    if slash < 0:
        return None
    rest = url[slash:]
    if _SLOT.search(rest):
        return 0.95, "template slot"
    decoded = urllib.parse.unquote(rest)
    for piece in re.split(r"[/?&=#.]", decoded)[:64]:
        for token in _PAYLOAD.findall(piece)[:4]:
            if _decodes_to_text(token):
                return 0.95, "encoded data"
    query = urllib.parse.urlsplit(url).query
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True)[:32]:
        if _READER_PLACEHOLDER.fullmatch(value):
            continue  # key=YOUR_API_KEY: documentation asking the reader for their own credential
        if _CONCRETE.fullmatch(value):
            continue  # email=ana%40example.org, id=42: a value already filled in, not a slot for the model
        if _DATA_WORDS.search(value) or (_DATA_WORDS.fullmatch(name) and len(value) > 0):
            return 0.85, "parameter names conversation data"
        if len(value) >= 40 and value.count(" ") >= 5:
            return 0.8, "a sentence in a parameter"
    segments = [piece for piece in urllib.parse.urlsplit(url).path.split("/") if piece]
    for segment in segments:
        words = urllib.parse.unquote(segment)
        if words.count(" ") >= 5 and len(words) >= 30:
            return 0.8, "a sentence in the path"
        if _DATA_WORDS.fullmatch(words) or re.fullmatch(
            r"(?:leak|exfil|steal|collect|log)[_\-]?(?:data|chat|secret)", words, re.IGNORECASE
        ):
            return 0.6, "path names conversation data"
    return None


def _fetched(text: str) -> Iterator[re.Match[str]]:
    """``_FETCHED.finditer(text)``: every fetched resource starts with "![" or "<" (neither has a case
    variant), so without them the pattern's scan, the costliest of `find_url_exfiltration`, is skipped."""
    if "<" in text or "![" in text:
        yield from _FETCHED.finditer(text)


def find_url_exfiltration(text: str, meter: WorkMeter) -> list[StructureFinding]:
    """URLs in ``text`` (not canonicalized: case matters to encoded data) that carry data out."""
    if "//" not in text:
        return []
    found: list[StructureFinding] = []
    meter.scan("structure.urls", len(text))
    fetched_spans: list[tuple[int, int]] = []
    for count, match in enumerate(_fetched(text)):
        if count >= 64:
            break
        url = match.group(1) or match.group(2)
        rule_id = "exfil.markdown_image" if match.group(1) else "exfil.html_resource"
        fetched_spans.append(match.span())
        verdict = _judge(url)
        if verdict is not None:
            found.append(
                StructureFinding(rule_id, verdict[0], *match.span(), (f"fetched url: {verdict[1]}",))
            )
            break
    position = text.find("//")
    count = 0
    while position >= 0 and count < 64:
        bare = _BARE_URL_AT.match(text, position)
        position = text.find("//", position + 2)
        if bare is None:
            continue
        count += 1
        if any(low <= bare.start() < high for low, high in fetched_spans):
            continue
        url = bare.group()
        slot = _SLOT.search(url)
        if slot is not None and _DATA_WORDS.search(slot.group()):
            found.append(
                StructureFinding(
                    "exfil.url_placeholder", 0.85, *bare.span(), ("url slot names conversation data",)
                )
            )
            break
        if slot is not None:
            found.append(StructureFinding("exfil.url_placeholder", 0.3, *bare.span(), ("url template slot",)))
    return found
