"""Transition texts per line, from a small catalogue written for the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.prompts.render import all_prompts, load_catalogue, transition_text
from ivr.prompts.schema import PromptsFile, load_prompts

REPO = Path(__file__).resolve().parents[2]

CATALOGUE = """\
version: 1
emergency:
  - {number: "110", name: 报警服务电话, service: police}
national:
  - {number: "12396", name: 全国统一科技公益服务电话, domain: science}
  - {number: "12315", name: 12315市场监管投诉举报热线, domain: market}
  - {number: "12358", name: 全国价格投诉举报统一电话, domain: price}
  - {number: "12333", name: 全国人力资源和社会保障服务电话, domain: social}
regions:
  testland:
    name: 测试市
    document: 测试方案
    issued: 2021-06-01
    counts: {whole_merge: 4, dual_number: 2, sub_center: 0}
    schedule:
      national_whole_merge:
        transition: {start: 2021-07-01, end: 2021-09-30}
        cancelled_from: 2021-10-01
      local_whole_merge:
        transition: {start: 2021-07-01, end: 2021-09-30}
        cancelled_from: 2021-10-01
    lines:
      - {number: "12396", mode: whole_merge, plan_item: 第1项}
      - {number: "96322", name: 河长制工作监督举报电话, mode: whole_merge, domain: water,
         local: true, plan_item: 第2项}
      - {number: "12358", mode: whole_merge, plan_item: 第3项,
         remark: {kind: merged_into, number: "12315", text: 已归并到12315}}
      - {number: "8812345", name: 县长公开电话, mode: whole_merge, domain: general,
         plan_item: 第4项, prompt_text: 县长公开电话已停用，现在为您转接12345。}
      - {number: "12333", mode: dual_number, plan_item: 第5项}
      - {number: "12315", mode: dual_number, plan_item: 第6项}
"""


@pytest.fixture
def prompts() -> PromptsFile:
    return load_prompts(REPO / "recordings" / "prompts.yaml")


@pytest.fixture
def catalogue_file(tmp_path: Path) -> Path:
    path = tmp_path / "merger_catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    return path


def test_transition_text_has_name_and_number(prompts: PromptsFile) -> None:
    text = transition_text(prompts.templates, name="全国统一民政服务电话", number="12349")
    assert "全国统一民政服务电话" in text and "12349" in text


def test_catalogue_prompts(prompts: PromptsFile, catalogue_file: Path) -> None:
    specs = {s.id: s.text for s in all_prompts(prompts, load_catalogue(catalogue_file))}
    assert "greeting" in specs and "transition-generic" in specs
    regional = sorted(i for i in specs if "/" in i)
    assert regional == [
        "testland/transition-12358", "testland/transition-12396",
        "testland/transition-8812345", "testland/transition-96322",
    ]  # dual_number lines get none
    # name from the national baseline, number read out
    assert "全国统一科技公益服务电话12396" in specs["testland/transition-12396"]
    # the line's own name
    assert "河长制工作监督举报电话96322" in specs["testland/transition-96322"]
    # merged into 12315: the merged_into template, the target's name without its number twice
    merged = specs["testland/transition-12358"]
    assert "全国价格投诉举报统一电话12358" in merged
    assert "市场监管投诉举报热线12315" in merged and "1231512315" not in merged
    # prompt_text overrides the template
    assert specs["testland/transition-8812345"] == "县长公开电话已停用，现在为您转接12345。"


def test_unnamed_line_uses_fallback_name(prompts: PromptsFile, catalogue_file: Path) -> None:
    text = CATALOGUE.replace('name: 河长制工作监督举报电话, ', "")
    catalogue_file.write_text(text, encoding="utf-8")
    specs = {s.id: s.text for s in all_prompts(prompts, load_catalogue(catalogue_file))}
    assert f"{prompts.templates.unnamed_line}96322" in specs["testland/transition-96322"]
