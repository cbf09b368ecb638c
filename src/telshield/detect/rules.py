"""Analyst-editable rules: boolean expressions over features, compiled to Ibis expressions.

A rules file is TOML::

    version = "2026-11-29.1"

    [[rules]]
    name = "strangers_burst"
    when = "distinct_callees_24h >= 20 and callback_share_24h < 0.1"
    weight = 0.6
    reason = "called {distinct_callees_24h} numbers in 24 h; few called back"

``when`` uses feature names, numbers, ``and``/``or``/``not``, comparisons and + - * /.
A missing feature value makes a comparison false. Rules combine as a noisy-or of their weights:
``score = 1 - prod(1 - weight)`` over the rules a number hits.

A *cap* says what the evidence may not exceed when something else is known about a number — a
company's office line, a number not ours that only screening can act on::

    [[caps]]
    name = "business_line"
    when = "holder_enterprise == 1 and sim_age_days >= 365"
    cap = 0.69
    reason = "a company's line held for {sim_age_days} days"

A number a cap's ``when`` holds for scores at most ``cap`` (the lowest of the caps it hits), so
the tier it reaches is proportionate to how sure the evidence can be. Caps say why in the alert.
"""

from __future__ import annotations

import ast
import hashlib
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from telshield.domain.errors import InvalidInput

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CMP: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
}


@dataclass(frozen=True)
class Rule:
    """One rule: when its expression holds, a number gets its weight and reason."""

    name: str
    when: str
    weight: float
    reason: str
    features: tuple[str, ...]  # the features the expression reads, in order of appearance

    def explain(self, values: dict[str, Any]) -> str:
        """The reason text with ``{feature}`` placeholders filled (shares as percentages)."""
        def fill(m: re.Match[str]) -> str:
            v = values.get(m.group(1))
            if "share" in m.group(1) and isinstance(v, int | float):
                return f"{v:.0%}"
            if isinstance(v, float):
                return f"{v:.2f}".rstrip("0").rstrip(".")
            return str(v)
        return re.sub(r"\{([a-z0-9_]+)\}", fill, self.reason)


@dataclass(frozen=True)
class RuleSet:
    """A versioned set of rules."""

    version: str
    rules: tuple[Rule, ...]
    caps: tuple[Rule, ...] = ()  # each cap's ``weight`` is the most a number it hits may score

    def rule(self, name: str) -> Rule:
        """The rule called ``name``."""
        for r in self.rules:
            if r.name == name:
                return r
        raise InvalidInput(f"no rule named {name!r}; rules are: "
                           + ", ".join(r.name for r in self.rules))


def parse_rules(text: str, known_features: Iterable[str], *, source: str = "rules") -> RuleSet:
    """Parse and validate a rules file; errors name the rule and what is wrong with it."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{source}: not valid TOML ({e}); fix the file and reload") from None
    known = set(known_features)
    entries = doc.get("rules")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{source}: no [[rules]] tables found; add at least one rule")
    rules = [_parse_rule(entry, i, known, source) for i, entry in enumerate(entries)]
    caps_in = doc.get("caps", [])
    if not isinstance(caps_in, list):
        raise InvalidInput(f"{source}: 'caps' must be [[caps]] tables")
    caps = [_parse_rule(entry, i, known, source, kind="cap") for i, entry in enumerate(caps_in)]
    unknown_top = set(doc) - {"version", "rules", "caps"}
    if unknown_top:
        raise InvalidInput(f"{source}: unknown top-level keys {sorted(unknown_top)}; "
                           "a rules file holds version, [[rules]] and [[caps]]")
    names = [r.name for r in rules + caps]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InvalidInput(f"{source}: rule names must be unique; repeated: {', '.join(dups)}")
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return RuleSet(f"{doc.get('version', '0')}+{digest}", tuple(rules), tuple(caps))


def _parse_rule(entry: Any, i: int, known: set[str], source: str, kind: str = "rule") -> Rule:
    if not isinstance(entry, dict):
        raise InvalidInput(f"{source}: {kind} #{i + 1} is not a table")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"{source}: {kind} #{i + 1} needs a name of lowercase letters, digits and '_'"
        )
    where = f"{source}: {kind} {name!r}"
    key = "weight" if kind == "rule" else "cap"
    when, weight, reason = entry.get("when"), entry.get(key), entry.get("reason")
    if not isinstance(when, str) or not when.strip():
        raise InvalidInput(f"{where}: 'when' must be a non-empty expression")
    lowest = 0 if kind == "rule" else -1  # a cap may be 0 (never alert); a weight may not
    if not isinstance(weight, int | float) or isinstance(weight, bool) \
            or not lowest < weight <= 1:
        span = "(0, 1]" if kind == "rule" else "[0, 1]"
        raise InvalidInput(f"{where}: '{key}' must be a number in {span}, got {weight!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(f"{where}: 'reason' must be a non-empty text")
    unknown_extra = set(entry) - {"name", "when", key, "reason"}
    if unknown_extra:
        raise InvalidInput(f"{where}: unknown keys {sorted(unknown_extra)}")
    try:
        tree = ast.parse(when.strip(), mode="eval")
    except SyntaxError as e:
        raise InvalidInput(
            f"{where}: bad syntax in 'when' at column {e.offset}: {when!r}"
        ) from None
    features = _check(tree.body, where, known)
    for ref in re.findall(r"\{([^}]*)\}", reason):
        if ref not in known:
            raise InvalidInput(f"{where}: reason refers to unknown feature {{{ref}}}")
    return Rule(name, when.strip(), float(weight), reason, tuple(dict.fromkeys(features)))


def _check(node: ast.AST, where: str, known: set[str]) -> list[str]:
    """Validate an expression tree; return the feature names it reads."""
    match node:
        case ast.BoolOp(values=values):
            return [f for v in values for f in _check(v, where, known)]
        case ast.UnaryOp(op=ast.Not() | ast.USub(), operand=operand):
            return _check(operand, where, known)
        case ast.Compare(left=left, ops=ops, comparators=comps):
            if not all(type(op) in _CMP for op in ops):
                raise InvalidInput(f"{where}: only < <= > >= == != comparisons are allowed")
            return [f for v in (left, *comps) for f in _check(v, where, known)]
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _ARITH:
            return _check(left, where, known) + _check(right, where, known)
        case ast.Name(id=name):
            if name not in known:
                close = sorted(k for k in known if k.split("_")[0] == name.split("_")[0])[:5]
                hint = f"; did you mean one of: {', '.join(close)}" if close else ""
                raise InvalidInput(f"{where}: unknown feature {name!r}{hint}")
            return [name]
        case ast.Constant(value=v) if isinstance(v, int | float):
            return []
    raise InvalidInput(
        f"{where}: '{ast.unparse(node)}' is not allowed; use features, numbers, comparisons, "
        "and/or/not and + - * /"
    )


def _compile(node: ast.AST, t: ir.Table) -> Any:
    match node:
        case ast.BoolOp(op=ast.And(), values=values):
            out = _compile(values[0], t)
            for v in values[1:]:
                out = out & _compile(v, t)
            return out
        case ast.BoolOp(op=ast.Or(), values=values):
            out = _compile(values[0], t)
            for v in values[1:]:
                out = out | _compile(v, t)
            return out
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return ~_compile(operand, t)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_compile(operand, t)
        case ast.Compare(left=left, ops=ops, comparators=comps):
            parts, a = [], _compile(left, t)
            for op, c in zip(ops, comps, strict=True):
                b = _compile(c, t)
                parts.append(_CMP[type(op)](a, b))
                a = b
            out = parts[0]
            for p in parts[1:]:
                out = out & p
            return out
        case ast.BinOp(op=op, left=left, right=right):
            return _ARITH[type(op)](_compile(left, t), _compile(right, t))
        case ast.Name(id=name):
            return t[name]
        case ast.Constant(value=v):
            return ibis.literal(v)
    raise AssertionError(f"unvalidated node {ast.dump(node)}")  # parse_rules checked it


def hit_column(rule: Rule) -> str:
    """The column holding whether a number hit ``rule`` (or cap)."""
    return f"hit__{rule.name}"


def rule_hits(features: ir.Table, rules: RuleSet) -> ir.Table:
    """The features plus one boolean ``hit__<rule>`` column per rule and a ``rule_score``."""
    hits: dict[str, ir.BooleanValue] = {}
    for r in rules.rules + rules.caps:
        expr = _compile(ast.parse(r.when, mode="eval").body, features)
        hits[hit_column(r)] = expr.cast("boolean").fill_null(False)
    t = features.mutate(**hits)
    # Each factor is 1 - weight * hit with the hit as DOUBLE: DuckDB reads a literal such as
    # 1 - 0.7 (0.30000000000000004) as a DECIMAL, and a product of several such decimals
    # overflows its 38 digits of scale.
    keep: ir.FloatingValue = ibis.literal(1.0, type="float64")
    for r in rules.rules:
        keep = keep * (1.0 - t[hit_column(r)].cast("float64") * r.weight)
    score: ir.FloatingValue = (1.0 - keep).cast("float64")
    for c in rules.caps:
        score = ibis.ifelse(t[hit_column(c)] & (score > c.weight),
                            ibis.literal(c.weight, type="float64"), score)
    return t.mutate(rule_score=score.cast("float64"))
