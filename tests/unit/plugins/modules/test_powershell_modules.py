"""What validate-modules and pslint would check, without pwsh: grammar, argspec vs sidecar docs, ansible-doc.

Nothing here runs PowerShell. The grammar is tree-sitter-powershell; the argument spec is evaluated from the
literal `$spec` hashtable by tests/ps_spec.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from tests import ps_spec  # noqa: E402

MODULES = ps_spec.powershell_modules()
EXPECTED = {"certificate_import", "iis_binding_certificate", "iis_tls_info", "mfa_server_info"}
SECRET_NAME = re.compile(r"password|secret|passphrase|^content$|private_key")
SHARED_BLOCKS = {
    "shared binding helpers": ("iis_tls_info", "iis_binding_certificate"),
    "shared HTTP.sys helper": ("iis_tls_info", "iis_binding_certificate"),
}


def _source(name: str) -> str:
    return ps_spec.module_paths(name)[0].read_text(encoding="utf-8")


def _sidecar(name: str) -> dict:
    return ps_spec.load_sidecar(ps_spec.module_paths(name)[1])


def test_all_modules_present():
    assert set(MODULES) >= EXPECTED


# ---- grammar ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_grammar_has_no_errors(name):
    problems = ps_spec.syntax_errors(_source(name))
    assert not problems, f"plugins/modules/{name}.ps1 does not parse:\n" + "\n".join(
        f"  plugins/modules/{name}.ps1:{p}" for p in problems
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


@pytest.mark.parametrize("block", sorted(SHARED_BLOCKS))
def test_shared_blocks_are_identical(block):
    texts = []
    for name in SHARED_BLOCKS[block]:
        source = _source(name)
        start = source.index(f"# BEGIN {block}")
        end = source.index(f"# END {block}")
        texts.append(source[start:end])
    assert all(t == texts[0] for t in texts), f"the '{block}' copies differ between {SHARED_BLOCKS[block]}"


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


# ---- ansible-doc -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(name):
    ansible_doc = Path(sys.executable).parent / "ansible-doc"
    result = subprocess.run(
        [str(ansible_doc), f"mfa_server.tls.{name}"],
        cwd=ROOT,
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
