"""Long fuzzing campaign of the model language (the short one runs in the tests).

    python -m benchmarks.fuzz --n 100000 [--seed 0]

Feeds random byte strings, random Unicode text, and mutations of valid models (characters deleted,
inserted, replaced, spans duplicated) to the parser; every input must either parse -- then its
canonical text must re-parse to the same AST -- or raise ModelSyntaxError/ModelError with a one-line
message.  Any other exception is a bug and is printed with its input.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings

SEEDS = ["G8", "C8", "E[G8L4]", "E[G8 L4]", "N[E[G8L4]]", "E[G8L4] + N[E[G8L4]]", "G10 ⊗ E[G8L4]",
         "G8 (x) G8 (+) C4", "g = G8; E[g L4] + N[E[g L4]]", "cutoff = 4.5; elements = Nb, Mo; G4",
         "m = basis 4 (a = 1.2 in [0.2, 5], r0 = 2.8): exp(-nu*a*(r - r0)) * fc(r); E[m L2] * (G8 + C4)",
         "((G2 * (C3 + E[G2L2])) + N[E[G3L1]]) * G2"]
ALPHABET = list("GCENLbasisx()[]+*-/^=;:,.0123456789 \n#⊕⊗rnufc") + ["(+)", "(x)", "exp", "basis", "in"]


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        k = rng.randint(0, len(text))
        if op == 0 and text:
            text = text[:k] + text[k + rng.randint(1, 3):]
        elif op == 1:
            text = text[:k] + rng.choice(ALPHABET) + text[k:]
        elif op == 2 and text:
            text = text[:k] + rng.choice(ALPHABET) + text[k + 1:]
        else:
            j = rng.randint(k, len(text))
            text = text[:k] + text[k:j] * 2 + text[j:]
    return text


def main(argv=None) -> int:
    from compot import ModelError, ModelSyntaxError
    from compot.grammar import parse, to_text

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    counts = {"parsed": 0, "syntax_error": 0, "model_error": 0, "bugs": 0}
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    for i in range(args.n):
        kind = i % 3
        if kind == 0:
            text = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))).decode("latin-1")
        elif kind == 1:
            text = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000)]))
                           for _ in range(rng.randint(0, 30)))
        else:
            text = mutate(rng, rng.choice(SEEDS))
        try:
            m = parse(text)
            if parse(to_text(m)) != m:
                raise AssertionError("canonical text does not re-parse to the same model")
            counts["parsed"] += 1
        except ModelSyntaxError as exc:
            counts["syntax_error"] += 1
            assert "\n" not in str(exc)
        except ModelError as exc:
            counts["model_error"] += 1
            assert "\n" not in str(exc)
        except Exception as exc:  # a bug
            counts["bugs"] += 1
            print(f"BUG on {text!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if (i + 1) % 20000 == 0:
            print(f"{i + 1} inputs, {time.perf_counter() - t0:.0f} s: {counts}", flush=True)
    print(f"done: {args.n} inputs in {time.perf_counter() - t0:.1f} s: {counts}")
    return 1 if counts["bugs"] else 0


if __name__ == "__main__":
    sys.exit(main())
