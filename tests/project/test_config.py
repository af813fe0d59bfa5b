import json
import textwrap
from pathlib import Path

import pytest

from pyflow_cli.engine.errors import ConfigError, NotFoundError
from pyflow_cli.project.config import (
    CONFIG_FILE_NAMES,
    ProjectConfig,
    WorkflowConfig,
    find_config,
    implicit_step_dependencies,
    load_project,
)

BASE = """
name = "app"
main = "src/entry.py"
"""

WORKFLOW = """
[[workflows]]
name = "flow"
binding = "FLOW"
class_name = "Flow"
"""

NAME_RULE = (
    "Workflow names must be 1-64 characters long, start with a letter, number, or underscore, "
    "and may only contain letters, numbers, underscores, or hyphens."
)


def project(root: Path, text: str, file_name: str = "wrangler.toml") -> Path:
    """Write a config (and an entry module at src/entry.py) into ``root``."""
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "entry.py").write_text("")
    (root / file_name).write_text(textwrap.dedent(text))
    return root


def load(root: Path, text: str, env: str | None = None) -> ProjectConfig:
    return load_project(project(root, text), env=env)


def error(root: Path, text: str, env: str | None = None, file_name: str = "wrangler.toml") -> str:
    with pytest.raises(ConfigError) as info:
        load_project(project(root, text, file_name), env=env)
    return info.value.message


# --- finding and reading the file --------------------------------------------------------------


def test_full_toml_config_is_read_into_dataclasses(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        name = "app"
        main = "src/entry.py"
        compatibility_date = "2025-10-01"
        compatibility_flags = ["python_workflows"]
        [vars]
        GREETING = "hi"
        NESTED = { a = 1 }
        [triggers]
        crons = ["*/5 * * * *"]
        [[workflows]]
        name = "workflows-starter"
        binding = "MY_WORKFLOW"
        class_name = "MyWorkflow"
        script_name = "other"
        schedules = ["0 0 * * *"]
        limits = { steps = 500 }
        [[workflows]]
        name = "cart"
        binding = "CART"
        class_name = "Cart"
        """,
    )
    assert config.config_path == tmp_path.resolve() / "wrangler.toml"
    assert config.root == tmp_path.resolve()
    assert config.main == tmp_path.resolve() / "src" / "entry.py"
    assert (config.name, config.compatibility_date) == ("app", "2025-10-01")
    assert config.compatibility_flags == ("python_workflows",)
    assert dict(config.vars) == {"GREETING": "hi", "NESTED": {"a": 1}}
    assert config.crons == ("*/5 * * * *",)
    assert config.env_name is None
    assert config.secrets == {}
    assert config.workflows == (
        WorkflowConfig("workflows-starter", "MY_WORKFLOW", "MyWorkflow", "other", 500, ("0 0 * * *",)),
        WorkflowConfig("cart", "CART", "Cart"),
    )


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + WORKFLOW)
    assert config.compatibility_date is None
    assert (config.compatibility_flags, config.crons, dict(config.vars)) == ((), (), {})
    assert config.workflows == (WorkflowConfig("flow", "FLOW", "Flow", None, 10_000, ()),)


def test_json_config_is_read(tmp_path: Path) -> None:
    workflow = {"name": "flow", "binding": "FLOW", "class_name": "Flow"}
    data = {"name": "app", "main": "src/entry.py", "workflows": [workflow]}
    config = load_project(project(tmp_path, json.dumps(data), "wrangler.json"))
    assert config.workflows[0].name == "flow"


def test_jsonc_config_allows_comments_and_trailing_commas(tmp_path: Path) -> None:
    text = """{
      // the worker
      "name": "app", /* entry */ "main": "src/entry.py",
      "vars": {"URL": "http://example.com/*x*/",},
    }"""
    config = load_project(project(tmp_path, text, "wrangler.jsonc"))
    assert dict(config.vars) == {"URL": "http://example.com/*x*/"}


def test_find_config_looks_in_parent_directories(tmp_path: Path) -> None:
    project(tmp_path, BASE)
    deep = tmp_path / "src" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path.resolve() / "wrangler.toml"
    assert load_project(deep).root == tmp_path.resolve()


def test_find_config_prefers_json_then_jsonc_then_toml(tmp_path: Path) -> None:
    assert CONFIG_FILE_NAMES == ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
    for file_name in reversed(CONFIG_FILE_NAMES):
        (tmp_path / file_name).write_text("{}")
        assert find_config(tmp_path).name == file_name


def test_find_config_without_any_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    assert info.value.message == (
        f"No wrangler.toml, wrangler.json or wrangler.jsonc found in {tmp_path.resolve()} or its "
        "parents. Run `pyflow init` to create a project, or pass -c PATH."
    )


def test_explicit_config_path_is_resolved_against_cwd(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    project(tmp_path / "proj", BASE, "staging.toml")
    config = load_project(tmp_path, Path("proj/staging.toml"))
    assert config.config_path == (tmp_path / "proj" / "staging.toml").resolve()


def test_missing_explicit_config_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, Path("nope.toml"))
    assert info.value.message == (
        f"Config file {tmp_path.resolve() / 'nope.toml'} does not exist. Check the -c/--config path."
    )


def test_explicit_config_with_unknown_extension_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "wrangler.yaml").write_text("")
    with pytest.raises(ConfigError, match=r'unsupported extension "\.yaml"\. Use a \.toml'):
        load_project(tmp_path, Path("wrangler.yaml"))


def test_invalid_toml_names_file_and_position(tmp_path: Path) -> None:
    assert error(tmp_path, 'name = "app"\nmain "x"\n') == (
        "wrangler.toml: invalid TOML: Expected '=' after a key in a key/value pair "
        "(at line 2, column 6). Fix the syntax."
    )


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    assert error(tmp_path, '{\n  "name": "app"\n  "main": 1\n}', file_name="wrangler.jsonc") == (
        "wrangler.jsonc:3:3: invalid JSON: Expecting ',' delimiter. Fix the syntax."
    )


def test_json_top_level_must_be_an_object(tmp_path: Path) -> None:
    assert error(tmp_path, "[1, 2]", file_name="wrangler.json") == (
        "wrangler.json: expected an object at the top level, got [1, 2]."
    )


# --- top-level keys ----------------------------------------------------------------------------


def test_unknown_top_level_key_names_file_and_key(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + 'foo = 1\n"$schema" = "x"\n') == (
        'wrangler.toml: Unexpected fields found in top-level field: "foo". Remove them or fix their spelling.'
    )


def test_known_wrangler_keys_are_accepted(tmp_path: Path) -> None:
    load(tmp_path, BASE + 'account_id = "x"\nworkers_dev = true\n[observability]\nenabled = true\n')


def test_missing_name_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, 'main = "src/entry.py"\n') == (
        'wrangler.toml: name: required key is missing. Set it to the Worker name, e.g. "my-app".'
    )


def test_name_of_wrong_type_names_the_value(tmp_path: Path) -> None:
    assert error(tmp_path, 'name = 3\nmain = "src/entry.py"\n') == (
        "wrangler.toml: name: expected a string, got 3."
    )


def test_missing_main_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, 'name = "app"\n') == (
        'wrangler.toml: main: required key is missing. Set it to the entry module, e.g. "src/entry.py".'
    )


def test_main_file_must_exist(tmp_path: Path) -> None:
    message = error(tmp_path, 'name = "app"\nmain = "src/missing.py"\n')
    assert message == (
        f'wrangler.toml: main: "src/missing.py" does not exist (looked for '
        f"{tmp_path.resolve() / 'src' / 'missing.py'}). Create it or fix main."
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"2025-1-01"', '"2025-1-01"'),
        ('"2025-02-30"', '"2025-02-30"'),
        ("2025-10-01", "2025-10-01"),
    ],
)
def test_compatibility_date_must_be_a_quoted_real_date(tmp_path: Path, value: str, shown: str) -> None:
    assert error(tmp_path, BASE + f"compatibility_date = {value}\n") == (
        f'wrangler.toml: compatibility_date: expected a date string like "2025-10-01", got {shown}.'
    )


def test_compatibility_flags_must_be_strings(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + 'compatibility_flags = ["a", 1]\n') == (
        "wrangler.toml: compatibility_flags[1]: expected a string, got 1."
    )
    assert error(tmp_path, BASE + 'compatibility_flags = "a"\n') == (
        'wrangler.toml: compatibility_flags: expected a list of strings, got "a".'
    )


def test_vars_are_a_read_only_mapping(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + '[vars]\nA = "1"\n')
    with pytest.raises(TypeError):
        config.vars["A"] = "2"  # type: ignore[index]


def test_vars_must_be_a_table(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + 'vars = "x"\n') == ('wrangler.toml: vars: expected a table, got "x".')


def test_var_with_the_name_of_a_workflow_binding_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + 'vars = { FLOW = "x" }\n' + WORKFLOW) == (
        'wrangler.toml: vars.FLOW: the name is already the binding of workflow "flow". '
        "Rename the variable or the binding."
    )


def test_cron_triggers_must_have_five_fields(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + '[triggers]\ncrons = ["* * * * *", "* * *"]\n') == (
        'wrangler.toml: triggers.crons[1]: "* * *" is not a cron expression. Use 5 fields: '
        'minute hour day-of-month month day-of-week, e.g. "*/5 * * * *".'
    )


def test_unknown_key_in_triggers_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + "[triggers]\ncron = []\n") == (
        'wrangler.toml: Unexpected fields found in triggers field: "cron". Remove them or fix their spelling.'
    )


# --- workflows ---------------------------------------------------------------------------------


def test_workflow_field_of_wrong_type_names_index_key_and_value(tmp_path: Path) -> None:
    text = BASE + '[[workflows]]\nname = "flow"\nbinding = "FLOW"\nclass_name = 3\n'
    message = "wrangler.toml: workflows[0].class_name: expected a string, got 3."
    assert error(tmp_path, text) == message


def test_missing_workflow_key_is_an_error(tmp_path: Path) -> None:
    text = BASE + '[[workflows]]\nname = "flow"\nclass_name = "Flow"\n'
    assert error(tmp_path, text) == (
        "wrangler.toml: workflows[0].binding: required key is missing. "
        "Set it to the env.<BINDING> name user code uses."
    )


def test_unknown_key_in_workflow_entry_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + WORKFLOW + 'clas_name = "x"\n') == (
        'wrangler.toml: Unexpected fields found in workflows[0] field: "clas_name". '
        "Remove them or fix their spelling."
    )


def test_workflows_must_be_a_list_of_tables(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + 'workflows = ["x"]\n') == (
        'wrangler.toml: workflows[0]: expected a table, got "x".'
    )


@pytest.mark.parametrize("name", ["-flow", "my flow", "flöw", "a" * 65, ""])
def test_invalid_workflow_name_states_the_rule(tmp_path: Path, name: str) -> None:
    text = BASE + WORKFLOW.replace('"flow"', json.dumps(name))
    shown = json.dumps(name, ensure_ascii=False)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    assert error(tmp_path, text) == (
        f"wrangler.toml: workflows[0].name: {shown} is not a valid workflow name. {NAME_RULE}"
    )


@pytest.mark.parametrize("name", ["_x", "9lives", "a-b_c", "a" * 64])
def test_valid_workflow_names_are_accepted(tmp_path: Path, name: str) -> None:
    assert load(tmp_path, BASE + WORKFLOW.replace('"flow"', f'"{name}"')).workflows[0].name == name


@pytest.mark.parametrize(("key", "value"), [("binding", "MY-FLOW"), ("class_name", "class")])
def test_binding_and_class_name_must_be_python_identifiers(tmp_path: Path, key: str, value: str) -> None:
    old = {"binding": '"FLOW"', "class_name": '"Flow"'}[key]
    example = {"binding": "MY_WORKFLOW", "class_name": "MyWorkflow"}[key]
    assert error(tmp_path, BASE + WORKFLOW.replace(old, f'"{value}"')) == (
        f'wrangler.toml: workflows[0].{key}: "{value}" is not a valid Python identifier. Use '
        f'letters, digits and underscores, not starting with a digit, e.g. "{example}".'
    )


def test_duplicate_workflow_names_are_an_error(tmp_path: Path) -> None:
    text = BASE + WORKFLOW + WORKFLOW.replace('"FLOW"', '"OTHER"')
    assert error(tmp_path, text) == (
        'wrangler.toml: workflows[1].name: "flow" is already the name of workflows[0]. '
        "Each workflow needs its own name."
    )


def test_duplicate_workflow_bindings_are_an_error(tmp_path: Path) -> None:
    text = BASE + WORKFLOW + WORKFLOW.replace('"flow"', '"other"')
    assert error(tmp_path, text) == (
        'wrangler.toml: workflows[1].binding: "FLOW" is already the binding of workflows[0]. '
        "Each workflow needs its own binding."
    )


@pytest.mark.parametrize("steps", ["0", "-1", "true", '"10"', "1.5"])
def test_step_limit_must_be_a_positive_integer(tmp_path: Path, steps: str) -> None:
    shown = {"true": "true", '"10"': '"10"'}.get(steps, steps)
    assert error(tmp_path, BASE + WORKFLOW + f"limits = {{ steps = {steps} }}\n") == (
        f"wrangler.toml: workflows[0].limits.steps: expected a positive integer, got {shown}."
    )


def test_step_limit_above_maximum_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + WORKFLOW + "limits = { steps = 25001 }\n") == (
        "wrangler.toml: workflows[0].limits.steps: 25001 is above the maximum of 25000. Use at most 25000."
    )
    assert load(tmp_path, BASE + WORKFLOW + "limits = { steps = 25000 }\n").workflows[0].step_limit == 25_000


def test_unknown_key_in_workflow_limits_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + WORKFLOW + "limits = { cpu_ms = 5 }\n") == (
        'wrangler.toml: Unexpected fields found in workflows[0].limits field: "cpu_ms". '
        "Remove them or fix their spelling."
    )


def test_workflow_schedules_must_be_crons(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + WORKFLOW + 'schedules = ["daily"]\n').startswith(
        'wrangler.toml: workflows[0].schedules[0]: "daily" is not a cron expression.'
    )


def test_workflow_lookup_by_name(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + WORKFLOW)
    assert config.workflow("flow").binding == "FLOW"


def test_unknown_workflow_lists_defined_names(tmp_path: Path) -> None:
    cart = WORKFLOW.replace('"flow"', '"cart"').replace('"FLOW"', '"CART"')
    config = load(tmp_path, BASE + WORKFLOW + cart)
    with pytest.raises(NotFoundError) as info:
        config.workflow("billing")
    assert info.value.message == (
        'Workflow "billing" is not defined in wrangler.toml (defined: flow, cart). '
        "Check the [[workflows]] name."
    )


def test_unknown_workflow_message_uses_the_real_file_name(tmp_path: Path) -> None:
    text = '{"name": "app", "main": "src/entry.py"}'
    config = load_project(project(tmp_path, text, "wrangler.jsonc"))
    with pytest.raises(NotFoundError) as info:
        config.workflow("x")
    assert info.value.message == (
        'Workflow "x" is not defined in wrangler.jsonc (defined: none). Check the "workflows" name.'
    )


# --- environments ------------------------------------------------------------------------------

ENVS = (
    BASE
    + """
compatibility_date = "2025-10-01"
compatibility_flags = ["f"]
[vars]
A = "top"
[triggers]
crons = ["0 0 * * *"]
"""
    + WORKFLOW
    + """
[env.staging]
[env.prod]
name = "app-production"
main = "src/prod.py"
vars = { A = "prod" }
[[env.prod.workflows]]
name = "prod-flow"
binding = "PROD_FLOW"
class_name = "Flow"
"""
)


def test_env_without_overrides_inherits_main_and_compat_but_not_vars_or_workflows(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, ENVS, env="staging")
    assert (config.name, config.env_name) == ("app-staging", "staging")
    assert config.main == tmp_path.resolve() / "src" / "entry.py"
    assert (config.compatibility_date, config.compatibility_flags) == ("2025-10-01", ("f",))
    assert (dict(config.vars), config.workflows) == ({}, ())
    assert config.crons == ("0 0 * * *",)  # wrangler marks triggers inheritable


def test_env_keys_override_top_level(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "prod.py").write_text("")
    config = load(tmp_path, ENVS, env="prod")
    assert config.name == "app-production"
    assert config.main == tmp_path.resolve() / "src" / "prod.py"
    assert dict(config.vars) == {"A": "prod"}
    assert [w.name for w in config.workflows] == ["prod-flow"]


def test_unknown_env_lists_defined_envs(tmp_path: Path) -> None:
    assert error(tmp_path, ENVS, env="qa") == (
        'wrangler.toml: environment "qa" is not defined (defined: staging, prod). '
        "Add an [env.qa] section or choose another -e/--env."
    )
    assert error(tmp_path, BASE, env="qa").startswith(
        'wrangler.toml: environment "qa" is not defined (defined: none).'
    )


def test_errors_inside_an_env_section_name_the_env_key_path(tmp_path: Path) -> None:
    text = BASE + '[[env.qa.workflows]]\nname = 1\nbinding = "B"\nclass_name = "C"\n'
    assert error(tmp_path, text, env="qa") == (
        "wrangler.toml: env.qa.workflows[0].name: expected a string, got 1."
    )


def test_unknown_or_top_level_only_key_in_env_is_an_error(tmp_path: Path) -> None:
    for key in ("foo", "dev"):
        assert error(tmp_path, BASE + f"[env.qa]\n{key} = 1\n", env="qa") == (
            f'wrangler.toml: Unexpected fields found in env.qa field: "{key}". '
            "Remove them or fix their spelling."
        )


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "env", "chosen"),
    [
        ([".dev.vars", ".env"], None, ".dev.vars"),
        ([".env"], None, ".env"),
        ([".dev.vars", ".dev.vars.qa", ".env.qa"], "qa", ".dev.vars.qa"),
        ([".dev.vars", ".env.qa"], "qa", ".dev.vars"),
        ([".env", ".env.qa"], "qa", ".env.qa"),
        ([".dev.vars.qa"], None, None),
    ],
)
def test_secrets_come_from_the_first_dotenv_file_found(
    tmp_path: Path, files: list[str], env: str | None, chosen: str | None
) -> None:
    for file_name in files:
        (tmp_path / file_name).write_text(f"FROM={file_name}\n")
    config = load(tmp_path, BASE + "[env.qa]\n", env=env)
    assert dict(config.secrets) == ({"FROM": chosen} if chosen else {})


def test_malformed_secrets_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".dev.vars").write_text("A=1\n\noops\n")
    assert error(tmp_path, BASE) == (
        ".dev.vars:3: expected KEY=value. Fix the line, or comment it out with #."
    )


# --- step.do mode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "flags", "implicit"),
    [
        (None, [], False),
        ("2026-02-24", [], False),
        ("2026-02-25", [], True),
        ("2027-01-01", [], True),
        ("2027-01-01", ["no_python_workflows_implicit_dependencies"], False),
        ("2025-01-01", ["python_workflows_implicit_dependencies"], True),
        (None, ["python_workflows_implicit_dependencies"], True),
    ],
)
def test_implicit_step_dependencies_follow_date_and_flags(
    date: str | None, flags: list[str], implicit: bool
) -> None:
    assert implicit_step_dependencies(date, flags) is implicit


# --- KV, R2 and D1 bindings ------------------------------------------------------------------------

STORAGE = """
[[kv_namespaces]]
binding = "CACHE"
id = "abc123"
preview_id = "def456"

[[kv_namespaces]]
binding = "SESSIONS"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "my-bucket"

[[d1_databases]]
binding = "DB"
database_name = "shop"
database_id = "11111111-2222-3333-4444-555555555555"
migrations_dir = "db/migrations"

[[d1_databases]]
binding = "LOGS"
"""


def test_storage_bindings_are_read_with_wrangler_defaults(tmp_path: Path) -> None:
    from pyflow_cli.project.resources import D1DatabaseConfig, KvNamespaceConfig, R2BucketConfig

    config = load(tmp_path, BASE + STORAGE)
    assert config.kv_namespaces == (KvNamespaceConfig("CACHE", "abc123", "def456"),
                                    KvNamespaceConfig("SESSIONS", "SESSIONS"))
    assert config.r2_buckets == (R2BucketConfig("BUCKET", "my-bucket"),)
    assert config.d1_databases == (
        D1DatabaseConfig("DB", "shop", "11111111-2222-3333-4444-555555555555", "db/migrations"),
        D1DatabaseConfig("LOGS", "LOGS", None))
    assert [d.id for d in config.d1_databases] == ["11111111-2222-3333-4444-555555555555", "LOGS"]


def test_storage_bindings_are_read_from_json_too(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "entry.py").write_text("")
    (tmp_path / "wrangler.jsonc").write_text(json.dumps({
        "name": "app", "main": "src/entry.py",
        "kv_namespaces": [{"binding": "KV", "id": "x"}],
        "r2_buckets": [{"binding": "B", "bucket_name": "bucket-1"}],
        "d1_databases": [{"binding": "DB", "database_name": "db", "database_id": "id-1"}]}))
    config = load_project(tmp_path)
    assert [n.binding for n in (*config.kv_namespaces, *config.r2_buckets, *config.d1_databases)] == [
        "KV", "B", "DB"]


@pytest.mark.parametrize(("section", "expected"), [
    ('[[kv_namespaces]]\nid = "x"',
     'wrangler.toml: kv_namespaces[0].binding: required key is missing. Set it to the env.<BINDING> '
     'name user code uses, e.g. "KV".'),
    ('[[kv_namespaces]]\nbinding = "KV"\nid = 3',
     "wrangler.toml: kv_namespaces[0].id: expected a string, got 3."),
    ('[[kv_namespaces]]\nbinding = "my-kv"',
     'wrangler.toml: kv_namespaces[0].binding: "my-kv" is not a valid Python identifier. Use letters, '
     'digits and underscores, not starting with a digit, e.g. "KV".'),
    ('[[kv_namespaces]]\nbinding = "KV"\nnamespace = "x"',
     'wrangler.toml: Unexpected fields found in kv_namespaces[0] field: "namespace". Remove them or '
     "fix their spelling."),
    ('[[r2_buckets]]\nbinding = "B"',
     "wrangler.toml: r2_buckets[0].bucket_name: required key is missing. Set it to the bucket's "
     'name, e.g. "my-bucket".'),
    ('[[r2_buckets]]\nbinding = "B"\nbucket_name = "My_Bucket"',
     'wrangler.toml: r2_buckets[0].bucket_name: "My_Bucket" is invalid. Bucket names must begin and '
     "end with an alphanumeric character, only contain lowercase letters, numbers, and hyphens, and be "
     "between 3 and 63 characters long."),
    ('[[d1_databases]]\nbinding = "DB"\ndatabase_id = ""',
     'wrangler.toml: d1_databases[0].database_id: expected a non-empty string, got "".'),
    ("kv_namespaces = 3", "wrangler.toml: kv_namespaces: expected a list of tables, got 3."),
])
def test_storage_binding_errors_name_the_key(tmp_path: Path, section: str, expected: str) -> None:
    assert error(tmp_path, BASE + section) == expected


def test_every_env_binding_name_is_used_once(tmp_path: Path) -> None:
    assert error(tmp_path, BASE + WORKFLOW + '[[kv_namespaces]]\nbinding = "FLOW"') == (
        'wrangler.toml: kv_namespaces[0].binding: "FLOW" is already the binding of workflow "flow". '
        "Each binding needs its own name.")
    assert error(tmp_path, BASE + '[[kv_namespaces]]\nbinding = "X"\n[[d1_databases]]\nbinding = "X"') == (
        'wrangler.toml: d1_databases[0].binding: "X" is already the binding of kv_namespaces[0]. '
        "Each binding needs its own name.")
    assert error(tmp_path, BASE + '[vars]\nDB = 1\n[[d1_databases]]\nbinding = "DB"') == (
        "wrangler.toml: vars.DB: the name is already the binding of d1_databases[0]. "
        "Rename the variable or the binding.")


def test_environments_do_not_inherit_storage_bindings(tmp_path: Path) -> None:
    text = BASE + STORAGE + '[env.staging]\n[env.prod]\n[[env.prod.kv_namespaces]]\nbinding = "PROD_KV"\n'
    assert load(tmp_path, text, env="staging").kv_namespaces == ()
    assert [n.binding for n in load(tmp_path, text, env="prod").kv_namespaces] == ["PROD_KV"]
    assert error(tmp_path, BASE + '[env.prod]\n[[env.prod.r2_buckets]]\nbinding = "B"', env="prod") == (
        "wrangler.toml: env.prod.r2_buckets[0].bucket_name: required key is missing. Set it to the "
        'bucket\'s name, e.g. "my-bucket".')
