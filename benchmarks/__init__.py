"""compot's benchmark suite (``python -m benchmarks``) and result scripts."""

from pathlib import Path

#: the real DFT sets committed with the tests (tests/data/README.md)
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def data_path(element: str, split: str) -> Path:
    """The committed data file of ``element`` (nb, mo, si) and ``split`` (train, test)."""
    return DATA / element / f"{split}.xyz.xz"
