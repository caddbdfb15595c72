import re
import warnings

import pytest

from compot import ModelError
from compot.compiler.lower import lower
from compot.grammar import parse


def counts(text):
    m = lower(parse(text))
    return sum(p.linear for p in m.params), sum(not p.linear for p in m.params)


def expected(text):
    """The sharing and shift rules (docs/theory.md §4.2–4.3), written independently of the implementation."""
    t = text.replace(" ", "")
    if (m := re.fullmatch(r"G(\d+)", t)):
        return int(m[1]) + 1, 2
    if (m := re.fullmatch(r"C(\d+)", t)):
        return int(m[1]) + 1, 0
    if (m := re.fullmatch(r"(?:N\[)?E\[G(\d+)L(\d+)\]\]?", t)):
        n, k = int(m[1]), int(m[2])
        return n * k + 1, k + 2
    if (m := re.fullmatch(r"G(\d+)\*G(\d+)", t)):
        return int(m[1]) + int(m[2]) + 3, 4
    if (m := re.fullmatch(r"G(\d+)\*E\[G(\d+)L(\d+)\]", t)):
        a, b, k = map(int, m.groups())
        return a + b * k + 3, k + 4
    if (m := re.fullmatch(r"E\[G(\d+)L(\d+)\]\+N\[E\[G\1L\2\]\]", t)):
        n, k = int(m[1]), int(m[2])
        return 2 * n * k + 1, 2 * k + 2
    raise ValueError(text)


PAPER = ([f"G{n}" for n in range(4, 19, 2)] + [f"C{n}" for n in range(4, 17, 2)]
         + [f"E[G{n}L{m}]" for n in (4, 6, 8, 10) for m in (2, 4, 5, 8)]
         + ["N[E[G8L4]]", "N[E[G6L5]]", "G4*G4", "G8*G8", "G8*E[G4L4]", "G8*E[G4L8]", "G8*E[G8L4]",
            "G10*E[G8L4]", "G10*E[G6L5]", "E[G6L5] + N[E[G6L5]]", "E[G8L4] + N[E[G8L4]]"])


@pytest.mark.parametrize("text", PAPER)
def test_parameter_counts(text):
    assert counts(text) == expected(text)


@pytest.mark.parametrize("text,lin,nonlin", [
    ("G8", 9, 2), ("C8", 9, 0), ("E[G8L4]", 33, 6), ("G8⊗G8", 19, 4), ("G10⊗E[G8L4]", 45, 8),
    ("E[G6L5]⊕N[E[G6L5]]", 61, 12), ("E[G8L4]⊕N[E[G8L4]]", 65, 10)])
def test_spec_examples(text, lin, nonlin):
    assert counts(text) == (lin, nonlin)


def test_names_product():
    m = lower(parse("G8⊗G8"))
    assert m.parameter_names == (["b1.alpha", "b1.beta", "b2.alpha", "b2.beta"]
                                 + [f"t1.c[{i}]" for i in range(1, 9)] + ["t1.s"]
                                 + [f"t2.c[{i}]" for i in range(1, 9)] + ["t2.s", "p1.s"])


def test_names_best_model():
    m = lower(parse("E[G8L4]⊕N[E[G8L4]]"))
    names = ["b1.alpha", "b1.beta"]
    for t in ("t1", "t2"):
        names += [f"{t}.c[{k},{nu}]" for k in range(1, 5) for nu in range(1, 9)]
        names += [f"{t}.lambda[{k}]" for k in range(1, 5)]
        if t == "t1":
            names.append("t1.s")
    assert m.parameter_names == names


def test_named_and_shared_bases():
    m = lower(parse("g = G8; E[g L4] + N[E[g L4]]"))
    assert [p.name for p in m.params if not p.linear][:2] == ["g.alpha", "g.beta"]
    m = lower(parse("a = G8; b = G8; a + b"))
    assert [b.label for b in m.bases] == ["a", "b"]
    m = lower(parse("g = G4; g * g"))          # a user may name one basis for both factors
    assert [b.label for b in m.bases] == ["g"]


def test_anonymous_labels_skip_user_names():
    m = lower(parse("b1 = G4; b1 * G4"))
    assert [b.label for b in m.bases] == ["b1", "b2"]


def test_identical_terms_warn():
    with pytest.warns(UserWarning, match="degenerate"):
        lower(parse("G8 + G8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lower(parse("a = G8; b = G8; a + b"))


def test_shift_rules():
    names = lower(parse("G2 + G3 * G4 + (G2 + C2) * G3")).parameter_names
    shifts = [n for n in names if n.endswith(".s")]
    # t1 owns the sum's shift; the later product's outer shift is dropped but its factors keep theirs
    assert shifts == ["t1.s", "t2.s", "t3.s", "t4.s", "t6.s"]
    names = lower(parse("(G2 * G3) * G4")).parameter_names
    assert [n for n in names if n.endswith(".s")] == ["t1.s", "t2.s", "p1.s", "t3.s", "p2.s"]


def test_custom_basis_parameters_and_fc():
    m = lower(parse("m = basis 3 (a = 1.5 in [0.5, 4], r0 = 2.8): exp(-nu*a*(r - r0)); E[m L2]"))
    info = {p.name: p for p in m.params}
    assert info["m.a"].lower == 0.5 and info["m.a"].upper == 4 and not info["m.a"].linear
    assert info["m.r0"].lower < 2.8 < info["m.r0"].upper
    assert all(f.has(__import__("compot.compiler.ir", fromlist=["fc"]).fc) for f in m.pair_functions())


def test_cutoff_and_elements_arguments():
    assert lower(parse("G8"), cutoff=4.0).cutoff == 4.0
    assert lower(parse("cutoff = 4.0; G8")).cutoff == 4.0
    with pytest.raises(ModelError, match="disagrees"):
        lower(parse("cutoff = 4.0; G8"), cutoff=5.0)
    for bad in (-1.0, 0.0, float("nan"), float("inf"), 100.0):
        with pytest.raises(ModelError):
            lower(parse("G8"), cutoff=bad)
    with pytest.raises(ModelError, match="unknown chemical element"):
        lower(parse("G8"), elements=["Qq"])
    with pytest.raises(ModelError, match="disagree"):
        lower(parse("elements = Nb; G8"), elements=["Mo"])
