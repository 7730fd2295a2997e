"""Our PowerShell modules' documented contract, read without Windows or pwsh: the lab emulates it.

- `load_sidecar(path)` reads a module's `.yml` documentation (DOCUMENTATION, EXAMPLES, RETURN).
- `extract_spec(source)` evaluates the literal `$spec = @{ ... }` hashtable of an Ansible.Basic module
  (hashtables, `@()` arrays with PowerShell's unrolling rules, the unary comma, strings, integers,
  `$true`/`$false`/`$null`, and variables assigned a literal earlier in the file) into Python values; the
  file is parsed with tree-sitter-powershell first (`parse`, `syntax_errors`).
- `argspec_from_doc(documentation)` turns DOCUMENTATION options into an argument spec, so an emulator can
  validate module arguments from the documentation alone (`no_log` comes from the fixed sentence
  `NO_LOG_MARKER` in the option's description, as the documentation schema has no `no_log` key).
- `load_argspec(name)` is the full spec of one of our modules, read from its `.ps1` (it also holds
  `mutually_exclusive`, `required_one_of` ... which the documentation does not carry as data).
- `module_contract(name)` is what the lab validates a module call against: (argument spec, sidecar).

tests/support/ps_spec.py re-exports all of this for the unit tests (which add the checks `validate-modules` would
make); this module imports nothing from the other test helpers. It is test support, not lab code, because the
unit tests ship in the Galaxy artifact and the lab (lab/argspec.py validates module calls with it) does not.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tree_sitter
import tree_sitter_powershell
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES_DIR = ROOT / "plugins" / "modules"

NO_LOG_MARKER = "This option is C(no_log), its value is never logged or returned."


_LANGUAGE = tree_sitter.Language(tree_sitter_powershell.language())


class SpecError(ValueError):
    """The spec uses a construct this evaluator does not support (it is deliberately strict)."""


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 1-based
    column: int  # 1-based
    kind: str  # "ERROR" or "MISSING"
    text: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.kind} {self.text!r}"


def parse(source: str | bytes) -> tree_sitter.Tree:
    data = source.encode("utf-8") if isinstance(source, str) else source
    return tree_sitter.Parser(_LANGUAGE).parse(data)


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def syntax_errors(source: str | bytes) -> list[SyntaxProblem]:
    """Every ERROR and MISSING node of the parse, outermost first."""
    return _tree_problems(parse(source))


def _tree_problems(tree: tree_sitter.Tree) -> list[SyntaxProblem]:
    problems = []
    for node in _walk(tree.root_node):
        if node.is_error or node.is_missing:
            text = node.text.decode("utf-8", "replace") if node.text else ""
            first_line = text.splitlines()[0] if text else node.type
            problems.append(
                SyntaxProblem(
                    line=node.start_point.row + 1,
                    column=node.start_point.column + 1,
                    kind="MISSING" if node.is_missing else "ERROR",
                    text=first_line[:120],
                )
            )
    return problems


# ---------------------------------------------------------------------------------------------------
# Literal evaluation
# ---------------------------------------------------------------------------------------------------


class _Unrollable(list):
    """A PowerShell array value: unrolled one level when it is the output of a statement in `@( )`."""


def _strip(node: tree_sitter.Node) -> tree_sitter.Node:
    """Descend through single-child wrapper nodes (pipeline, logical_expression, ...)."""
    while node.named_child_count == 1 and node.child_count == 1:
        node = node.children[0]
    return node


def _text(node: tree_sitter.Node) -> str:
    return node.text.decode("utf-8") if node.text else ""


class _Evaluator:
    def __init__(self, variables: dict[str, Any]):
        self.variables = variables

    def value(self, node: tree_sitter.Node) -> Any:
        # Strings first: their single child would otherwise be mistaken for a wrapper.
        node = self._strip_to_value(node)
        kind = node.type
        if kind == "hash_literal_expression":
            return self.hashtable(node)
        if kind == "array_expression":
            return self.array_expression(node)
        if kind == "array_literal_expression":
            items = [self.value(c) for c in node.named_children]
            return _Unrollable(items)
        if kind == "expression_with_unary_operator":
            op = node.children[0].type
            operand = node.children[1]
            if op == ",":
                return _Unrollable([self.value(operand)])
            if op == "-":
                inner = self.value(operand)
                if isinstance(inner, int | float) and not isinstance(inner, bool):
                    return -inner
            raise SpecError(f"unsupported unary expression {_text(node)!r}")
        if kind == "verbatim_string_characters":
            raw = _text(node)
            if not (raw.startswith("'") and raw.endswith("'")):
                raise SpecError(f"unsupported string {raw!r}")
            return raw[1:-1].replace("''", "'")
        if kind == "expandable_string_literal":
            raw = _text(node)
            inner = raw[1:-1]
            if "$" in inner or "`" in inner:
                raise SpecError(f"expandable string with substitutions is not a literal: {raw!r}")
            return inner.replace('""', '"')
        if kind in ("decimal_integer_literal", "integer_literal"):
            raw = _text(node)
            if not raw.isdigit():
                raise SpecError(f"unsupported integer literal {raw!r}")
            return int(raw)
        if kind == "real_literal":
            return float(_text(node))
        if kind == "variable":
            name = _text(node)[1:].lower()
            if name == "true":
                return True
            if name == "false":
                return False
            if name == "null":
                return None
            if name in self.variables:
                return self.variables[name]
            raise SpecError(f"variable ${name} has no literal value known before the spec")
        raise SpecError(f"unsupported expression {kind} {_text(node)[:60]!r}")

    def _strip_to_value(self, node: tree_sitter.Node) -> tree_sitter.Node:
        while True:
            if node.type in ("string_literal",) and node.named_child_count == 1:
                node = node.named_children[0]
                continue
            if node.type in ("expandable_string_literal", "verbatim_string_characters"):
                return node
            if node.named_child_count == 1 and node.child_count == 1:
                node = node.children[0]
                continue
            return node

    def hashtable(self, node: tree_sitter.Node) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for body in node.named_children:
            if body.type != "hash_literal_body":
                raise SpecError(f"unexpected {body.type} in hashtable")
            for entry in body.named_children:
                if entry.type != "hash_entry":
                    raise SpecError(f"unexpected {entry.type} in hashtable body")
                key_node = entry.named_children[0]
                key = self.key(key_node)
                if key.lower() in (k.lower() for k in result):
                    raise SpecError(f"duplicate hashtable key {key!r}")
                value_nodes = entry.named_children[1:]
                if len(value_nodes) != 1:
                    raise SpecError(f"hashtable entry {key!r} does not hold exactly one expression")
                result[key] = _plain(self.value(value_nodes[0]))
        return result

    def key(self, node: tree_sitter.Node) -> str:
        node = self._strip_to_value(node)
        if node.type == "simple_name":
            return _text(node)
        value = self.value(node)
        if not isinstance(value, str):
            raise SpecError(f"unsupported hashtable key {_text(node)!r}")
        return value

    def array_expression(self, node: tree_sitter.Node) -> _Unrollable:
        items: _Unrollable = _Unrollable()
        inner = list(node.named_children)
        statements: list[tree_sitter.Node] = []
        for child in inner:
            if child.type == "statement_list":
                statements.extend(child.named_children)
            else:
                statements.append(child)
        for statement in statements:
            value = self.value(statement)
            if isinstance(value, _Unrollable):
                items.extend(value)  # pipeline output is unrolled one level
            else:
                items.append(value)
        return items


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _assignments(root: tree_sitter.Node) -> Iterator[tuple[str, tree_sitter.Node]]:
    """Top-level `$name = <expression>` statements, in order."""
    for statement_list in root.named_children:
        if statement_list.type != "statement_list":
            continue
        for statement in statement_list.named_children:
            node = _strip(statement)
            if node.type != "assignment_expression":
                continue
            target = _strip(node.named_children[0])
            operator = node.named_children[1]
            if target.type != "variable" or _text(operator) != "=":
                continue
            yield _text(target)[1:].lower(), node.named_children[2]


def extract_spec(source: str | bytes, name: str = "spec") -> dict[str, Any]:
    """Evaluate the top-level `$spec = @{ ... }` of a module (the first assignment to `$<name>`)."""
    tree = parse(source)
    problems = syntax_errors(source)
    if problems:
        raise SpecError(f"the file does not parse: {problems[0]}")
    variables: dict[str, Any] = {}
    for var, value_node in _assignments(tree.root_node):
        if var == name:
            spec = _Evaluator(variables).value(value_node)
            if not isinstance(spec, dict):
                raise SpecError(f"${name} is not a hashtable")
            return spec
        try:
            variables[var] = _plain(_Evaluator(variables).value(value_node))
        except SpecError:
            variables.pop(var, None)  # not a literal: later references fail loudly
    raise SpecError(f"no top-level ${name} = @{{...}} assignment found")


# ---------------------------------------------------------------------------------------------------
# Sidecar documentation
# ---------------------------------------------------------------------------------------------------


def load_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar's top-level DOCUMENTATION (dict), EXAMPLES (str), RETURN (dict)."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    return data


def _description_lines(description: Any) -> list[str]:
    if description is None:
        return []
    if isinstance(description, str):
        return [description]
    return [str(d) for d in description]


def argspec_from_doc(documentation: dict[str, Any]) -> dict[str, Any]:
    """An Ansible.Basic-style argument spec (`options` only) built from DOCUMENTATION."""

    def convert(options: dict[str, Any] | None) -> dict[str, Any]:
        result = {}
        for name, doc in (options or {}).items():
            spec: dict[str, Any] = {"type": doc.get("type", "str")}
            for key in ("elements", "required", "default", "choices", "aliases"):
                if key in doc:
                    spec[key] = doc[key]
            if NO_LOG_MARKER in _description_lines(doc.get("description")):
                spec["no_log"] = True
            if "suboptions" in doc:
                spec["options"] = convert(doc["suboptions"])
            result[name] = spec
        return result

    attributes = documentation.get("attributes") or {}
    check_mode = (attributes.get("check_mode") or {}).get("support") in ("full", "partial")
    return {"options": convert(documentation.get("options")), "supports_check_mode": check_mode}


def module_paths(name: str) -> tuple[Path, Path]:
    return MODULES_DIR / f"{name}.ps1", MODULES_DIR / f"{name}.yml"


def load_argspec(name: str) -> dict[str, Any]:
    """The full argument spec of one of our PowerShell modules, read from its `.ps1`."""
    ps1, _sidecar = module_paths(name)
    return extract_spec(ps1.read_bytes())


@functools.cache
def module_contract(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(argument spec, sidecar) of one of our modules; KeyError when it has no sidecar.

    The spec comes from the module's `.ps1` (`$spec`) when the file exists, else from the sidecar's
    DOCUMENTATION.
    """
    ps1, sidecar_path = module_paths(name)
    if not sidecar_path.exists():
        raise KeyError(name)
    sidecar = load_sidecar(sidecar_path)
    spec = load_argspec(name) if ps1.exists() else argspec_from_doc(sidecar["DOCUMENTATION"])
    return spec, sidecar
