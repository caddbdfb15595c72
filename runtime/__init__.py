"""The compot runtime: kernel cache, neighbour lists, evaluation, training, FIM, CLI."""
