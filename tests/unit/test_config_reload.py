"""A reload of the running configuration never raises and never applies a broken file:
GBK bytes, alias bombs, deep nesting, control characters, a directory or an unreadable
file where a file should be, and schema errors each keep the last good configuration and
log ``file:line: key: message``. Start-up settings changed by a reload wait for a restart."""

from __future__ import annotations

import errno
import logging
import time
from pathlib import Path

import pytest

from ivr.config.engine import load_engine_config
from ivr.config.errors import ConfigError
from ivr.config.holder import ConfigHolder
from ivr.config.yamlsrc import load_located

LOGGER = "ivr.config.holder"


def rejected(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The problems the holder logged as ``config reload rejected: ...``."""
    prefix = "config reload rejected: "
    return [r.getMessage()[len(prefix):] for r in caplog.records
            if r.getMessage().startswith(prefix)]


def reload_rejected(holder: ConfigHolder, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Reload, expect a rejection that kept the old configuration; return the problems."""
    before = holder.current
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert holder.reload() is False
    assert holder.current is before
    assert holder.current.region == "testland"
    assert "keeping the last good configuration (region testland)" in caplog.text
    found = rejected(caplog)
    assert found, caplog.text
    return found


def bomb(levels: int = 9, width: int = 10) -> str:
    """A billion-laughs document: ``levels`` anchors, each ``width`` aliases of the one before."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_gbk_agents_file(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "agents.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("gbk"))  # Notepad on a Chinese Windows desktop
    found = reload_rejected(holder, caplog)
    # line 3 is the first agent, named 甲; GBK writes it as 0xbc 0xd7
    assert found == [f"{path}:3: (file): not valid UTF-8 (byte 0xbc at column 24; the file "
                     "looks GBK-encoded): save it as UTF-8 (Notepad: 另存为 → 编码 UTF-8)"]
    path.write_text(text, encoding="utf-8")
    assert holder.reload() is True


def test_utf16_is_named(mini_config: Path) -> None:
    path = mini_config / "agents.yaml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(ConfigError) as info:
        load_engine_config(mini_config)
    (problem,) = info.value.problems
    assert (problem.line, problem.key) == (1, "(file)")
    assert "UTF-16" in problem.message and "save it as UTF-8" in problem.message


def test_utf8_bom_is_accepted(mini_config: Path) -> None:
    holder = ConfigHolder(mini_config)
    for name in ("agents.yaml", "routing_rules.yaml", "merger_catalogue.yaml"):
        path = mini_config / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert holder.reload() is True
    assert [a.name for a in holder.current.roster.agents] == ["甲", "乙"]


def test_alias_bomb_is_refused_fast(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "routing_rules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + bomb(), encoding="utf-8")
    first = path.read_text(encoding="utf-8").splitlines().index("l1: &l1 [*l0, *l0, *l0, *l0, "
                                                                 "*l0, *l0, *l0, *l0, *l0, *l0]")
    started = time.monotonic()
    found = reload_rejected(holder, caplog)
    assert time.monotonic() - started < 2.0
    (problem,) = found
    assert problem.startswith(f"{path}:"), problem
    line = int(problem[len(f"{path}:"):].split(":", 1)[0])
    assert first + 1 < line <= first + 9  # the alias that crosses the budget, levels in
    assert "(aliases): alias *l" in problem and "alias bomb" in problem


def test_many_aliases_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("v: &v 1\nlist:\n" + "".join("  - *v\n" for _ in range(1000)),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_located(path)
    (problem,) = info.value.problems
    assert problem.line == 503 and problem.key == "(aliases)", problem  # the 501st alias


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("a: 1\nb: &b\n  - x\n  - *b\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_located(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:4: (aliases): alias *b is used inside the value it names "
        "(a recursive structure): write the value out"]


def test_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &base {ring: 20, wait: 120}\nqueue: {<<: *base, wait: 60}\n",
                    encoding="utf-8")
    assert load_located(path).data["queue"] == {"ring": 20, "wait": 60}


def test_deep_nesting(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "routing_rules.yaml"
    deep = "".join("  " * i + f"k{i}:\n" for i in range(5000)) + "  " * 5000 + "leaf\n"
    path.write_text(path.read_text(encoding="utf-8") + "\nnested:\n" + deep, encoding="utf-8")
    start = path.read_text(encoding="utf-8").splitlines().index("nested:") + 1
    (problem,) = reload_rejected(holder, caplog)
    assert problem.startswith(f"{path}:{start + 64}: (nesting): nested more than 64 levels"), problem


def test_deep_flow_nesting(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "agents.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "x: " + "[" * 50000 + "]" * 50000 + "\n",
                    encoding="utf-8")
    (problem,) = reload_rejected(holder, caplog)
    assert problem.startswith(f"{path}:5: (nesting):"), problem


def test_control_character(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("description: 12345 fallback desk",
                                 "description: 12345\x07 fallback desk"), encoding="utf-8")
    line = text.splitlines().index("  description: 12345 fallback desk (always staffed)") + 1
    assert reload_rejected(holder, caplog) == [
        f"{path}:{line}: (file): control character U+0007 at column 21 is not allowed in YAML: "
        "delete it (tabs and line breaks are the only ones allowed)"]


def test_syntax_error(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  agent_ring_s: 20", "  agent_ring_s: [20"), encoding="utf-8")
    line = text.splitlines().index(
        "  agent_ring_s: 20           # ring an agent this long before trying the next target") + 1
    (problem,) = reload_rejected(holder, caplog)
    assert problem.startswith(f"{path}:{line + 1}: (syntax): while parsing a flow sequence "
                              f"(line {line}): "), problem


def test_directory_instead_of_file(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "agents.yaml"
    path.unlink()
    path.mkdir()
    assert reload_rejected(holder, caplog) == [
        f"{path}:1: (file): cannot read the file: it is a directory"]


def test_missing_file(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    (mini_config / "merger_catalogue.yaml").unlink()
    assert reload_rejected(holder, caplog) == [
        f"{mini_config / 'merger_catalogue.yaml'}:1: (file): cannot read the file: "
        "it does not exist"]


def test_unreadable_file(mini_config: Path, caplog: pytest.LogCaptureFixture,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "agents.yaml"
    path.chmod(0)
    read_bytes = Path.read_bytes

    def denied(self: Path) -> bytes:  # root reads a 0000 file anyway; deny it as a user would be
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    try:
        assert reload_rejected(holder, caplog) == [
            f"{path}:1: (file): cannot read the file: permission denied"]
    finally:
        path.chmod(0o644)


def test_schema_error(mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "agents.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("general: 8", "general: 11"),
                    encoding="utf-8")
    (problem,) = reload_rejected(holder, caplog)
    assert problem.startswith(f"{path}:3: agents[0].skills.general: "), problem


def test_unexpected_loader_failure_is_logged_with_traceback(
        mini_config: Path, caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def loader(directory: Path):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls > 1:
            raise MemoryError("out of memory")
        return load_engine_config(directory)

    holder = ConfigHolder(mini_config, loader=loader)
    found = reload_rejected(holder, caplog)
    assert found == [f"{mini_config}: MemoryError: out of memory"]
    assert any(r.exc_info for r in caplog.records), "the traceback is logged"
    assert (holder.reloads_applied, holder.reloads_rejected) == (0, 1)
    assert holder.last_problems == found


STARTUP = [("timing", "decision_budget_ms"), ("listening", "enabled"),
           ("listening", "audiosocket"), ("timing", "answer_target_s")]


def test_startup_settings_wait_for_a_restart(mini_config: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config, startup_settings=STARTUP)
    running = holder.current.rules
    assert running.listening.enabled is True and holder.pending_restart == []
    path = mini_config / "routing_rules.yaml"
    good = path.read_text(encoding="utf-8")
    edited = (good.replace("decision_budget_ms: 2000", "decision_budget_ms: 3000")
              .replace("agent_ring_s: 20", "agent_ring_s: 25")  # hot, same section
              .replace("greeting: greeting", "greeting: listen")  # hot
              + "\nlistening:\n  enabled: false\n  audiosocket: {host: 127.0.0.1, port: 9099}\n"
              + "acd:\n  max_wait_s: 90\n")
    path.write_text(edited, encoding="utf-8")
    lines = edited.splitlines()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert holder.reload() is True
    rules = holder.current.rules
    # hot changes applied ...
    assert rules.timing.agent_ring_s == 25
    assert rules.prompts.greeting == "listen"
    assert rules.acd.max_wait_s == 90
    # ... start-up ones kept, nested in their sections
    assert rules.timing.decision_budget_ms == 2000
    assert rules.timing.answer_target_s == running.timing.answer_target_s
    assert rules.listening.enabled is True
    assert rules.listening.audiosocket == running.listening.audiosocket
    assert holder.pending_restart == ["timing.decision_budget_ms", "listening.enabled",
                                      "listening.audiosocket"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    enabled_line = lines.index("  enabled: false") + 1
    budget_line = next(i for i, t in enumerate(lines, 1) if "decision_budget_ms: 3000" in t)
    assert f"{path}:{enabled_line}: listening.enabled: changed to False; a start-up setting — " \
           "takes effect after a restart of hotline run (keeping True)" in warnings, warnings
    assert any(w.startswith(f"{path}:{budget_line}: timing.decision_budget_ms: changed to 3000;")
               and w.endswith("(keeping 2000)") for w in warnings), warnings
    assert any(w.startswith(f"{path}:{enabled_line + 1}: listening.audiosocket: changed to "
                            '{"host": "127.0.0.1", "port": 9099}') for w in warnings), warnings
    # a later reload keeps the start-up value and still says it waits for a restart
    assert holder.reload() is True
    assert holder.current.rules.listening.enabled is True
    assert "listening.enabled" in holder.pending_restart
    # putting the running values back on disk: nothing waits any more
    path.write_text(good, encoding="utf-8")
    assert holder.reload() is True
    assert holder.pending_restart == []
    assert holder.current.rules.timing.agent_ring_s == 20


def test_rejected_reload_leaves_pending_restart_alone(mini_config: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    holder = ConfigHolder(mini_config, startup_settings=STARTUP)
    path = mini_config / "routing_rules.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good + "listening:\n  enabled: false\n", encoding="utf-8")
    assert holder.reload() is True and holder.pending_restart == ["listening.enabled"]
    path.write_text(good + "listening:\n  enabled: [\n", encoding="utf-8")
    reload_rejected(holder, caplog)
    assert holder.pending_restart == ["listening.enabled"]
    assert holder.current.rules.listening.enabled is True


def test_default_has_no_startup_settings(mini_config: Path) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "routing_rules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "listening:\n  enabled: false\n",
                    encoding="utf-8")
    assert holder.reload() is True
    assert holder.current.rules.listening.enabled is False
    assert holder.pending_restart == [] and holder.startup_settings == ()


def test_startup_settings_can_be_set_after_construction(mini_config: Path) -> None:
    holder = ConfigHolder(mini_config)
    holder.startup_settings = [("listening", "enabled"), ("listening", "enabled")]
    assert holder.startup_settings == (("listening", "enabled"),)
    path = mini_config / "routing_rules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "listening:\n  enabled: false\n",
                    encoding="utf-8")
    assert holder.reload() is True
    assert holder.current.rules.listening.enabled is True
    assert holder.pending_restart == ["listening.enabled"]
