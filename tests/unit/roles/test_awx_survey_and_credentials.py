"""What AWX hands the roles fits the roles: the survey of the remediation job template (awx/surveys) and the
credential types (awx/credential_types) are valid for AWX, and every survey variable and every injected
extra_var is an option of the roles' argument specs, with a value the roles accept as AWX sends it.

AWX's own rules are restated here from its source (ansible/awx, awx/api/views/__init__.py
JobTemplateSurveySpec._validate_spec_data, awx/main/models/mixins.py _survey_element_validation,
awx/main/fields.py CredentialTypeInputField and CredentialTypeInjectorField): the checks run without AWX."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible_collections.mfa_server.tls.plugins.action.certificate_preflight import (
    ARGUMENT_SPEC as PREFLIGHT_SPEC,
)
from ansible_collections.mfa_server.tls.plugins.action.certificate_preflight import ActionModule as Preflight
from ansible_collections.mfa_server.tls.plugins.module_utils import scope
from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import PfxError
from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import (
    PLAN_OPTIONS,
    plan_from_options,
    split_names,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import ActionFailure
from tests.support import pki
from tests.support.chains import HOST, LabPKI

ROOT = Path(__file__).resolve().parents[3]
SURVEY = ROOT / "awx" / "surveys" / "remediate.json"
CREDENTIAL_TYPES = sorted((ROOT / "awx" / "credential_types").glob("*.yml"))

# List variables the survey may offer as text: each is split at commas and line breaks and trimmed in ONE
# place in Python, named here so that a list added to the survey without that normalisation fails this test.
NORMALISED_LISTS = {
    "mfa_tls_sites": split_names,
    # As tls_facts reads them: the scope's settings, their sites.
    "mfa_tls_include": lambda typed: [s.site for s in scope.settings_from({"include": typed}, None).include],
    "mfa_tls_exclude": lambda typed: [s.site for s in scope.settings_from({"exclude": typed}, None).exclude],
}

# AWX's survey question types and the Python type of their answers (SURVEY_TYPE_MAPPING).
SURVEY_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": list,
    "integer": int,
    "float": float,
}


def role_options(role: str) -> dict:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


# The remediation job template runs the remediate role, which validates discover's variables too.
OPTIONS = role_options("discover") | role_options("remediate")


def survey() -> dict:
    return json.loads(SURVEY.read_text())


def questions() -> list[dict]:
    return survey()["spec"]


def credential_type(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def role_accepts(variable: str, value) -> list[str]:
    """The role's own validation of one variable (as its validate_argument_spec task does): the errors."""
    validator = ArgumentSpecValidator({variable: OPTIONS[variable]})
    return validator.validate({variable: value}).error_messages


def choices(question: dict) -> list[str]:
    listed = question["choices"]
    return [c for c in listed.splitlines() if c.strip()] if isinstance(listed, str) else listed


# --- the survey as AWX validates it ---------------------------------------------------------------------------


def test_the_survey_is_a_survey_spec_awx_accepts():
    spec = survey()
    assert isinstance(spec["name"], str) and spec["name"]
    assert isinstance(spec["description"], str)
    assert isinstance(spec["spec"], list) and spec["spec"]
    variables = [q["variable"] for q in spec["spec"]]
    assert len(variables) == len(set(variables)), "AWX refuses a variable asked twice"
    for question in spec["spec"]:
        for field in ("type", "question_name", "variable"):
            assert isinstance(question[field], str), (question, field)
        assert isinstance(question["required"], bool), question
        assert question["type"] in SURVEY_TYPES, question
        if question.get("default", "") != "":
            assert isinstance(question["default"], SURVEY_TYPES[question["type"]]), question
        for limit in ("min", "max"):
            assert question.get(limit) is None or isinstance(question[limit], int), question
        if question["type"] in ("multiplechoice", "multiselect"):
            assert choices(question), question
            defaults = question.get("default", "")
            defaults = defaults.splitlines() if isinstance(defaults, str) else defaults
            assert all(d in choices(question) for d in defaults), question
            if question["type"] == "multiplechoice":
                assert len(defaults) <= 1, question


def test_survey_defaults_are_within_their_own_limits():
    """AWX applies min and max to an answer (its length for text): a default outside them cannot launch."""
    for question in questions():
        default = question.get("default")
        if default in (None, "") or question["type"] not in ("text", "textarea", "integer", "float"):
            continue
        measure = len(default) if isinstance(default, str) else default
        assert question.get("min") is None or measure >= question["min"], question
        assert question.get("max") is None or measure <= question["max"], question


# --- the survey against the roles' argument specs ------------------------------------------------------------


@pytest.mark.parametrize("question", questions(), ids=lambda q: q["variable"])
def test_every_survey_variable_is_a_role_option_of_a_compatible_type(question):
    variable, kind = question["variable"], question["type"]
    assert variable in OPTIONS, f"{variable} is in no argument spec of the remediate or discover role"
    option = OPTIONS[variable]
    option_type = option.get("type", "str")
    if kind in ("text", "textarea"):
        if option_type == "list":
            assert variable in NORMALISED_LISTS, f"{variable}: a list as text needs the normalisation"
        else:
            assert option_type in ("str", "path"), (variable, option_type)
    elif kind == "password":
        assert option_type == "str" and option.get("no_log") is True, (variable, option)
    elif kind == "integer":
        assert option_type in ("int", "float"), (variable, option_type)
    elif kind == "float":
        assert option_type == "float", (variable, option_type)
    elif kind == "multiselect":
        assert option_type == "list", (variable, option_type)
    if kind != "password":
        assert not option.get("no_log"), f"{variable} is a secret: AWX stores a {kind} answer in clear"
    if kind in ("multiplechoice", "multiselect") and "choices" in option:
        assert set(choices(question)) <= set(option["choices"]), (
            variable,
            choices(question),
            option["choices"],
        )


@pytest.mark.parametrize("question", questions(), ids=lambda q: q["variable"])
def test_every_answer_awx_can_send_passes_the_role_validation(question):
    """The default, every choice, and for text an empty answer (what AWX 17 to 24 send for an optional
    question left blank, and what ansible-core makes of it), validated as the role's first task validates
    them."""
    answers = [question["default"]] if "default" in question else []
    if question["type"] == "multiplechoice":
        answers += choices(question)
    if question["type"] in ("text", "textarea") and not question["required"]:
        # AWX writes a blank answer as `!unsafe ''`, which ansible-core 2.19 and later load as null.
        answers += ["", None]
    assert answers, question
    for answer in answers:
        assert role_accepts(question["variable"], answer) == [], (question["variable"], answer)


def test_docs_list_exactly_the_questions_of_the_survey():
    text = (ROOT / "docs" / "awx.md").read_text()
    section = text.split("### The remediation survey", 1)[1].split("\n#", 1)[0]
    documented = re.findall(r"^\| `(mfa_tls_\w+)` \|", section, re.M)
    assert documented == [q["variable"] for q in questions()]


def test_the_survey_asks_for_no_secret_and_no_variable_a_credential_injects():
    """Secrets come from credentials, which AWX encrypts and injects; an extra_var both asked and injected
    would collide (AWX leaves the extra_vars namespace to the credential type's author)."""
    injected = {
        name for path in CREDENTIAL_TYPES for name in credential_type(path)["injectors"]["extra_vars"]
    }
    asked = {q["variable"] for q in questions()}
    assert not asked & injected
    assert not [q for q in questions() if q["type"] == "password"]


# --- the credential types as AWX validates them -------------------------------------------------------------

FIELD_KEYS = {
    "id",
    "label",
    "help_text",
    "type",
    "format",
    "secret",
    "multiline",
    "choices",
    "default",
    "ask_at_runtime",
}
EXTRA_VAR_NAME = re.compile(r"^[a-zA-Z_{}]+[a-zA-Z0-9_{}]*$")


def test_there_are_the_three_credential_types():
    assert {credential_type(p)["name"] for p in CREDENTIAL_TYPES} == {
        "MFA TLS certificate",
        "ACME account",
        "RFC 2136 TSIG",
    }


@pytest.mark.parametrize("path", CREDENTIAL_TYPES, ids=lambda p: p.stem)
def test_each_credential_type_is_one_awx_accepts(path):
    definition = credential_type(path)
    assert set(definition) <= {"name", "description", "kind", "inputs", "injectors"}
    assert definition["kind"] in ("cloud", "net"), "custom credential types are of kind cloud or net"
    inputs, injectors = definition["inputs"], definition["injectors"]
    assert set(inputs) <= {"fields", "required"}
    ids = [field["id"] for field in inputs["fields"]]
    assert len(ids) == len(set(ids)) and "tower" not in ids
    for field in inputs["fields"]:
        assert set(field) <= FIELD_KEYS and {"id", "label"} <= set(field), field
        assert re.fullmatch(r"[a-zA-Z_]+[a-zA-Z0-9_]*", field["id"]), field
        assert field.get("type", "string") in ("string", "boolean"), field
        assert field.get("format") in (None, "ssh_private_key", "url"), field
        if field.get("type", "string") == "boolean":
            assert not {"choices", "multiline", "format", "secret"} & set(field), field
        if "default" in field:
            assert isinstance(field["default"], bool if field.get("type") == "boolean" else str), field
        if "choices" in field:
            assert field["choices"] and len(set(field["choices"])) == len(field["choices"]), field
            assert "default" not in field or field["default"] in field["choices"], field
    assert set(inputs.get("required", [])) <= set(ids)
    # Extra vars only: no file is written and no environment variable is set for these.
    assert set(injectors) == {"extra_vars"}
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for name, template in injectors["extra_vars"].items():
        assert EXTRA_VAR_NAME.match(name) and not name.upper().startswith("ANSIBLE_"), name
        # As AWX validates an injector: it renders with every defined field and nothing else.
        environment.from_string(template).render({field_id: "EXAMPLE" for field_id in ids})


def injections() -> list[tuple[str, str, dict]]:
    """(credential type, extra_var, the one input field its template renders)."""
    environment = ImmutableSandboxedEnvironment()
    found = []
    for path in CREDENTIAL_TYPES:
        definition = credential_type(path)
        fields = {field["id"]: field for field in definition["inputs"]["fields"]}
        for name, template in definition["injectors"]["extra_vars"].items():
            (field_id,) = meta.find_undeclared_variables(environment.parse(template))
            assert template.replace(" ", "") == "{{" + field_id + "}}", (name, template)
            found.append((definition["name"], name, fields[field_id]))
    return found


@pytest.mark.parametrize(
    ("kind", "variable", "field"), injections(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_injected_extra_var_is_a_role_option_and_secrets_go_only_to_no_log_options(
    kind, variable, field
):
    assert variable in OPTIONS, f"{kind} injects {variable}, which no role argument spec knows"
    option = OPTIONS[variable]
    if field.get("secret"):
        assert option.get("no_log") is True, f"{kind} injects the secret {field['id']} into {variable}"
    if option.get("no_log"):
        assert field.get("secret") is True, f"{variable} is no_log, so {kind} must keep {field['id']} secret"
    expected = ("bool",) if field.get("type") == "boolean" else ("str", "path", "raw")
    assert option.get("type", "str") in expected, (variable, option)
    if "choices" in field and "choices" in option:
        assert set(field["choices"]) <= set(option["choices"]), (variable, field["choices"])
    samples = field.get("choices") or [field.get("default") or "EXAMPLE"]
    for sample in samples:
        assert role_accepts(variable, sample) == [], (variable, sample)


def test_no_two_credential_types_inject_the_same_variable():
    names = [variable for _kind, variable, _field in injections()]
    assert len(names) == len(set(names))


def test_what_the_certificate_credential_hands_over_is_what_the_role_reads():
    definition = next(credential_type(p) for p in CREDENTIAL_TYPES if p.stem == "mfa_tls_certificate")
    assert definition["injectors"]["extra_vars"] == {
        "mfa_tls_pfx_content": "{{ pfx_base64 }}",
        "mfa_tls_pfx_password": "{{ pfx_password }}",
    }
    assert all(field["secret"] for field in definition["inputs"]["fields"])
    assert set(definition["inputs"]["required"]) == {"pfx_base64", "pfx_password"}


# --- lists as a survey's text field gives them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        ("Portal, Default Web Site", ["Portal", "Default Web Site"]),
        # What Ansible's `type: list` makes of that string: split at the commas, not trimmed.
        (["Portal", " Default Web Site"], ["Portal", "Default Web Site"]),
        ("Portal\nDefault Web Site\n", ["Portal", "Default Web Site"]),
        ("Portal\r\n  Default Web Site ,Reports", ["Portal", "Default Web Site", "Reports"]),
        (" Portal , Portal,", ["Portal"]),
        ("", []),
        (" , ", []),
        (None, []),
        ([], []),
        (["Default Web Site"], ["Default Web Site"]),
    ],
)
def test_site_names_are_split_at_commas_and_line_breaks_and_trimmed(typed, names):
    for variable, normalise in NORMALISED_LISTS.items():
        assert normalise(typed) == names, variable


def _review(*sites: str) -> dict:
    """A host where each site has one non-compliant Mobile App Web Service binding of its own."""
    return {
        "endpoints": [
            {
                "site": site,
                "binding_information": f"*:{8443 + index}:",
                "component": "mobile_app_web_service",
                "compliant": False,
                "public_name": HOST,
                "url": f"https://{HOST}:{8443 + index}/",
                "address": f"127.0.0.1:{8443 + index}",
                "ccs": False,
                "http_sys_key": f"ipport=0.0.0.0:{8443 + index}",
                "server_side": {"findings": []},
                "certificate": {"thumbprint": "A" * 40, "store_name": "My"},
            }
            for index, site in enumerate(sites)
        ],
        "http_sys_entries": [],
    }


@pytest.mark.parametrize("typed", ["Portal , Reports", " Reports,\nPortal "])
def test_a_survey_string_of_sites_narrows_the_plan_through_the_same_validation_as_the_task(typed):
    """The string as the role's task passes it to tls_facts' `plan`: validated by Ansible (`type: list` splits
    at commas only), then planned; the plan changes exactly the named sites."""
    options = {"thumbprint": "C" * 40, "sites": typed, "bindings": []}
    validated = ArgumentSpecValidator(PLAN_OPTIONS).validate(options)
    assert validated.error_messages == []
    planned = plan_from_options(
        _review("Default Web Site", "Portal", "Reports"), validated.validated_parameters
    )
    assert sorted(b["site"] for b in planned["plan"]["bindings"]) == ["Portal", "Reports"]


def test_a_wrong_site_in_a_survey_string_is_named_trimmed():
    options = ArgumentSpecValidator(PLAN_OPTIONS).validate({"thumbprint": "C" * 40, "sites": "Portal, Nope "})
    with pytest.raises(ValueError, match="Site 'Nope' has no HTTPS binding"):
        plan_from_options(_review("Portal"), options.validated_parameters)


# --- the PFX as the certificate credential hands it over --------------------------------------------------

LAB = LabPKI()
PASSWORD = "Pfx-Credential-4d2e"


def preflight(tmp_path, **args) -> dict:
    """certificate_preflight's decision for validated arguments, without Ansible's task machinery (its `act`
    uses no state of the plugin instance)."""
    (tmp_path / "roots.pem").write_bytes(LAB.trust_pem())
    given = {"public_names": [HOST], "trust_bundle": str(tmp_path / "roots.pem"), "check_revocation": False}
    validated = ArgumentSpecValidator(PREFLIGHT_SPEC).validate(given | args)
    assert validated.error_messages == []
    return Preflight.act(object.__new__(Preflight), validated.validated_parameters, {})


def pfx_base64(wrap: int | None = None) -> tuple[bytes, str]:
    data = pki.pfx_bytes(LAB.leaf(), [LAB.public_ca], PASSWORD)
    text = base64.b64encode(data).decode()
    if wrap:  # as `base64` prints it, and as a multi-line credential field keeps it
        text = "\n".join(text[i : i + wrap] for i in range(0, len(text), wrap)) + "\n"
    return data, text


def test_the_pfx_content_is_opened_also_wrapped_and_returned_only_when_asked(tmp_path):
    data, wrapped = pfx_base64(wrap=76)
    kept = preflight(tmp_path, content=wrapped, password=PASSWORD, return_content=True)
    assert kept.get("failed") is not True, kept
    assert base64.b64decode(kept["pfx_base64"]) == data
    checked = preflight(tmp_path, content=wrapped, password=PASSWORD)
    assert "pfx_base64" not in checked and checked["subject_alt_names"] == [HOST]


def test_a_path_and_a_content_together_are_refused_naming_both(tmp_path):
    data, text = pfx_base64()
    (tmp_path / "new.pfx").write_bytes(data)
    with pytest.raises(ActionFailure, match="Both mfa_tls_pfx_path and mfa_tls_pfx_content are set"):
        preflight(tmp_path, path=str(tmp_path / "new.pfx"), content=text, password=PASSWORD)


def test_blank_survey_answers_count_as_not_given(tmp_path):
    _data, text = pfx_base64()
    result = preflight(tmp_path, path="", content=text, thumbprint=" ", password=PASSWORD)
    assert result.get("failed") is not True and result["subject_alt_names"] == [HOST]
    with pytest.raises(ActionFailure, match="Give the new certificate either as mfa_tls_pfx_path"):
        preflight(tmp_path, path="", content="", password=PASSWORD)


@pytest.mark.parametrize("password", [None, ""])
def test_a_missing_password_says_the_variable_is_not_set(tmp_path, password):
    _data, text = pfx_base64()
    with pytest.raises(PfxError, match="mfa_tls_pfx_password is not set") as raised:
        preflight(tmp_path, content=text, password=password)
    assert "wrong" not in str(raised.value)


def test_a_content_that_is_not_base64_is_named_without_echoing_it(tmp_path):
    with pytest.raises(ActionFailure, match=r"mfa_tls_pfx_content\) is not base64") as raised:
        preflight(tmp_path, content="not*base64*at*all", password=PASSWORD)
    assert "not*base64" not in str(raised.value)
