"""Named model texts (docs/theory.md §4.5), usable wherever a model text is: ``compot fit paper ...``.

``paper`` is the paper's best model.  ``accurate`` is the project's best general-purpose
composition; it is not tuned per element (docs/theory.md, "Presets")."""

from __future__ import annotations

PRESETS: dict[str, str] = {
    # the paper's best model (Wang et al. 2025)
    "paper": "E[G8L4] + N[E[G8L4]]",
    # the paper's model plus 180 rotation invariants of body order 3 from angular moments up to
    # l = 4 of eight Chebyshev radial functions (no extra nonlinear parameters), on top of the ZBL
    # core whose radii come from the training data; chosen among the compositions measured in
    # docs/results.md (same text for every element)
    "accurate": "ZBL + E[G8L4] + N[E[G8L4]] + A[C8 P4]",
}


def resolve(text: str) -> str:
    """The model text of a preset name, or ``text`` itself."""
    if isinstance(text, str) and text.strip() in PRESETS:
        return PRESETS[text.strip()]
    return text
