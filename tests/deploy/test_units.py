"""deploy/systemd/: the units systemd itself accepts (systemd-analyze verify), hardened as they
say (systemd-analyze security), running commands the CLI has; and shuyuan.env.example, which
names every setting settings.py reads and starts production once its blanks are filled.

The units name the release's paths (/srv/shuyuan/.venv/bin/shuyuan); systemd-analyze checks that
each command exists, so the copies checked here name this checkout's virtualenv instead: that
is the only change."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import cli
import settings
from settings import Settings, SettingsError
from tests.deploy.harness import PGBOUNCER
from tests.live import ROOT

SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")
# What conftest.py's fixture requires (systemd-analyze verify checks that ExecStart exists).
DEPLOY_PROGRAMS = (SYSTEMD_ANALYZE, PGBOUNCER)

UNITS = ROOT / "deploy" / "systemd"
BACKUP_UNITS = ROOT / "deploy" / "backup"  # the backups' services and their timers
ENV_EXAMPLE = UNITS / "shuyuan.env.example"
RELEASE_BIN = "/srv/shuyuan/.venv/bin/"
RELEASE_SCRIPTS = "/srv/shuyuan/deploy/"
# The units as systemd loads them: the template through one of its instances.
CHECKED = (
    "shuyuan-web@8001.service",
    "shuyuan-worker.service",
    "shuyuan-migrate.service",
    "shuyuan-pgbouncer.service",
    "shuyuan.target",
    "shuyuan-dump-database.service",
    "shuyuan-dump-database.timer",
    "shuyuan-base-backup.service",
    "shuyuan-base-backup.timer",
    "shuyuan-backup-storage.service",
    "shuyuan-backup-storage.timer",
)
# The long-running services, which keep the hardening below (the backups' one-shot runs as
# postgres, or with the bucket's keys, and are checked by verify only).
SERVICES = [
    name
    for name in CHECKED
    if name.endswith(".service") and "backup" not in name and "dump" not in name
]
# systemd-analyze security's overall exposure, in tenths (0 to 100): ours are 1.7 ("OK");
# a unit with no hardening at all is 9.2 ("UNSAFE").
EXPOSURE_AT_MOST = 25


def installed_copy(folder: Path, change: tuple[str, str] | None = None) -> Path:
    """deploy/systemd/'s units in `folder`, their commands in this checkout's virtualenv;
    `change` = (old, new) replaces a text in the web template (a broken unit)."""
    venv_bin = str(Path(sys.executable).parent) + "/"
    for unit in [*UNITS.glob("shuyuan*"), *BACKUP_UNITS.glob("shuyuan*")]:
        if unit.suffix not in (".service", ".target", ".timer"):
            continue
        text = unit.read_text(encoding="utf-8").replace(RELEASE_BIN, venv_bin)
        text = text.replace(RELEASE_SCRIPTS, f"{ROOT}/deploy/")
        if change and unit.name == "shuyuan-web@.service":
            assert change[0] in text
            text = text.replace(*change)
        (folder / unit.name).write_text(text, encoding="utf-8")
    return folder


def analyze(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """systemd-analyze with `folder` first on the unit search path (the template and the other
    units are found there by name, as in /etc/systemd/system/)."""
    return subprocess.run(
        [str(SYSTEMD_ANALYZE), *arguments],
        cwd=folder,
        env={"SYSTEMD_UNIT_PATH": f"{folder}:", "PATH": "/usr/bin:/bin", "SYSTEMD_PAGER": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )


def verify(folder: Path) -> str:
    """What `systemd-analyze verify` objects to, "" when nothing. It exits 0 on a key it does
    not know or a value it cannot parse ("..., ignoring"): any line it prints is a fault."""
    result = analyze(folder, "verify", *CHECKED)
    return (result.stdout + result.stderr).strip() or (
        f"exit status {result.returncode}" if result.returncode else ""
    )


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    assert verify(installed_copy(tmp_path)) == ""


@pytest.mark.parametrize(
    ("change", "objection"),
    [
        (("Restart=on-failure", "Restart=sometimes"), "Failed to parse service restart"),
        (("TimeoutStopSec=30s", "TimeoutStopSecs=30s"), "Unknown key 'TimeoutStopSecs'"),
        (("/bin/shuyuan serve", "/bin/shuyuan-missing serve"), "is not executable"),
    ],
)
def test_the_check_fails_on_a_broken_unit(
    tmp_path: Path, change: tuple[str, str], objection: str
) -> None:
    assert objection in verify(installed_copy(tmp_path, change))


def exposure(folder: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return analyze(
        folder, "security", "--offline=yes", f"--threshold={EXPOSURE_AT_MOST}", "--no-pager", unit
    )


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_keeps_its_hardening(tmp_path: Path, unit: str) -> None:
    result = exposure(installed_copy(tmp_path), unit)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_the_hardening_check_fails_on_a_unit_without_it(tmp_path: Path) -> None:
    folder = installed_copy(tmp_path)
    template = folder / "shuyuan-web@.service"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.split("# Hardening.", 1)[0] + "[Install]\nWantedBy=shuyuan.target\n")
    result = exposure(folder, "shuyuan-web@8001.service")
    assert result.returncode != 0
    assert "UNSAFE" in result.stdout


def exec_start(unit: str) -> list[str]:
    """The unit's ExecStart as argv, its instance 8001 and its own Environment= filled in."""
    text = (UNITS / unit).read_text(encoding="utf-8")
    environment = dict(re.findall(r"^Environment=([A-Z_]+)=(\S*)$", text, flags=re.MULTILINE))
    line = re.search(r"^ExecStart=(.+)$", text, flags=re.MULTILINE)
    assert line is not None
    command = line[1].replace("%i", "8001")
    for name, value in environment.items():
        command = command.replace(f"${{{name}}}", value)
    return shlex.split(command)


@pytest.mark.parametrize(
    ("unit", "command"),
    [
        ("shuyuan-web@.service", "serve"),
        ("shuyuan-worker.service", "worker"),
        ("shuyuan-migrate.service", "migrate"),
    ],
)
def test_each_unit_runs_a_command_the_cli_has(unit: str, command: str) -> None:
    argv = exec_start(unit)
    assert argv[0] == RELEASE_BIN + "shuyuan"
    arguments = cli._parser().parse_args(argv[1:])  # exits 2 on an unknown option
    assert arguments.command == command
    if command == "serve":
        assert (arguments.host, arguments.port, arguments.workers) == ("127.0.0.1", 8001, 1)


def example_lines() -> list[tuple[str, str, bool]]:
    """(name, value, commented) of each NAME=value line of shuyuan.env.example, read as
    systemd's EnvironmentFile= reads it (a value in double quotes loses them)."""
    found = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            value = match[3].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            found.append((match[2], value, match[1] == "#"))
    return found


def test_the_env_example_names_every_setting_and_nothing_else() -> None:
    names = [name for name, _, _ in example_lines()]
    assert sorted(set(names)) == sorted(names), "a setting named twice"
    assert set(names) - settings.KNOWN_VARIABLES == set(), "not a setting of settings.py"
    assert settings.KNOWN_VARIABLES - set(names) == set(), "a setting the example leaves out"


# What an operator must give before the first start: the example leaves these empty.
FILLED_BY_THE_OPERATOR = {
    "SECRET_KEY": "k" * 64,
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
}


def test_the_env_example_starts_production_once_its_blanks_are_filled() -> None:
    given = {name: value for name, value, commented in example_lines() if not commented}
    blanks = {name for name, value in given.items() if not value}
    assert blanks == set(FILLED_BY_THE_OPERATOR)
    with pytest.raises(SettingsError):  # as shipped: refused, never a placeholder secret
        Settings.from_env(given)
    production = Settings.from_env({**given, **FILLED_BY_THE_OPERATOR})
    assert production.is_production
    assert production.jobs == "worker"  # the job worker's unit has work to do


def test_the_units_write_where_the_settings_keep_files() -> None:
    var_dir = {name: value for name, value, _ in example_lines()}["SHUYUAN_VAR_DIR"]
    for unit in ("shuyuan-web@.service", "shuyuan-worker.service", "shuyuan-migrate.service"):
        text = (UNITS / unit).read_text(encoding="utf-8")
        assert f"ReadWritePaths={var_dir}\n" in text
        assert "EnvironmentFile=/etc/shuyuan/shuyuan.env\n" in text
