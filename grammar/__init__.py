"""The compot model language: Lark grammar, typed AST, parser and printer."""

from . import nodes
from .parser import MAX_CUTOFF, MAX_SIZE, parse
from .printer import expr_text, to_text

__all__ = ["nodes", "parse", "to_text", "expr_text", "MAX_SIZE", "MAX_CUTOFF"]
