"""Credentials and the broker's configuration, rendered from ``routing_rules.yaml``.

Everything secret lives in the *secrets directory* (0700; files 0600), never in the
repository: ``$HOTLINE_MQTT_SECRETS_DIR``, else ``mqtt.secrets_dir``, else
``$HOTLINE_RUN_DIR/mqtt``.

```
<secrets>/hotline.password          the controller's password (unless $HOTLINE_MQTT_PASSWORD)
<secrets>/departments/<id>.password one per department: hand it to that department
<secrets>/passwd                    mosquitto password file (hashed by mosquitto_passwd -U)
<secrets>/acl                       who may read and write which topics
<secrets>/mosquitto.conf            loopback listener, no anonymous clients, persistence
<secrets>/data/                     the broker's persistence (queued QoS 1 messages)
```
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ivr.core.rundir import RunDir
from ivr.mqtt.exceptions import MqttSetupError
from ivr.mqtt.settings import MqttRules
from ivr.mqtt.topics import Topics

SECRETS_DIR_ENV = "HOTLINE_MQTT_SECRETS_DIR"
PASSWORD_ENV = "HOTLINE_MQTT_PASSWORD"


def secrets_dir(rules: MqttRules, run_dir: RunDir | None = None) -> Path:
    """Where credentials and the broker configuration live."""
    raw = os.environ.get(SECRETS_DIR_ENV) or rules.secrets_dir
    if raw:
        return Path(raw).expanduser()
    return (run_dir or RunDir.from_env()).path / "mqtt"


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (0600), atomically."""
    _private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _read_or_make(path: Path, create: bool) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if not create:
            return None
    password = secrets.token_urlsafe(24)
    write_private(path, password + "\n")
    return password


def hotline_password(directory: Path, create: bool = True) -> str:
    """The controller's password: ``$HOTLINE_MQTT_PASSWORD``, else generated once into the
    secrets directory."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    password = _read_or_make(directory / "hotline.password", create)
    if password is None:
        raise MqttSetupError(f"no MQTT password: set {PASSWORD_ENV} or run `hotline mqtt users` "
                             f"(creates {directory / 'hotline.password'})")
    return password


def department_password_file(directory: Path, department: str) -> Path:
    """Where a department's password is kept (to be handed to the department)."""
    return directory / "departments" / f"{department}.password"


def department_password(directory: Path, department: str, create: bool = False) -> str:
    """A department's password; :class:`MqttSetupError` when it was never created."""
    password = _read_or_make(department_password_file(directory, department), create)
    if password is None:
        raise MqttSetupError(f"no credentials for department {department!r}: run "
                             "`hotline mqtt users` first")
    return password


def ensure_users(rules: MqttRules, directory: Path,
                 rotate: frozenset[str] = frozenset()) -> dict[str, bool]:
    """Create missing department passwords (and ``rotate`` the named ones); ``{dept: created}``."""
    created: dict[str, bool] = {}
    for dept in rules.departments:
        path = department_password_file(directory, dept)
        if dept in rotate and path.exists():
            path.unlink()
        created[dept] = not path.exists()
        department_password(directory, dept, create=True)
    return created


def acl_text(rules: MqttRules, region: str) -> str:
    """The broker's ACL: the hotline publishes everything under its root; each department
    reads only its own orders and writes only its own ack and status topics."""
    topics = Topics(rules.topic_prefix, region)
    lines = ["# rendered by `hotline mqtt render` from routing_rules.yaml: do not edit", "",
             f"user {rules.username}", f"topic readwrite {topics.root}/#", ""]
    for dept in rules.departments:
        lines += [f"user {dept}",
                  f"topic read {topics.workorders(dept)}",
                  f"topic read {topics.root}/escalation/{dept}/#",
                  f"topic write {topics.ack(dept)}",
                  f"topic write {topics.department_status(dept)}", ""]
    return "\n".join(lines)


def conf_text(rules: MqttRules, directory: Path, port: int | None = None) -> str:
    """mosquitto.conf: one loopback (or configured) listener, passwords, ACL, persistence."""
    lines = [
        "# rendered by `hotline mqtt render` from routing_rules.yaml: do not edit",
        "per_listener_settings false",
        f"listener {port or rules.port} {rules.host}",
        "allow_anonymous false",
        f"password_file {directory / 'passwd'}",
        f"acl_file {directory / 'acl'}",
        "persistence true",
        f"persistence_location {directory / 'data'}/",
        "autosave_interval 1",
        f"pid_file {directory / 'mosquitto.pid'}",
        f"log_dest file {directory / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type subscribe",
        "connection_messages true",
        "max_queued_messages 10000",
    ]
    if os.geteuid() == 0:  # mosquitto drops root to "mosquitto", who could not read 0600 files
        lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Rendered:
    """The files of a rendered broker configuration."""

    directory: Path
    conf: Path
    acl: Path
    passwd: Path


def render(rules: MqttRules, region: str, directory: Path, port: int | None = None) -> Rendered:
    """Write mosquitto.conf, the ACL and the hashed password file (creating missing
    department passwords and the controller's)."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise MqttSetupError("mosquitto_passwd is not installed (tools/bootstrap installs "
                             "Debian's mosquitto)")
    _private_dir(directory)
    _private_dir(directory / "data")
    ensure_users(rules, directory)
    entries = [(rules.username, hotline_password(directory))]
    entries += [(dept, department_password(directory, dept)) for dept in rules.departments]
    passwd = directory / "passwd"
    write_private(passwd, "".join(f"{user}:{password}\n" for user, password in entries))
    result = subprocess.run([tool, "-U", str(passwd)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        passwd.unlink(missing_ok=True)
        raise MqttSetupError(f"mosquitto_passwd -U failed: {result.stderr.strip()}")
    os.chmod(passwd, 0o600)
    acl = directory / "acl"
    write_private(acl, acl_text(rules, region))
    conf = directory / "mosquitto.conf"
    write_private(conf, conf_text(rules, directory, port))
    return Rendered(directory, conf, acl, passwd)


def broker_pid(directory: Path) -> int | None:
    """The pid of the broker started from ``directory``, when it runs."""
    try:
        pid = int((directory / "mosquitto.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start_broker(conf: Path, host: str, port: int, timeout_s: float = 10.0) -> int:
    """Start mosquitto as a daemon with ``conf``; wait until it accepts; its pid."""
    import socket

    tool = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(tool).exists():
        raise MqttSetupError("mosquitto is not installed (tools/bootstrap installs it)")
    result = subprocess.run([tool, "-c", str(conf), "-d"], capture_output=True, text=True,
                            timeout=timeout_s)
    if result.returncode != 0:
        raise MqttSetupError(f"mosquitto did not start: {result.stderr.strip() or result.stdout}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                pid = broker_pid(conf.parent)
                if pid is not None:
                    return pid
        time.sleep(0.05)
    raise MqttSetupError(f"mosquitto not listening on {host}:{port} after {timeout_s} s "
                         f"(see {conf.parent / 'mosquitto.log'})")


def stop_broker(directory: Path, timeout_s: float = 10.0) -> bool:
    """Stop the broker started from ``directory`` (SIGTERM, then SIGKILL); whether one ran."""
    pid = broker_pid(directory)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True
