"""The built-in update rules, one module each: every module of this package that defines ``RULE`` (a
``harness.rules.base.Rule``) is registered under the rule's name, so adding a rule is adding a module. Beside
them: ``base`` (what a rule is), ``schemes`` (a rule with its parameters), ``optimizers`` (per-player optimizers
with buffers) and ``regimes`` (where a rule with memory starts).

``RULES`` maps names to rules; ``OPTIONS`` maps each option name to its declarations (one per rule that takes it:
they share the name, type and default, and differ in help and checks); ``STEPS`` maps each ``structure[0]`` to the
rule that builds that step.
"""

from __future__ import annotations

import importlib
import pkgutil

from harness.rules.base import Option, Rule

_INFRASTRUCTURE = ("base", "schemes", "optimizers", "regimes")


def _discover() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name in _INFRASTRUCTURE:
            continue
        rule = getattr(importlib.import_module(f"{__name__}.{module.name}"), "RULE", None)
        if isinstance(rule, Rule):
            rules[rule.name] = rule
    return dict(sorted(rules.items()))


def _options(rules: dict[str, Rule]) -> dict[str, tuple[Option, ...]]:
    options: dict[str, list[Option]] = {}
    for rule in rules.values():
        for option in rule.options:
            same = options.setdefault(option.name, [])
            if same and (same[0].kind, same[0].default, same[0].choices) != (option.kind, option.default,
                                                                           option.choices):
                raise TypeError(f"option {option.name!r} of {rule.name} differs in type, default or choices from "
                                "its other declarations")
            if option not in same:
                same.append(option)
    return {name: tuple(declared) for name, declared in options.items()}


RULES = _discover()
OPTIONS = _options(RULES)
STEPS = {kind: rule for rule in RULES.values() for kind in (rule.kinds or (rule.name,))}


def rules_taking(option: str) -> list[str]:
    """The names of the rules that take ``option``."""
    return [rule.name for rule in RULES.values() if any(o.name == option for o in rule.options)]


def help_text(option: str) -> str:
    """The help of ``option``'s declarations, joined."""
    return "; ".join(dict.fromkeys(o.help for o in OPTIONS[option]))


__all__ = ["OPTIONS", "RULES", "STEPS", "Option", "Rule", "help_text", "rules_taking"]
