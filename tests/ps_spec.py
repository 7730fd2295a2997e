"""PowerShell module helpers for tests: syntax check, argument spec extraction, sidecar documentation.

No Windows and no pwsh here, so this module stands in for what `validate-modules` would check:

- `syntax_errors(source)` parses PowerShell with tree-sitter-powershell and lists ERROR/MISSING nodes.
- `extract_spec(source)` evaluates the literal `$spec = @{ ... }` hashtable of an Ansible.Basic module
  (hashtables, `@()` arrays with PowerShell's unrolling rules, the unary comma, strings, integers,
  `$true`/`$false`/`$null`, and variables assigned a literal earlier in the file) into Python values.
- `load_sidecar(path)` reads a module's `.yml` documentation (DOCUMENTATION, EXAMPLES, RETURN).
- `argspec_from_doc(documentation)` turns DOCUMENTATION options into an argument spec, so an emulator can
  validate module arguments from the documentation alone (`no_log` comes from the fixed sentence
  `NO_LOG_MARKER` in the option's description, as the documentation schema has no `no_log` key).
- `normalise_options(options)` fills Ansible.Basic's defaults so two specs compare field by field.
- `load_argspec(name)` is the full spec of one of our modules, read from its `.ps1` (it also holds
  `mutually_exclusive`, `required_one_of` ... which the documentation does not carry as data).
- Module utils (`plugins/module_utils/*.psm1` and `*.cs`): `module_util_requires(source)` lists a file's
  `#AnsibleRequires -CSharpUtil/-PowerShell` lines, `defined_functions`, `called_commands` and
  `exported_functions` read PowerShell through the grammar, `csharp_syntax_errors` parses C# with
  tree-sitter-c-sharp (imported only when called).

Import it as `from tests import ps_spec` (the repository root on sys.path) or by file path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tree_sitter
import tree_sitter_powershell
import yaml

ROOT = Path(__file__).resolve().parent.parent
MODULES_DIR = ROOT / "plugins" / "modules"
MODULE_UTILS_DIR = ROOT / "plugins" / "module_utils"
COLLECTION = "mfa_server.tls"
UTIL_PREFIX = f"ansible_collections.{COLLECTION}.plugins.module_utils."

NO_LOG_MARKER = "This option is C(no_log), its value is never logged or returned."

# Ansible.Basic defaults for the option keys we compare (see Ansible.Basic.cs specDefaults).
OPTION_DEFAULTS: dict[str, Any] = {
    "type": "str",
    "elements": None,
    "required": False,
    "default": None,
    "choices": None,
    "no_log": False,
    "aliases": [],
}
COMPARED_KEYS = tuple(OPTION_DEFAULTS)
SPEC_OPTION_KEYS = frozenset(
    {
        "apply_defaults",
        "aliases",
        "choices",
        "default",
        "deprecated_aliases",
        "elements",
        "mutually_exclusive",
        "no_log",
        "options",
        "removed_in_version",
        "removed_at_date",
        "removed_from_collection",
        "required",
        "required_by",
        "required_if",
        "required_one_of",
        "required_together",
        "supports_check_mode",
        "type",
    }
)

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
        inner = [c for c in node.named_children]
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


def validate_spec_keys(spec: dict[str, Any], context: str = "spec") -> list[str]:
    """Keys Ansible.Basic would reject as unknown (it fails the module with 'Unsupported parameters')."""
    problems = [f"{context}: unknown spec key {k!r}" for k in spec if k not in SPEC_OPTION_KEYS]
    for opt, meta in (spec.get("options") or {}).items():
        if not isinstance(meta, dict):
            problems.append(f"{context}.{opt}: option spec is not a hashtable")
            continue
        problems.extend(validate_spec_keys(meta, f"{context}.{opt}"))
    return problems


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


def normalise_options(options: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Options with Ansible.Basic defaults filled in; sub-options normalised recursively."""
    result = {}
    for name, meta in (options or {}).items():
        entry = {key: meta.get(key, OPTION_DEFAULTS[key]) for key in COMPARED_KEYS}
        if entry["aliases"] is None:
            entry["aliases"] = []
        entry["aliases"] = sorted(entry["aliases"])
        entry["options"] = normalise_options(meta.get("options")) if meta.get("options") else {}
        result[name] = entry
    return result


def module_paths(name: str) -> tuple[Path, Path]:
    return MODULES_DIR / f"{name}.ps1", MODULES_DIR / f"{name}.yml"


def powershell_modules() -> list[str]:
    return sorted(p.stem for p in MODULES_DIR.glob("*.ps1"))


def load_argspec(name: str) -> dict[str, Any]:
    """The full argument spec of one of our PowerShell modules, read from its `.ps1`."""
    ps1, _ = module_paths(name)
    return extract_spec(ps1.read_bytes())


# ---------------------------------------------------------------------------------------------------
# Module utils
# ---------------------------------------------------------------------------------------------------

# The lines ansible-core's PSModuleDepFinder (executor/powershell/module_manifest.py) acts on: anchored at
# the start of the line, case-insensitive, optionally followed by -Optional.
_REQUIRES = re.compile(
    r"(?im)^#\s*ansiblerequires\s+-(?P<kind>csharputil|powershell)\s+(?P<name>[\w.]+)(?P<optional>\s+-Optional)?"
)


@dataclass(frozen=True)
class Requirement:
    kind: str  # "CSharpUtil" or "PowerShell"
    name: str  # as written, e.g. ansible_collections.mfa_server.tls.plugins.module_utils.IisBinding
    optional: bool

    @property
    def extension(self) -> str:
        return ".cs" if self.kind == "CSharpUtil" else ".psm1"

    @property
    def ours(self) -> bool:
        return self.name.startswith(UTIL_PREFIX)

    def path(self) -> Path:
        """Where the util lives in this collection (only for `ours`)."""
        relative = self.name[len(UTIL_PREFIX) :].replace(".", "/")
        return MODULE_UTILS_DIR / f"{relative}{self.extension}"


def module_util_requires(source: str) -> list[Requirement]:
    return [
        Requirement(
            kind="CSharpUtil" if m["kind"].lower() == "csharputil" else "PowerShell",
            name=m["name"],
            optional=bool(m["optional"]),
        )
        for m in _REQUIRES.finditer(source)
    ]


def powershell_module_utils() -> list[Path]:
    return sorted(MODULE_UTILS_DIR.glob("*.psm1"))


def csharp_module_utils() -> list[Path]:
    return sorted(MODULE_UTILS_DIR.glob("*.cs"))


def defined_functions(source: str | bytes) -> set[str]:
    """Names of every `function Name { }` in the file (case-folded, as PowerShell resolves them)."""
    return {_text(node).lower() for node in _walk(parse(source).root_node) if node.type == "function_name"}


def called_commands(source: str | bytes) -> set[str]:
    """Names of the commands the file invokes by name (`Get-Item`, `Get-IisHttpsBinding`), case-folded."""
    return {_text(node).lower() for node in _walk(parse(source).root_node) if node.type == "command_name"}


def exported_functions(source: str | bytes) -> list[str]:
    """The `Function` list of the literal `$exportMembers = @{ Function = ... }` a util passes to Export-ModuleMember."""
    members = extract_spec(source, name="exportmembers")
    functions = members.get("Function", [])
    return [functions] if isinstance(functions, str) else list(functions)


def csharp_syntax_errors(source: str | bytes) -> list[SyntaxProblem]:
    """ERROR and MISSING nodes of a C# parse (tree-sitter-c-sharp, pinned in requirements-dev.txt)."""
    return _tree_problems(csharp_parse(source))


def csharp_parse(source: str | bytes) -> tree_sitter.Tree:
    import tree_sitter_c_sharp

    data = source.encode("utf-8") if isinstance(source, str) else source
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c_sharp.language())).parse(data)


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node below `node`, depth first (for tests that look at a parse)."""
    return _walk(node)
