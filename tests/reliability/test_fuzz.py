"""Bad input: a property-based fuzzer over the configuration, every CLI verb and the API.

The promise (issue 18): whatever a user types or writes in provisioning.toml,
``prov`` prints no traceback and no "internal error"; a refusal exits 2 with
a message naming the field (``@ $.path``, ``@ --option`` or the argument);
nothing refused reaches a plugin's mutating hook or the inventory; and no
name puts a file outside PROV_HOME and the working directory.

Each test draws inputs with hypothesis (derandomized, so CI sees the same
ones every run) from text that breaks things: unicode, control characters,
``../``, shell metacharacters, huge and negative numbers, empty and very
long strings. The inputs tried are counted and reported as figures.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomllib
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning_core import paths
from provisioning_core.cli import main
from provisioning_core.errors import ProvisioningError
from provisioning_core.operations.requests import JOB_KINDS, ExtensionRequest
from tests.cli.conftest import FAST, Run, calls

# the hooks that change something: none may be called for a refused input
MUTATING = frozenset(
    {
        "create_server",
        "delete_server",
        "start_server",
        "stop_server",
        "reboot_server",
        "configure_firewall",
        "install",
        "uninstall",
        "configure",
        "restart",
        "upgrade",
        "create",
        "delete",
        "scale",
        "restart_component",
    }
)
PLUGIN_LOGS = ("recording", "rectask", "reccluster")

# derandomized: CI tries the same inputs every run, and a failure replays as printed;
# the examples per target keep the whole file near 30 s on two cores
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CLI_EXAMPLES = 250
CONFIG_EXAMPLES = 200
API_EXAMPLES = 1500

# --- inputs ---------------------------------------------------------------------

# an absolute path no test creates: if it ever exists, a name escaped
ESCAPE = "/tmp/prov-fuzz-escaped"

NASTY = [
    "",
    " ",
    "-",
    "--",
    ".",
    "..",
    "../",
    "../../..",
    "../escaped",
    "../../../../escaped",
    "web/../../escaped",
    ESCAPE,
    "~/escaped",
    "$(touch escaped)",
    "`touch escaped`",
    "a; touch escaped",
    "a && touch escaped",
    "a | cat",
    "a > escaped",
    "${HOME}",
    "$PROV_HOME",
    "'",
    '"',
    "\\",
    "*",
    "?",
    "{{operations.parallelism}}",
    "%s%n%x",
    "\x00",
    "a\x00b",
    "\n",
    "web\nrm",
    "\r\n",
    "\t",
    "\x1b[31mred\x1b[0m",
    "\x7f",
    "\u202e",
    "\ufeff",
    "a\udcffb",  # a byte of argv that is not UTF-8, as Python decodes it
    "\ud7ff",
    "é",
    "wéb",
    "名前",
    "🙂",
    "a" * 300,
    "a" * 5000,
    "-1",
    "0",
    "-0",
    "999999999999999999999999999999",
    "-999999999999999999999999999999",
    "1e999",
    "nan",
    "inf",
    "0x10",
    "1_000",
    "=",
    "k=",
    "=v",
    ",",
    ",,,",
    "in,tcp,22,accept,../etc",
    "in,tcp,-1,accept",
    "in,tcp,0,accept",
    "in,tcp,65536,accept",
    "in,tcp,99999999999999999999,accept",
    "in,tcp,22-1,accept",
    "in,tcp,1-99999,accept",
    "in,icmp,22,accept",
    "in,tcp,22,accept,300.1.1.1",
    "in,tcp,22,accept,10.0.0.0/99",
    "IN,TCP,22,ACCEPT",
]

SHELL = "$`;|&<>(){}[]*?!~#'\"\\"
# text with every kind of character: control, surrogate-free unicode, shell metacharacters
ANY_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(SHELL),
    max_size=40,
)
NASTY_TEXT = st.one_of(
    st.sampled_from(NASTY),
    ANY_TEXT,
    st.builds(lambda a, b: a + b, st.sampled_from(NASTY), ANY_TEXT),
    st.builds(
        lambda a, n: a * n, st.sampled_from(["../", "a", "é", "\x01", ";"]), st.integers(1, 2000)
    ),
)
NUMBER = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        ["-1", "0", "1", "2", "-2147483649", "9223372036854775808", "1.5", "nan", "", "x"]
    ),
)
HOSTNAME = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")


# --- running prov ---------------------------------------------------------------


def _prov(*args: str) -> Run:
    """Run ``prov`` in process through its real ``main``, as tests/cli's ``prov`` does."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        result = Run(
            code, out.getvalue().decode(errors="replace"), err.getvalue().decode(errors="replace")
        )
    paths.use_extension_cache_dir(None)  # a fuzzed cache_dir belongs to that run alone
    return result


def _inventory(home: Path) -> list[str]:
    """Every row of the inventory but its logs: the audit trail (``operations``) and the
    load metrics (``loads``) record refusals too, on purpose."""
    db = home / "inventory.sqlite3"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [
            f"{t}: {row!r}"
            for t in sorted(tables)
            if t not in {"operations", "loads"}
            for row in conn.execute(f"SELECT * FROM {t}")
        ]
    conn.close()
    return rows


def _mutating_calls(home: Path) -> list[tuple[str, str]]:
    return [
        (log, c["hook"]) for log in PLUGIN_LOGS for c in calls(home, log) if c["hook"] in MUTATING
    ]


def _tree(root: Path, skip: tuple[Path, ...]) -> set[Path]:
    found: set[Path] = set()
    for path in root.rglob("*"):
        if not any(path == s or s in path.parents for s in skip):
            found.add(path)
    return found


class Fuzz:
    """One test's sandbox: PROV_HOME and the working directory three levels deep under
    ``tmp_path``, so that any ``../`` escape lands where :meth:`check` sees it."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path
        base = tmp_path / "d1" / "d2" / "d3"
        self.home = base / "prov-home"
        self.work = base / "work"
        self.work.mkdir(parents=True)
        monkeypatch.setenv("PROV_HOME", str(self.home))
        monkeypatch.chdir(self.work)
        self.outside = _tree(tmp_path, (self.home, self.work))
        self.tried = 0
        self.outcomes: Counter[int] = Counter()
        self.started = time.perf_counter()

    def workspace(self, text: str) -> None:
        (self.work / "provisioning.toml").write_text(text, encoding="utf-8")

    def run(self, args: list[str], fields: list[str]) -> Run:
        """Run ``prov args`` and check every promise; ``fields`` are how a refusal may name
        the fields that were fuzzed."""
        before_calls = _mutating_calls(self.home)
        before_rows = _inventory(self.home)
        result = _prov(*args)
        self.tried += 1
        self.outcomes[result.exit_code] += 1
        shown = (args, result.exit_code, result.output[-2000:])
        assert "Traceback" not in result.output, shown
        assert "internal error" not in result.output, shown
        # bad input is refused (2) or, when it happens to be valid, done (0): never a
        # failed operation (1), which would mean a plugin met it
        assert result.exit_code in {0, 2}, shown
        if result.exit_code == 2:
            assert _names_a_field(result.stderr, fields), (fields, *shown)
            assert _mutating_calls(self.home) == before_calls, shown
            assert _inventory(self.home) == before_rows, shown
        self.check_escapes(args)
        return result

    def check_escapes(self, what: object) -> None:
        created = _tree(self.root, (self.home, self.work)) - self.outside
        assert not created, (what, sorted(map(str, created)))
        assert not Path(ESCAPE).exists(), what
        assert not (Path.home() / "escaped").exists(), what

    def figure(self, figures: Callable[[str], None], inputs: str) -> None:
        took = time.perf_counter() - self.started
        figures(
            f"fuzz: {inputs} tried in {self.tried} prov runs, 0 tracebacks, "
            f"{self.outcomes[2]} refused with exit 2 naming the field, "
            f"{self.outcomes[0]} accepted ({took:.1f} s)"
        )


@pytest.fixture
def fuzz(installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fuzz]:
    box = Fuzz(tmp_path, monkeypatch)
    yield box
    box.check_escapes("after the test")


# click's usage errors about a token typed where an option or nothing was expected (a
# nasty value starting with "-", say) name that token; a "--" taken as the end of the
# options leaves a required one missing, which click names
CLICK_TOKEN = re.compile(
    r"No such option ['\"]|Got unexpected extra argument|Missing (option|argument) ['\"]"
)


def _names_a_field(stderr: str, fields: list[str]) -> bool:
    """Whether a refusal names one of ``fields``: ``@ --tag``, ``@ $.tags[0]``, click's
    ``Invalid value for '--count'``, an argument (``@ HOSTNAME``, ``'HOSTNAME'``) or what
    it names (``cluster 'x'``)."""
    if CLICK_TOKEN.search(stderr):
        return True
    for field in fields:
        if field.startswith("--"):
            if re.search(rf"@ {re.escape(field)}\b|'{re.escape(field)}'", stderr):
                return True
        elif field in stderr:
            return True
    return False


@attrs.frozen
class Field:
    """One argument of a verb: where it goes, a valid value and how it names itself."""

    #: the option (``--tag``), or None for a positional argument
    flag: str | None
    #: what a refusal of it says: ``@ HOSTNAME``, ``--tag``, ``cluster '``...
    names: tuple[str, ...]
    valid: st.SearchStrategy[str] | None
    nasty: st.SearchStrategy[str] = NASTY_TEXT
    #: how many times it may be given (options only)
    repeat: int = 1


def verb(
    *words: str, fields: list[Field], flags: tuple[str, ...] = (), state: tuple[str, ...] = ()
) -> st.SearchStrategy[Case]:
    """Arguments of ``prov WORDS...``: every field valid but up to two, which are nasty.

    ``state`` are refusals a valid input may meet because of what an earlier example
    did (a hostname already taken); they name the field too.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        bad = draw(st.sets(st.sampled_from(range(len(fields))), max_size=2))
        args = list(words)
        names: list[str] = list(state)
        for i, field in enumerate(fields):
            if i in bad:
                values = draw(st.lists(field.nasty, min_size=1, max_size=field.repeat))
                names += field.names
            elif field.valid is not None:
                values = [draw(field.valid)]
            else:
                continue
            for value in values:
                args += [value] if field.flag is None else [field.flag, value]
        args += [f for f in flags if draw(st.booleans())]
        return args, names

    return build()


Case = tuple[list[str], list[str]]


def _arg(label: str, valid: st.SearchStrategy[str], kind: str | None = None) -> Field:
    # an extension or server is named as repr() shows it: cluster 'x' or cluster "it's"
    what = () if kind is None else (f"{kind} '", f'{kind} "')
    return Field(None, (f"@ {label}", f"'{label}'", *what), valid)


def _opt(
    flag: str,
    valid: st.SearchStrategy[str] | None,
    nasty: st.SearchStrategy[str] = NASTY_TEXT,
    repeat: int = 1,
) -> Field:
    return Field(flag, (flag,), valid, nasty, repeat)


PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@h"
# what --ssh-key may name: files the test's working directory holds (a key, notes, a
# private key), devices and FIFOs that never end, directories, and any text
KEY_FILES = NASTY_TEXT | st.sampled_from(
    ["notes.txt", "id_ed25519", "/dev/zero", "/dev/null", ".", "/proc/self/environ", "ssh-rsa"]
)
TAG = NASTY_TEXT | st.builds("{}={}".format, NASTY_TEXT, NASTY_TEXT)
RULES = st.sampled_from(
    ["in,tcp,22,accept", "out,any,*,drop", "in,udp,8000-8100,accept,10.0.0.0/8"]
)

# clusters whose names are nasty but configured, so that they get past "which cluster?"
# and on to whatever keeps state by the name
CLUSTER_NAMES = ["ci", "../../escaped", "$(touch escaped)", "a b;c", "名前"]

CLI_TARGETS = {
    "server create": verb(
        "server",
        "create",
        "-p",
        "recording",
        fields=[
            _arg("HOSTNAME", HOSTNAME),
            _opt("--plan", st.sampled_from(["small", "medium"])),
            _opt("--zone", st.sampled_from(["test-1", "test-2"])),
            _opt("--tag", st.just("env=prod"), TAG, repeat=3),
            _opt("--rule", RULES, repeat=3),
            _opt("--count", st.sampled_from(["1", "2"]), NUMBER),
            _opt("--ssh-key", st.sampled_from(["me.pub", PUBLIC_KEY]), KEY_FILES),
            _opt("--os", None),
            _opt("--storage-size", None, NUMBER),
            _opt("--bandwidth", None, NUMBER),
            _opt("--private-network", None),
            _opt("--parallelism", None, NUMBER),
        ],
        flags=("--check",),
        state=("already exist on provider 'recording'",),
    ),
    "server firewall": verb(
        "server",
        "firewall",
        fields=[_arg("SERVER", st.just("web"), "no server"), _opt("--rule", RULES, repeat=3)],
        flags=("--check",),
    ),
    "taskserv install": verb(
        "taskserv",
        "install",
        fields=[
            _arg("NAME", st.just("rectask"), "taskserv"),
            Field("-s", ("--server", "no server '", 'no server "'), st.just("web")),
            _opt("--version", st.sampled_from(["1.0.0", "1.1.0"])),
        ],
        flags=("--check",),
    ),
    "cluster create": verb(
        "cluster",
        "create",
        fields=[_arg("NAME", st.sampled_from(CLUSTER_NAMES), "cluster")],
        flags=("--check",),
    ),
    "cluster scale": verb(
        "cluster",
        "scale",
        fields=[
            _arg("NAME", st.sampled_from(CLUSTER_NAMES), "cluster"),
            _opt("--replicas", st.sampled_from(["0", "3"]), NUMBER),
            _opt("--component", st.sampled_from(["db", "web"])),
        ],
        flags=("--check",),
    ),
    "operations list": verb("operations", "list", fields=[_opt("--limit", None, NUMBER)]),
    "module load": verb(
        "module",
        "load",
        fields=[
            _arg("TYPE", st.just("provider")),
            _arg("NAME", st.just("recording"), "provider"),
            _opt("--version", st.just("1.0.0")),
        ],
    ),
}


def _clusters() -> str:
    return "".join(
        f'\n[clusters.{toml_key(name)}]\ntype = "reccluster"\nversion = "1.0.0"\n'
        for name in CLUSTER_NAMES
    )


@pytest.mark.parametrize("target", sorted(CLI_TARGETS))
def test_cli_arguments(fuzz: Fuzz, figures: Callable[[str], None], target: str) -> None:
    fuzz.workspace(FAST + _clusters())
    (fuzz.work / "me.pub").write_text(PUBLIC_KEY + "\n")
    (fuzz.work / "notes.txt").write_text("hello world\n")
    (fuzz.work / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    # something real to act on, so the checks after "which server?" run too
    assert (
        _prov(
            "server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1"
        ).exit_code
        == 0
    )
    for name in CLUSTER_NAMES:
        created = _prov("cluster", "create", name)
        assert created.exit_code == 0, created.output

    @settings(FUZZ, max_examples=CLI_EXAMPLES)
    @given(CLI_TARGETS[target])
    def one(case: Case) -> None:
        args, fields = case
        fuzz.run(args, fields)

    one()
    fuzz.figure(figures, f"{fuzz.tried} `prov {target}` argument lists")


# --- the configuration layers ---------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_string(text: str) -> str:
    # a file holds UTF-8 only: a lone surrogate (an undecodable argv byte) becomes "?"
    text = text.encode("utf-8", "replace").decode()
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)  # nan, inf, -inf and 1e+300 are TOML as repr() writes them
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = toml_string(value)
    elif isinstance(value, list):
        text = "[" + ", ".join(toml_value(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    else:
        raise TypeError(value)
    return text


def toml_document(tables: dict[str, dict[str, Any]]) -> str:
    """``{"operations": {...}, "providers.recording.api": {...}}`` as TOML text."""
    lines = []
    for table, values in tables.items():
        lines.append("[" + ".".join(toml_key(k) for k in table.split(".")) + "]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


SCALAR = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    NASTY_TEXT,
)
# what a number setting meets: the edges of the types, of the clocks, and beyond
NUMERIC = st.one_of(
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [0, -1, 1, 0.0, -0.0, 1e-300, 1e10, 31536000, 31536001, 2**31, 2**63 - 1, 2**63]
    ),
    st.sampled_from([1e308, math.inf, -math.inf, math.nan]),
)
VALUE = st.one_of(
    SCALAR, SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(ANY_TEXT, SCALAR, max_size=2)
)
OPERATIONS_KEYS = [
    "parallelism",
    "wait_interval",
    "wait_timeout",
    "hook_timeout",
    "retry_attempts",
    "retry_base_delay",
    "retry_max_delay",
    "lock_timeout",
]
API_KEYS = ["host", "port", "token", "read_token", "max_body_bytes", "workers"]
PROVIDER_KEYS = {
    "auth": ["method", "token", "username", "password", "api_key", "certificate_path"],
    "api": ["base_url", "version", "timeout", "retries", "verify_tls", "rate_limit"],
    "defaults": [
        "zone",
        "plan",
        "os",
        "ssh_user",
        "ssh_keys",
        "firewall_rules",
        "storage",
        "network",
    ],
    "features": ["firewall", "private_network", "backups", "ipv6"],
}
# keys a user might mistype; under [providers.recording.options] only names the fixture
# plugin does not read (its knobs make hooks hang or write where told, on purpose)
MISSPELLED = [
    "paralelism",
    "wait_timout",
    "retries",
    "prot",
    "tokn",
    "Parallelism",
    "parallelism ",
    "",
]


def _misspell(key: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(MISSPELLED),
        st.integers(0, max(len(key) - 1, 0)).map(lambda i: key[:i] + key[i + 1 :]),
        st.just(key.upper()),
        ANY_TEXT,
    )


@st.composite
def section(draw: st.DrawFn, keys: list[str]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(keys), max_size=3, unique=True))
    values = {k: draw(NUMERIC | VALUE) for k in chosen}
    if draw(st.integers(0, 3)) == 0:
        values[draw(_misspell(draw(st.sampled_from(keys))))] = draw(VALUE)
    return values


@st.composite
def workspace_config(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    if draw(st.booleans()):
        tables["operations"] = draw(section(OPERATIONS_KEYS))
    if draw(st.booleans()):
        tables["api"] = draw(section(API_KEYS))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(sorted(PROVIDER_KEYS)))
        tables[f"providers.recording.{kind}"] = draw(section(PROVIDER_KEYS[kind]))
    if draw(st.integers(0, 3)) == 0:
        tables["providers.recording.options"] = {"x_" + draw(ANY_TEXT): draw(VALUE)}
    if draw(st.integers(0, 3)) == 0:  # a whole misspelled table
        tables[draw(st.sampled_from(["operation", "Operations", "apii", "provider.recording"]))] = (
            draw(section(OPERATIONS_KEYS))
        )
    return tables


def _config_fields(tables: dict[str, dict[str, Any]]) -> list[str]:
    """How a refusal may name what was fuzzed: the table's or the key's ``$.path``
    (``$.operations.parallelism``, ``$.providers.recording.api``)."""
    fields = []
    for table, values in tables.items():
        fields += [f"@ $.{table}", f"[{table}]"]
        fields += [f"@ $.{table}.{k}" for k in values]
    return fields


def test_config_layers(fuzz: Fuzz, figures: Callable[[str], None]) -> None:
    assert (
        _prov(
            "server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1"
        ).exit_code
        == 0
    )

    @settings(FUZZ, max_examples=CONFIG_EXAMPLES)
    @given(workspace_config())
    def one(tables: dict[str, dict[str, Any]]) -> None:
        text = toml_document(tables)
        assert tomllib.loads(text) is not None  # our TOML writer writes valid TOML
        fuzz.workspace(FAST + text if "operations" not in tables else text)
        fields = _config_fields(tables)
        shown = fuzz.run(["config", "show", "-o", "json"], fields)
        used = fuzz.run(
            [
                "server",
                "create",
                "new",
                "-p",
                "recording",
                "--plan",
                "small",
                "--zone",
                "test-1",
                "--check",
            ],
            fields,
        )
        assert shown.exit_code == 2 or used.exit_code != 2, (text, shown.output, used.output)

    one()
    fuzz.figure(figures, f"{fuzz.tried // 2} workspace provisioning.toml files")


# --- the HTTP API's request records --------------------------------------------

# a valid value of each field of a request record, and a nasty one
TEXTS = st.lists(NASTY_TEXT, max_size=3)
REQUEST_FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "hostname": (HOSTNAME, NASTY_TEXT),
    "provider": (st.just("recording"), NASTY_TEXT),
    "plan": (st.just("small"), NASTY_TEXT),
    "zone": (st.just("test-1"), NASTY_TEXT),
    "os": (st.just("ubuntu-22.04"), NASTY_TEXT),
    "ssh_keys": (st.just(["ssh-ed25519 AAAAC3Nza me@host"]), TEXTS),
    "tags": (st.just({"env": "prod"}), st.dictionaries(NASTY_TEXT, NASTY_TEXT, max_size=3)),
    "firewall_rules": (st.lists(RULES, max_size=2), TEXTS),
    "rules": (st.lists(RULES, min_size=1, max_size=2), TEXTS),
    "server": (st.just("web"), NASTY_TEXT),
    "servers": (st.just(["web"]), TEXTS),
    "name": (st.sampled_from(["rectask", "ci"]), NASTY_TEXT),
    "version": (st.just("1.0.0"), NASTY_TEXT),
    "component": (st.just("db"), NASTY_TEXT),
    "replicas": (st.just(2), st.integers(-(2**70), 2**70)),
    "count": (st.just(2), st.integers(-(2**70), 2**70)),
    "wait": (st.booleans(), VALUE),
    "force": (st.booleans(), VALUE),
    "keep_data": (st.booleans(), VALUE),
    "storage": (
        st.just({"size": 50}),
        st.dictionaries(
            st.sampled_from(["size", "type", "encrypted", "bogus"]), SCALAR, max_size=3
        ),
    ),
    "network": (
        st.just({"public_ip": True}),
        st.dictionaries(st.sampled_from(["public_ip", "bandwidth", "bogus"]), SCALAR, max_size=3),
    ),
    "extension_type": (st.sampled_from(["provider", "Taskserv"]), NASTY_TEXT),
}
# the loading guide's extension requests are records too
EXTENSION = "extension (load/reload/unload)"


@st.composite
def job_request(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[str]]:
    """A record of one job kind: valid but for one or two fields (nasty, of the wrong
    type, missing) and now and then a misspelled key; the bad fields' ``$.paths``."""
    kind = draw(st.sampled_from([*sorted(JOB_KINDS), EXTENSION]))
    record = ExtensionRequest if kind == EXTENSION else JOB_KINDS[kind].request
    fields = [a.name for a in attrs.fields(record)]
    bad = draw(st.sets(st.sampled_from(fields), max_size=2))
    data: dict[str, Any] = {}
    for name in fields:
        valid, nasty = REQUEST_FIELDS[name]
        if name not in bad:
            data[name] = draw(valid)
        elif draw(st.integers(0, 5)):  # else: left out
            data[name] = draw(nasty | VALUE)
    paths = [f"$.{name}" for name in bad]
    if draw(st.integers(0, 4)) == 0:
        data[draw(_misspell(draw(st.sampled_from(fields))))] = draw(VALUE)
        paths.append("$")  # "extra fields found (...) @ $"
    return kind, data, paths


def _prepare(kind: str, data: dict[str, Any]) -> object:
    if kind == EXTENSION:
        return ExtensionRequest.parse(data)
    return JOB_KINDS[kind].prepare(data)


def test_api_request_records(fuzz: Fuzz, figures: Callable[[str], None]) -> None:
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()

    @settings(FUZZ, max_examples=API_EXAMPLES)
    @given(job_request())
    def one(case: tuple[str, dict[str, Any], list[str]]) -> None:
        kind, data, paths = case
        error: ProvisioningError | None = None
        try:
            _prepare(kind, data)  # anything but ProvisioningError fails the test
        except ProvisioningError as exc:
            error = exc
        outcomes["refused" if error else "accepted"] += 1
        if error is not None:
            text = str(error)
            assert error.exit_code == 2, (kind, data, text)
            named = re.findall(r"@ (\$[^\s,;]*)", text)
            assert named, (kind, data, text)
            # each path named is a bad field, or within one (``$.tags[0]``, ``$.storage.size``)
            assert any(n == p or n.startswith((p + ".", p + "[")) for n in named for p in paths), (
                kind,
                data,
                paths,
                text,
            )

    one()
    assert not _mutating_calls(fuzz.home)
    assert not _inventory(fuzz.home)
    total = sum(outcomes.values())
    figures(
        f"fuzz: {total} API request records tried, 0 exceptions but refusals, "
        f"{outcomes['refused']} refused naming the $.field, {outcomes['accepted']} accepted "
        f"({time.perf_counter() - started:.1f} s)"
    )
