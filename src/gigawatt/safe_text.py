"""Text from outside (a results store, a scenario file) made safe to print and to name files with.

A name read back from a store is whatever the file holds: someone may have
edited it, or the file may come from someone else. Two helpers defend the two
places such a name ends up:

:func:`terminal_text`
    for the terminal: control characters (C0, DEL, C1: escape sequences, bells,
    carriage returns, newlines) and the bidirectional-text controls that can
    make a name read differently from what it is (U+202A-U+202E, U+2066-U+2069,
    U+200E, U+200F, U+061C), and the Unicode line and paragraph separators,
    are replaced by visible escapes (``\\x1b``, ``\\u202e``). Everything else
    is kept, so ordinary non-ASCII names print as they are.

:func:`file_stem`
    for a file name: a slug of ``A-Za-z0-9._-`` only, no leading dot or dash,
    at most ``max_len`` characters, never a reserved Windows device name, and
    ``"run"`` when nothing usable is left. It never contains a path separator,
    so ``folder / f"{file_stem(name)}.html"`` stays inside ``folder``.

>>> terminal_text("evil\\x1b]0;pwned\\x07name")
'evil\\\\x1b]0;pwned\\\\x07name'
>>> terminal_text("abc\\u202edcba")
'abc\\\\u202edcba'
>>> file_stem("../../escaped-name")
'escaped-name'
>>> file_stem("Déploiement 2026/α")
'Deploiement-2026'
>>> file_stem("...")
'run'
"""

from __future__ import annotations

import re
import unicodedata

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_SEPARATORS = (0x2028, 0x2029)
_CONTROL = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))


def _visible(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TERMINAL_TABLE = {code: _visible(code) for code in (*_CONTROL, *_BIDI, *_SEPARATORS)}

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
)


def terminal_text(value: object) -> str:
    """``value`` as text that cannot drive the terminal: control and bidi characters become escapes.

    Parameters
    ----------
    value : object
        Anything; it is passed through ``str`` first.

    Returns
    -------
    str
        The text with each C0/C1 control character (and DEL) as ``\\xNN`` and
        each bidirectional control or line/paragraph separator as ``\\uNNNN``.
    """
    return str(value).translate(_TERMINAL_TABLE)


def file_stem(value: object, max_len: int = 80, fallback: str = "run") -> str:
    """A safe file-name stem for ``value``: ``[A-Za-z0-9._-]``, no leading dot, at most ``max_len`` characters.

    Accents are dropped (``é`` -> ``e``), every run of other characters
    becomes one ``-``, runs of dots become one dot, and leading or trailing
    dots, dashes and underscores are removed. ``fallback`` is returned when
    nothing is left; a reserved Windows device name (``CON``, ``NUL``, ...) is
    prefixed with it.

    Parameters
    ----------
    value : object
        The name, passed through ``str`` first.
    max_len : int
        Longest stem returned (at least 1).
    fallback : str
        Used when the name has no usable character; must itself be safe.

    Returns
    -------
    str
    """
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _UNSAFE_RUN.sub("-", text)
    text = _DOTS.sub(".", text)
    text = text.strip("._-")[: max(1, max_len)].rstrip("._-")
    if not text:
        return fallback
    if text.split(".")[0].upper() in _WINDOWS_DEVICES:
        text = f"{fallback}-{text}"[: max(1, max_len)]
    return text
