"""Named model texts (docs/theory.md §4.5), usable wherever a model text is: ``compot fit paper ...``.

``paper`` is the paper's best model.  ``accurate`` is the project's best general-purpose
composition; it is not tuned per element (docs/theory.md, "Presets")."""

from __future__ import annotations

PRESETS: dict[str, str] = {
    "paper": "E[G8L4] + N[E[G8L4]]",
}


def resolve(text: str) -> str:
    """The model text of a preset name, or ``text`` itself."""
    if isinstance(text, str) and text.strip() in PRESETS:
        return PRESETS[text.strip()]
    return text
