import pytest

from compot import ModelError, ModelSyntaxError
from compot.grammar import nodes as n
from compot.grammar import parse, to_text

SHORTHAND = [
    ("G8", n.Linear(n.BasisRef(spec=n.ShortBasis("G", 8)))),
    ("C8", n.Linear(n.BasisRef(spec=n.ShortBasis("C", 8)))),
    ("E[G8L4]", n.Exp(n.BasisRef(spec=n.ShortBasis("G", 8)), 4)),
    ("E[G8 L4]", n.Exp(n.BasisRef(spec=n.ShortBasis("G", 8)), 4)),
    ("N[E[G8L4]]", n.NExp(n.BasisRef(spec=n.ShortBasis("G", 8)), 4)),
]


@pytest.mark.parametrize("text,expr", SHORTHAND)
def test_shorthand(text, expr):
    assert parse(text).expr == expr


@pytest.mark.parametrize("op", ["⊕", "(+)", "+"])
def test_sum_spellings(op):
    m = parse(f"E[G8L4] {op} N[E[G8L4]]")
    assert m.expr == parse("E[G8L4] + N[E[G8L4]]").expr
    assert isinstance(m.expr, n.Sum) and len(m.expr.terms) == 2


@pytest.mark.parametrize("op", ["⊗", "(x)", "*"])
def test_product_spellings(op):
    m = parse(f"G10 {op} E[G8L4]")
    assert m.expr == n.Product(n.Linear(n.BasisRef(spec=n.ShortBasis("G", 10))),
                               n.Exp(n.BasisRef(spec=n.ShortBasis("G", 8)), 4))


def test_precedence_and_nesting():
    e = parse("G2 + G3 * G4").expr
    assert isinstance(e, n.Sum) and isinstance(e.terms[1], n.Product)
    e = parse("(G2 + G3) * G4").expr
    assert isinstance(e, n.Product) and isinstance(e.left, n.Sum)
    e = parse("((G2 * (C3 + E[G2L2])) + N[E[G3L1]]) * G2").expr
    assert isinstance(e, n.Product) and isinstance(e.left, n.Sum)
    assert parse("(G2 + G3) + G4").expr == parse("G2 + G3 + G4").expr  # sums flatten


def test_named_bases_cutoff_elements_and_custom():
    text = """
    # a comment
    cutoff = 4.5
    elements = Nb
    g = G8
    m = basis 3 (a = 1.2 in [0.1, 5], r0 = -2.5): exp(-nu*a*(r - r0)) * fc(r)
    E[g L4] + N[E[g L4]] (+) E[m L2]
    """
    m = parse(text)
    assert m.cutoff == 4.5 and m.elements == ("Nb",)
    assert [d.name for d in m.bases] == ["g", "m"]
    spec = m.bases[1].spec
    assert spec.size == 3 and spec.params[0] == n.BasisParam("a", 1.2, 0.1, 5.0)
    assert spec.params[1].value == -2.5
    assert m.expr.terms[0].basis == n.BasisRef(name="g")


ROUNDTRIP = [
    "G8", "C16", "E[G8L4] + N[E[G8L4]]", "G10 * E[G8L4]", "G8 * (G4 * C3) + (G2 + G3) * G4",
    "(G2 * G3) * G4", "g = G8; E[g L4] + N[E[g L4]]",
    "cutoff = 4.5; elements = Nb, Mo; a = G8; b = C4; a + b * E[a L2]",
    "m = basis 2 (a = 1.0): -a^-2.0 * r^2.0^3.0 - (r - 1.0) - r / (a * r) / 2.0; E[m L2]",
    "m = basis 4 (zeta = 0.5 in [0.01, 3.0]): r^(nu - 1.0) * exp(-zeta * r) * fc; m + G2",
    "m = basis 2 (k = 2.0): -(-sqrt(r) + log(r + 1.0)) * tanh(k) / cos(sin(r)); m",
]


@pytest.mark.parametrize("text", ROUNDTRIP)
def test_roundtrip(text):
    m = parse(text)
    printed = to_text(m)
    assert parse(printed) == m
    assert to_text(parse(printed)) == printed
    assert parse(to_text(m, unicode=True, multiline=True)) == m


def test_unicode_printing():
    assert to_text(parse("G10 (x) E[G8L4] (+) G2"), unicode=True).endswith("G10 ⊗ E[G8L4] ⊕ G2")


# (text, line, column, fragment of the message)
MALFORMED = [
    ("", 1, 1, "empty"),
    ("   # only a comment", 1, 1, "empty"),
    ("G8 +", 1, 5, "end of input"),
    ("E[G8]", 1, 5, "layer count"),
    ("E[G8L4", 1, 7, "expected ']'"),
    ("N[G8L4]", 1, 3, "E["),
    ("N[E[G8L4]", 1, 10, "']'"),
    ("(G8", 1, 4, "')'"),
    ("G8)", 1, 3, "unexpected ')'"),
    ("G8 ++ G8", 1, 5, "unexpected '+'"),
    ("G8 $ G8", 1, 4, "'$'"),
    ("G8 G8", 1, 4, "unexpected 'G8'"),
    ("E[[G8L4]]", 1, 3, "unexpected '['"),
    ("g = ; G8", 1, 5, "unexpected ';'"),
    ("cutoff = ; G8", 1, 10, "a number"),
    ("cutoff 5; G8", 1, 8, "'='"),
    ("elements = ; G8", 1, 12, "a name"),
    ("m = basis (a=1): r; E[m L2]", 1, 11, "a number"),
    ("m = basis 2 (a=1) r; E[m L2]", 1, 19, "':'"),
    ("m = basis 2 (a=1): exp(r; E[m L2]", 1, 25, "')'"),
    ("m = basis 2 (a=1): r ^ ; E[m L2]", 1, 24, "unexpected ';'"),
    ("E[G8L4] +\n+ G2", 2, 1, "unexpected '+'"),
    ("G8\nE[G8L4]", 2, 1, "unexpected 'E'"),
    ("E[G8 L4 L2]", 1, 9, "']'"),
]


@pytest.mark.parametrize("text,line,column,fragment", MALFORMED)
def test_syntax_errors(text, line, column, fragment):
    with pytest.raises(ModelSyntaxError) as info:
        parse(text)
    err = info.value
    msg = str(err)
    assert "\n" not in msg
    assert (err.line, err.column) == (line, column), msg
    assert f"line {line}, column {column}" in msg
    assert fragment in msg, msg
    assert "expected" in msg


INVALID = [
    ("G0", "at least 1"),
    ("E[G8L0]", "at least 1"),
    ("G100000", "larger than the maximum"),
    ("E[g L4]", "unknown basis 'g'"),
    ("F8", "unknown basis 'F8'"),
    ("cutoff = -1; G8", "positive"),
    ("cutoff = 0; G8", "positive"),
    ("cutoff = 1e400; G8", "not finite"),
    ("cutoff = 500; G8", "larger than the maximum"),
    ("elements = Xx; G8", "unknown chemical element"),
    ("elements = Nb, Nb; G8", "twice"),
    ("g = G8; g = G4; g", "defined twice"),
    ("x = G8; G8", "reserved"),
    ("nu = G8; G8", "reserved"),
    ("m = basis 2 (a=1): exp(-b*r); E[m L2]", "unknown variable 'b'"),
    ("m = basis 2 (a=1, a=2): r; m", "declared twice"),
    ("m = basis 2 (a=1 in [2,3]): r; m", "outside its bounds"),
    ("m = basis 2 (a=1 in [3,2]): r; m", "empty"),
    ("m = basis 2 (r=1): r; m", "reserved"),
    ("m = basis 2 (a=1): fc(2*r); m", "fc takes r"),
    ("m = basis 2.5 (a=1): r; m", "whole number"),
    ("cutoff = 5; cutoff = 4; G8", "twice"),
]


@pytest.mark.parametrize("text,fragment", INVALID)
def test_invalid_models(text, fragment):
    with pytest.raises(ModelError) as info:
        parse(text)
    msg = str(info.value)
    assert "\n" not in msg and fragment in msg, msg
    assert msg.startswith("line ")


def test_non_string_input():
    with pytest.raises(ModelError):
        parse(b"G8")


def test_unused_basis_warns():
    with pytest.warns(UserWarning, match="never used"):
        parse("g = G8; G4")


def test_error_context_points_at_token():
    with pytest.raises(ModelSyntaxError) as info:
        parse("E[G8L4] + N[E[G8]]")
    ctx = info.value.context.splitlines()
    assert ctx[0] == "E[G8L4] + N[E[G8]]"
    assert ctx[1].index("^") == info.value.column - 1 == ctx[0].index("]]")
