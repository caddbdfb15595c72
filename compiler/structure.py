"""Questions about a lowered model's structure (its composition tree), asked by training and by
the FIM analysis."""

from __future__ import annotations

from .ir import ProductNode, SumNode, TermNode


def linear_groups(ir) -> list[list[int]]:
    """Groups of linear parameter indices in which the predictions are linear (ALS blocks).

    Units are single terms (their coefficients and shift) and product shifts; two units conflict
    when they sit on opposite sides of a product.  Greedy colouring in parameter order puts the
    leftmost factor in the first group."""
    index = {p.name: k for k, p in enumerate(ir.params)}
    units: list[list[int]] = []
    conflicts: list[tuple[int, int]] = []

    def walk(node) -> list[int]:
        if isinstance(node, TermNode):
            units.append([index[p.name] for p in node.params if p.linear])
            return [len(units) - 1]
        if isinstance(node, SumNode):
            return [u for c in node.children for u in walk(c)]
        left, right = walk(node.left), walk(node.right)
        conflicts.extend((a, b) for a in left for b in right)
        mine = left + right
        if node.shift:
            units.append([index[q.name] for q in node.shift])
            mine.append(len(units) - 1)
        return mine

    walk(ir.tree)
    adj = {u: set() for u in range(len(units))}
    for a, b in conflicts:
        adj[a].add(b)
        adj[b].add(a)
    order = sorted(range(len(units)), key=lambda u: min(units[u]) if units[u] else 1 << 30)
    colour = {}
    for u in order:
        used = {colour[v] for v in adj[u] if v in colour}
        colour[u] = next(c for c in range(len(units) + 1) if c not in used)
    groups = [sorted(i for u in order if colour[u] == c for i in units[u])
              for c in range(max(colour.values(), default=-1) + 1)]
    return [g for g in groups if g]
