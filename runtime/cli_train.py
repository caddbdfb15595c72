"""CLI commands for training, metrics and FIM (registered into the main parser)."""


def register(sub, common, model_args) -> None:
    return None
