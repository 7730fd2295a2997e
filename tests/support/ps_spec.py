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

`syntax_errors`, `extract_spec`, `load_sidecar`, `argspec_from_doc` and `load_argspec` (with `parse`,
`SpecError`, `SyntaxProblem`, `module_paths`, `NO_LOG_MARKER`) live in `tests.support.contract`, because the
lab validates module calls against the same contract; they are re-exported here unchanged.

Import it as `from tests.support import ps_spec` (the repository root on sys.path) or by file path.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tree_sitter

# The contract the lab emulates (sidecars, the literal $spec, the PowerShell parse) lives in
# tests.support.contract; its names stay importable from here unchanged. Loaded by file path, without the
# repository root on sys.path, it puts the root there first.
if str(Path(__file__).resolve().parents[2]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.contract import (  # noqa: F401  re-exported for the tests; pylint: disable=unused-import
    MODULES_DIR,
    NO_LOG_MARKER,
    SpecError,
    SyntaxProblem,
    _text,
    _tree_problems,
    _walk,
    argspec_from_doc,
    extract_spec,
    load_argspec,
    load_sidecar,
    module_paths,
    parse,
    syntax_errors,
)

ROOT = Path(__file__).resolve().parents[2]
MODULE_UTILS_DIR = ROOT / "plugins" / "module_utils"
COLLECTION = "mfa_server.tls"
UTIL_PREFIX = f"ansible_collections.{COLLECTION}.plugins.module_utils."

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


def validate_spec_keys(spec: dict[str, Any], context: str = "spec") -> list[str]:
    """Keys Ansible.Basic would reject as unknown (it fails the module with 'Unsupported parameters')."""
    problems = [f"{context}: unknown spec key {k!r}" for k in spec if k not in SPEC_OPTION_KEYS]
    for opt, meta in (spec.get("options") or {}).items():
        if not isinstance(meta, dict):
            problems.append(f"{context}.{opt}: option spec is not a hashtable")
            continue
        problems.extend(validate_spec_keys(meta, f"{context}.{opt}"))
    return problems


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


def powershell_modules() -> list[str]:
    return sorted(p.stem for p in MODULES_DIR.glob("*.ps1"))


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
    name: str  # as written, e.g. ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding
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
