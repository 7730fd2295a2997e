"""What validate-modules and pslint would check, without pwsh: grammar, argspec vs sidecar docs, ansible-doc.

Nothing here runs PowerShell. The grammar is tree-sitter-powershell; the argument spec is evaluated from the
literal `$spec` hashtable by tests/support/ps_spec.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from tests.support import documentation, ps_spec  # noqa: E402
from tests.support.collection_paths import ansible_env, collection_roots  # noqa: E402

MODULES = ps_spec.powershell_modules()
EXPECTED = {
    "acme_http_challenge",
    "certificate_import",
    "certificate_remove",
    "host_tls_info",
    "iis_binding_certificate",
    "iis_tls_info",
    "mfa_server_info",
}
SECRET_NAME = re.compile(r"password|secret|passphrase|^content$|private_key")
PS_UTILS = ps_spec.powershell_module_utils()
CS_UTILS = ps_spec.csharp_module_utils()
EXPECTED_UTILS = {
    "_AcmeHttpChallenge.cs",
    "_CertificateInfo.psm1",
    "_HttpSysSsl.cs",
    "_IisBinding.psm1",
    "_IisTlsReport.psm1",
    "_MfaServerReport.psm1",
    "_ReportModule.psm1",
}
# Commands the modules and utils may call without defining them: PowerShell's own, and IIS's WebAdministration.
BUILTIN_COMMANDS = {
    "add-type",
    "backup-webconfiguration",
    "copy-item",
    "export-modulemember",
    "foreach-object",
    "get-childitem",
    "get-item",
    "get-service",
    "import-module",
    "join-path",
    "new-item",
    "new-object",
    "select-object",
    "sort-object",
    "test-path",
    "where-object",
}


def _source(name: str) -> str:
    return ps_spec.module_paths(name)[0].read_text(encoding="utf-8")


def _sidecar(name: str) -> dict:
    """The sidecar, its DOCUMENTATION with the doc fragments merged in (as ansible-doc and validate-modules
    read it)."""
    path = ps_spec.module_paths(name)[1]
    sidecar = ps_spec.load_sidecar(path)
    return sidecar | {"DOCUMENTATION": documentation.merged(sidecar["DOCUMENTATION"], path)}


def test_all_modules_present():
    assert set(MODULES) >= EXPECTED


# ---- grammar ------------------------------------------------------------------------------------------


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize(
    "path",
    [ps_spec.module_paths(name)[0] for name in MODULES] + PS_UTILS,
    ids=lambda p: p.name,
)
def test_grammar_has_no_errors(path):
    problems = ps_spec.syntax_errors(path.read_bytes())
    assert not problems, f"{_relative(path)} does not parse:\n" + "\n".join(
        f"  {_relative(path)}:{p}" for p in problems
    )


@pytest.mark.parametrize(
    "snippet",
    [
        "$spec = @{ options = @{ a = @{ type = 'str' }\n",  # unclosed hashtable
        "if ($x { $y = 1 }\n",  # unclosed parenthesis
        "$a = (1 + )\n",  # missing operand
        "function f { param($x) \n",  # unclosed function body
        "foreach ($i in $list) { $i\n",
    ],
)
def test_grammar_check_catches_broken_code(snippet):
    problems = ps_spec.syntax_errors(snippet)
    assert problems, f"the grammar check accepted broken code: {snippet!r}"
    assert all(p.line >= 1 and p.kind in ("ERROR", "MISSING") for p in problems)
    assert str(problems[0]).startswith("line ")


def test_grammar_check_accepts_valid_code():
    assert ps_spec.syntax_errors("$x = @{ a = 1; b = @(, @('c', 'd')) }\nif ($x.a -eq 1) { $x.b }\n") == []


@pytest.mark.parametrize("name", MODULES)
def test_module_shape(name):
    source = _source(name)
    assert source.startswith("#!powershell\n")
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in source
    assert "[Ansible.Basic.AnsibleModule]::Create($args, $spec)" in source
    assert "$module.ExitJson()" in source
    # Assigning PowerShell automatic variables silently breaks code ($host, $matches, $input, $args ...).
    reserved = re.findall(r"^\s*\$(host|matches|input|args|error|this|_|psitem)\s*=", source, re.I | re.M)
    assert not reserved, f"{name}.ps1 assigns automatic variables: {reserved}"


# ---- module utils -------------------------------------------------------------------------------------
# Shared code lives in plugins/module_utils: PowerShell utils (.psm1) and C# utils (.cs), loaded by ansible-core
# from `#AnsibleRequires -PowerShell|-CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils.<Name>`.


def test_module_utils_present():
    assert {p.name for p in PS_UTILS + CS_UTILS} >= EXPECTED_UTILS


def _requirements(path: Path) -> list[ps_spec.Requirement]:
    return ps_spec.module_util_requires(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path",
    [ps_spec.module_paths(name)[0] for name in MODULES] + PS_UTILS,
    ids=lambda p: p.name,
)
def test_requires_resolve_to_files(path):
    """Every `#AnsibleRequires` of ours names an existing util, by the name ansible-core resolves."""
    for requirement in _requirements(path):
        if requirement.name.startswith("Ansible."):
            continue  # ansible-core's own utils (Ansible.Basic, Ansible.ModuleUtils.*)
        assert requirement.ours, (
            f"{_relative(path)}: '{requirement.name}' is neither ansible-core's nor {ps_spec.UTIL_PREFIX}<Name>"
        )
        assert not requirement.optional, f"{_relative(path)}: {requirement.name} must not be -Optional"
        assert requirement.path().is_file(), (
            f"{_relative(path)}: #AnsibleRequires -{requirement.kind} {requirement.name} needs "
            f"{_relative(requirement.path())}, which does not exist"
        )


def test_every_util_is_used():
    used = {r.path() for name in MODULES for r in _requirements(ps_spec.module_paths(name)[0]) if r.ours}
    unused = {p.name for p in PS_UTILS + CS_UTILS} - {p.name for p in used}
    assert not unused, f"module utils no module requires: {sorted(unused)}"


def test_ansible_core_packages_the_utils():
    """ansible-core's own dependency finder (what builds the module manifest) resolves every util of ours."""
    modules = [str(ps_spec.module_paths(name)[0]) for name in MODULES]
    script = f"""
import json, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths={collection_roots()!r})._install()
from ansible.errors import AnsibleError
from ansible.executor.powershell.module_manifest import PSModuleDepFinder
found = {{}}
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[1][: -len(".ps1")]
    finder = PSModuleDepFinder()
    with open(path, "rb") as handle:
        finder.scan_module(handle.read(), fqn="ansible_collections.{ps_spec.COLLECTION}.plugins.modules." + name)
    if hasattr(finder, "scripts"):  # ansible-core 2.19 and later: one map keyed by name and extension
        found[name] = {{key: info.path for key, info in finder.scripts.items()}}
    else:  # 2.18 (the lowest we support): PowerShell and C# utils apart, keyed by name alone
        found[name] = {{key + ".psm1": info["path"] for key, info in finder.ps_modules.items()}}
        found[name].update({{key + ".cs": info["path"] for key, info in finder.cs_utils_module.items()}})
# 2.18 adds AddType for C# utils when it builds the wrapper, not in the finder: only a 2.19+ finder lists it
found["<finder adds AddType>"] = hasattr(PSModuleDepFinder(), "scripts")
try:
    PSModuleDepFinder().scan_module(b"#AnsibleRequires -PowerShell {ps_spec.UTIL_PREFIX}NoSuchUtil\\n")
    found["<missing>"] = "resolved"
except AnsibleError as error:
    found["<missing>"] = str(error)
print(json.dumps(found))
"""
    result = subprocess.run(
        [sys.executable, "-c", script, *modules],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    adds_add_type = found.pop("<finder adds AddType>")
    assert "Could not find" in found.pop("<missing>"), (
        "the dependency finder accepted a util that does not exist"
    )
    for name in MODULES:
        for requirement in _requirements(ps_spec.module_paths(name)[0]):
            if not requirement.ours:
                continue
            key = requirement.name + requirement.extension
            assert key in found[name], f"ansible-core does not package {key} with {name}"
            assert Path(found[name][key]).resolve() == requirement.path().resolve()
        uses_csharp = any(r.kind == "CSharpUtil" for r in _requirements(ps_spec.module_paths(name)[0]))
        if adds_add_type and uses_csharp:
            assert "Ansible.ModuleUtils.AddType.psm1" in found[name]


@pytest.mark.parametrize("path", PS_UTILS, ids=lambda p: p.name)
def test_powershell_util_exports(path):
    """A .psm1 exports (Export-ModuleMember) only functions it defines, and no module-level variables."""
    source = path.read_text(encoding="utf-8")
    exported = ps_spec.exported_functions(source)
    assert exported, f"{path.name} exports nothing: list its functions in $exportMembers"
    assert "Export-ModuleMember @exportMembers" in source
    missing = {f.lower() for f in exported} - ps_spec.defined_functions(source)
    assert not missing, f"{path.name} exports functions it does not define: {sorted(missing)}"
    assert "$module" not in source, (
        f"{path.name} uses the module's $module: pass values as parameters instead"
    )


def _provided_by(path: Path) -> set[str]:
    """Functions a module or util can call: its own, and those exported by the PowerShell utils it requires."""
    source = path.read_text(encoding="utf-8")
    names = ps_spec.defined_functions(source)
    for requirement in _requirements(path):
        if requirement.ours and requirement.kind == "PowerShell" and requirement.path().is_file():
            names |= {
                f.lower() for f in ps_spec.exported_functions(requirement.path().read_text(encoding="utf-8"))
            }
    return names


@pytest.mark.parametrize(
    "path",
    [ps_spec.module_paths(name)[0] for name in MODULES] + PS_UTILS,
    ids=lambda p: p.name,
)
def test_called_functions_are_defined_or_required(path):
    """A function moved into a util must be exported there and required by every module that calls it."""
    unknown = ps_spec.called_commands(path.read_bytes()) - _provided_by(path) - BUILTIN_COMMANDS
    assert not unknown, (
        f"{_relative(path)} calls {sorted(unknown)}: define them, require the util that exports them, "
        "or (for a PowerShell cmdlet) add them to BUILTIN_COMMANDS"
    )


def test_no_helper_is_defined_twice():
    """Shared helpers live in module utils, not in copies: no function name is defined in two files."""
    owners: dict[str, list[str]] = {}
    for path in [ps_spec.module_paths(name)[0] for name in MODULES] + PS_UTILS:
        for function in ps_spec.defined_functions(path.read_bytes()):
            owners.setdefault(function, []).append(path.name)
    duplicated = {f: files for f, files in owners.items() if len(files) > 1}
    assert not duplicated, f"functions defined in more than one file: {duplicated}"


@pytest.mark.parametrize("path", CS_UTILS, ids=lambda p: p.name)
def test_csharp_util_parses(path):
    problems = ps_spec.csharp_syntax_errors(path.read_bytes())
    assert not problems, f"{_relative(path)} does not parse as C#:\n" + "\n".join(
        f"  {_relative(path)}:{p}" for p in problems
    )


def test_csharp_check_catches_broken_code():
    assert ps_spec.csharp_syntax_errors("namespace A { class B { void F() { int x = ; } } }")
    assert ps_spec.csharp_syntax_errors("namespace A { public class B { }")
    assert ps_spec.csharp_syntax_errors("using System;\nnamespace A { public class B { } }") == []


def _csharp_types(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    tree = ps_spec.csharp_parse(path.read_bytes())
    namespaces: list[str] = []
    types: dict[str, list[str]] = {}
    for node in ps_spec.walk(tree.root_node):
        name = node.child_by_field_name("name")
        if node.type in ("namespace_declaration", "file_scoped_namespace_declaration") and name is not None:
            namespaces.append(name.text.decode())
        elif node.type.endswith("_declaration") and node.type.split("_")[0] in ("class", "struct", "enum"):
            types[name.text.decode()] = [c.text.decode() for c in node.children if c.type == "modifier"]
    return namespaces, types


@pytest.mark.parametrize("path", CS_UTILS, ids=lambda p: p.name)
def test_csharp_util_layout(path):
    """The Ansible conventions for a collection C# util: one namespace named after the util's import name,
    `using` only for System namespaces (other utils would need `using ansible_collections...;`), and type
    accelerators that name public types of the util."""
    source = path.read_text(encoding="utf-8")
    namespaces, types = _csharp_types(path)
    assert namespaces == [ps_spec.UTIL_PREFIX + path.stem], (
        f"{path.name}: namespace must be {ps_spec.UTIL_PREFIX}{path.stem}"
    )
    for using in re.findall(r"(?m)^using\s+([\w.]+)\s*;", source):
        assert using == "System" or using.startswith(("System.", "Microsoft.")), f"{path.name}: using {using}"
    accelerators = re.findall(r"(?m)^//\s*TypeAccelerator\s+-Name\s+([\w.]+)\s+-TypeName\s+([\w.]+)", source)
    for _accelerator, type_name in accelerators:
        assert type_name in types, (
            f"{path.name}: TypeAccelerator names {type_name}, which it does not declare"
        )
        assert "public" in types[type_name], (
            f"{path.name}: {type_name} must be public to be used from PowerShell"
        )


def test_modules_use_csharp_types_they_require():
    """`[MfaServerTls.HttpSys]` in a module or PowerShell util only works when it requires the C# util that
    declares it."""
    for path in [ps_spec.module_paths(name)[0] for name in MODULES] + PS_UTILS:
        source = path.read_text(encoding="utf-8")
        available: set[str] = set()
        for requirement in _requirements(path):
            if requirement.ours and requirement.kind == "CSharpUtil":
                util = requirement.path().read_text(encoding="utf-8")
                available |= set(re.findall(r"(?m)^//\s*TypeAccelerator\s+-Name\s+([\w.]+)", util))
                available.add(requirement.name)
        for used in set(re.findall(r"\[(MfaServerTls\.\w+|ansible_collections\.[\w.]+)\]", source)):
            owner = used.rsplit(".", 1)[0] if used.startswith("ansible_collections.") else used
            assert owner in available, f"{path.name} uses [{used}] but requires no C# util that provides it"


# ---- the spec evaluator itself -------------------------------------------------------------------------


def test_spec_evaluator_follows_powershell_array_rules():
    spec = ps_spec.extract_spec(
        """
$shared = @{ type = 'str'; default = "x" }
$spec = @{
    options = @{
        a = $shared
        b = @{ type = 'list'; elements = 'int'; default = @(1, 2) }
        c = @{ type = 'list'; default = @() }
        d = @{ type = 'str'; choices = @('one') }
        e = @{ type = 'int'; default = -3 }
    }
    flattened = @(@('p', 'q'))
    nested = @(, @('p', 'q'))
    nested_lines = @(
        , @('p', 'q')
        , @('r', 's')
    )
    supports_check_mode = $true
}
"""
    )
    assert spec["options"]["a"] == {"type": "str", "default": "x"}
    assert spec["options"]["b"]["default"] == [1, 2]
    assert spec["options"]["c"]["default"] == []
    assert spec["options"]["d"]["choices"] == ["one"]
    assert spec["options"]["e"]["default"] == -3
    assert spec["flattened"] == ["p", "q"]  # PowerShell unrolls @(@(...)): the classic required_one_of bug
    assert spec["nested"] == [["p", "q"]]
    assert spec["nested_lines"] == [["p", "q"], ["r", "s"]]
    assert spec["supports_check_mode"] is True


@pytest.mark.parametrize(
    "source",
    [
        '$spec = @{ options = @{ a = @{ default = "$env:X" } } }',
        "$spec = @{ options = @{ a = @{ default = (Get-Date) } } }",
        "$spec = @{ options = @{ a = @{ default = $unknown } } }",
        "$other = 1",
    ],
)
def test_spec_evaluator_refuses_non_literals(source):
    with pytest.raises(ps_spec.SpecError):
        ps_spec.extract_spec(source)


# ---- argument spec vs documentation -----------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_spec_uses_only_known_keys(name):
    assert ps_spec.validate_spec_keys(ps_spec.load_argspec(name)) == []


@pytest.mark.parametrize("name", MODULES)
def test_spec_constraints_are_lists_of_lists(name):
    spec = ps_spec.load_argspec(name)
    options = set(spec["options"])
    for key in ("mutually_exclusive", "required_one_of", "required_together"):
        for group in spec.get(key, []):
            assert isinstance(group, list), f"{name}: {key} entry {group!r} is not a list (use @(, @(...)))"
            assert set(group) <= options, f"{name}: {key} names unknown options {set(group) - options}"


@pytest.mark.parametrize("name", MODULES)
def test_spec_matches_documentation(name):
    spec = ps_spec.load_argspec(name)
    documentation = _sidecar(name)["DOCUMENTATION"]
    from_doc = ps_spec.argspec_from_doc(documentation)

    code_options = ps_spec.normalise_options(spec["options"])
    doc_options = ps_spec.normalise_options(from_doc["options"])
    assert sorted(code_options) == sorted(doc_options), "option names differ between .ps1 and .yml"
    for option in code_options:
        for key in (*ps_spec.COMPARED_KEYS, "options"):
            assert code_options[option][key] == doc_options[option][key], (
                f"{name}: option {option!r} key {key!r}: .ps1 says {code_options[option][key]!r}, "
                f".yml says {doc_options[option][key]!r}"
            )
    assert bool(spec.get("supports_check_mode")) == from_doc["supports_check_mode"]


@pytest.mark.parametrize("name", MODULES)
def test_secrets_are_no_log(name):
    def walk(options, prefix=""):
        for option, meta in (options or {}).items():
            yield prefix + option, meta
            yield from walk(meta.get("options"), prefix + option + ".")

    for option, meta in walk(ps_spec.load_argspec(name)["options"]):
        if SECRET_NAME.search(option.rsplit(".", 1)[-1]):
            assert meta.get("no_log") is True, f"{name}: option {option} holds a secret but is not no_log"


def test_certificate_import_secrets():
    options = ps_spec.load_argspec("certificate_import")["options"]
    assert options["content"]["no_log"] is True
    assert options["password"]["no_log"] is True


# ---- sidecar documentation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_sidecar_sections(name):
    data = _sidecar(name)
    documentation = data.get("DOCUMENTATION")
    assert isinstance(documentation, dict), "DOCUMENTATION must be a mapping (ansible-doc reads it as one)"
    assert documentation["module"] == name
    for key in ("short_description", "description", "author", "attributes"):
        assert documentation.get(key), f"DOCUMENTATION lacks {key}"
    for option, meta in (documentation.get("options") or {}).items():
        assert meta.get("description"), f"option {option} has no description"
        assert "type" in meta, f"option {option} has no type"
        assert "no_log" not in meta, "no_log is not a documentation key: use ps_spec.NO_LOG_MARKER"
        if meta["type"] == "list":
            assert "elements" in meta, f"list option {option} has no elements"
    assert isinstance(data.get("EXAMPLES"), str) and data["EXAMPLES"].strip()
    assert isinstance(data.get("RETURN"), dict) and data["RETURN"]


def _check_return(entries: dict, path: str, top: bool) -> list[str]:
    problems = []
    for key, meta in entries.items():
        here = f"{path}{key}"
        if not isinstance(meta, dict):
            problems.append(f"{here}: not a mapping")
            continue
        if not meta.get("description"):
            problems.append(f"{here}: no description")
        if "type" not in meta:
            problems.append(f"{here}: no type")
        if top and "returned" not in meta:
            problems.append(f"{here}: no returned")
        if top and "sample" not in meta:
            problems.append(f"{here}: no sample")
        if meta.get("type") == "list" and "elements" not in meta:
            problems.append(f"{here}: list without elements")
        nested = meta.get("type") == "dict" or meta.get("elements") == "dict"
        if nested and not meta.get("contains"):
            problems.append(f"{here}: dict or list of dicts without contains")
        if meta.get("contains"):
            problems.extend(_check_return(meta["contains"], here + ".", top=False))
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_return_documentation_is_complete(name):
    assert _check_return(_sidecar(name)["RETURN"], "", top=True) == []


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_fqcn_and_documented_options(name):
    examples = yaml.safe_load(_sidecar(name)["EXAMPLES"])
    assert isinstance(examples, list) and examples
    spec = ps_spec.load_argspec(name)
    fqcn = f"mfa_server.tls.{name}"
    used = 0
    for task in examples:
        assert name not in task, f"example uses the short name {name}: write {fqcn}"
        if fqcn not in task:
            continue
        used += 1
        arguments = task[fqcn] or {}
        unknown = set(arguments) - set(spec["options"])
        assert not unknown, f"example {task.get('name')!r} uses undocumented options {unknown}"
    assert used, f"no example calls {fqcn}"


def _prefix_return_references(value, prefix: str):
    """The documentation of another module's return values as it reads inside RV(prefix): RV(x) -> RV(prefix.x)."""
    if isinstance(value, dict):
        return {key: _prefix_return_references(item, prefix) for key, item in value.items()}
    if isinstance(value, list):
        return [_prefix_return_references(item, prefix) for item in value]
    if isinstance(value, str):
        return re.sub(r"RV\(([^)]*)\)", lambda m: f"RV({prefix}.{m.group(1)})", value)
    return value


@pytest.mark.parametrize(("key", "module"), [("iis", "iis_tls_info"), ("mfa_server", "mfa_server_info")])
def test_host_tls_info_documents_what_the_two_modules_return(key, module):
    """host_tls_info returns exactly what iis_tls_info and mfa_server_info return: its RETURN says so entry by entry."""
    contains = _sidecar("host_tls_info")["RETURN"][key]["contains"]
    assert contains == _prefix_return_references(_sidecar(module)["RETURN"], key), (
        f"RETURN {key}.contains of host_tls_info.yml differs from RETURN of {module}.yml: copy it again "
        f"(indented under {key}.contains, RV(x) written RV({key}.x))"
    )


# ---- ansible-doc -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(name):
    ansible_doc = Path(sys.executable).parent / "ansible-doc"
    result = subprocess.run(
        [str(ansible_doc), f"mfa_server.tls.{name}"],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[ERROR]" not in result.stderr and "[WARNING]" not in result.stderr, result.stderr
    for section in ("OPTIONS", "ATTRIBUTES", "EXAMPLES", "RETURN VALUES"):
        if section == "OPTIONS" and not _sidecar(name)["DOCUMENTATION"].get("options"):
            continue
        assert section in result.stdout, f"ansible-doc output for {name} lacks {section}"
    for option in _sidecar(name)["DOCUMENTATION"].get("options") or {}:
        assert option in result.stdout


# ---- integration targets ----------------------------------------------------------------------------------

TARGETS = ROOT / "tests" / "integration" / "targets"
TASK_KEYWORDS = {
    "name",
    "register",
    "loop",
    "when",
    "vars",
    "check_mode",
    "diff",
    "ignore_errors",
    "no_log",
    "loop_control",
    "changed_when",
    "failed_when",
}


@pytest.mark.parametrize("name", MODULES)
def test_integration_target(name):
    target = TARGETS / name
    assert (target / "aliases").read_text().split() == ["windows", "shippable/windows/group1"]
    tasks = yaml.safe_load((target / "tasks" / "main.yml").read_text())
    assert isinstance(tasks, list) and tasks
    calls = 0
    for task in tasks:
        actions = [key for key in task if key not in TASK_KEYWORDS]
        assert len(actions) == 1, f"{name}: task {task.get('name')!r} has actions {actions}"
        action = actions[0]
        if action.startswith("mfa_server.tls."):
            calls += action == f"mfa_server.tls.{name}"
            module = action.rsplit(".", 1)[1]
            unknown = set(task[action] or {}) - set(ps_spec.load_argspec(module)["options"])
            assert not unknown, f"{name}: task {task.get('name')!r} passes unknown options {unknown}"
        elif action.startswith("ansible.windows."):
            # The lab emulates only our modules: host set-up and clean-up must be skippable there.
            assert "mfa_tls_it_manage_host" in str(task.get("when")), f"{name}: {action} must be guarded"
        else:
            assert action.startswith("ansible.builtin."), f"{name}: {action} is not FQCN or not allowed"
    assert calls >= 3, f"{name}: the target must call the module for a change, idempotence and check mode"
