"""Transcript classification: the rules schema, the corpus, the n-gram model and the blend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ivr.config.errors import ConfigError
from ivr.speech.classify import Classification, Source, Urgency, classify
from ivr.speech.nb import DEFAULT_MODEL, ModelFileError, NgramModel, load_ngram_model
from ivr.speech.rules import EmergencyService, OutOfScope, RequestType, load_rules
from ivr.speech.text import ngrams, normalise
from speechkit import train
from speechkit.corpus import NONE, load_corpus, split
from speechkit.evaluate import evaluate

REPO = Path(__file__).resolve().parents[2]
RULES_FILE = REPO / "tests" / "fixtures" / "speech" / "classification.yaml"
RULES = load_rules(RULES_FILE)
MODEL = load_ngram_model()


def catalogue_domains() -> set[str]:
    data = yaml.safe_load((REPO / "merger_catalogue.yaml").read_text(encoding="utf-8"))
    return {line["domain"] for line in data["national"]}


def test_the_default_rules_cover_every_catalogue_domain_and_class() -> None:
    domains = catalogue_domains()
    assert set(RULES.domains) == domains
    assert RULES.unknown_domains(domains) == []
    assert set(RULES.request_types) == set(RequestType)
    assert set(RULES.emergency) == set(EmergencyService)
    assert set(RULES.out_of_scope) == set(OutOfScope)
    assert {s: r.number for s, r in RULES.emergency.items()} == {
        EmergencyService.POLICE: "110", EmergencyService.FIRE: "119",
        EmergencyService.AMBULANCE: "120", EmergencyService.TRAFFIC: "122"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["request_types"].pop("report"), "request_types lacks report"),
        (lambda d: d["emergency"]["fire"].pop("number"), "emergency.fire.number: required key is missing"),
        (lambda d: d["domains"]["tax"]["keywords"].append("个税"), "duplicate phrase"),
        (lambda d: d["domains"].update({"general": {"keywords": ["热线"]}}), "fallback domain"),
        (lambda d: d["thresholds"].update({"rule_wieght": 0.5}), "thresholds.rule_wieght: unknown key"),
        (lambda d: d["domains"].update({"Tax": {"keywords": ["税"]}}), "domains.Tax"),
    ],
)
def test_rule_errors_name_file_line_and_key(tmp_path: Path, edit: object, message: str) -> None:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    edit(data["classification"])  # type: ignore[operator]
    bad = tmp_path / "classification.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(bad)
    text = str(caught.value)
    assert message in text
    assert f"{bad}:" in text


def test_normalisation_folds_asr_spacing_and_punctuation() -> None:
    assert normalise("我 要 投诉 ， 楼下 KTV！") == "我要投诉 楼下ktv"
    assert normalise("  ") == ""
    assert ngrams("投诉")["#投"] == 1
    assert ngrams("我 要 投诉") == ngrams("我要投诉")


@pytest.mark.parametrize(
    ("text", "domain", "request_type"),
    [
        ("我想问一下公积金怎么提取", "housing_fund", RequestType.CONSULTATION),
        ("我 要 投诉 楼下 饭店 油烟 太 大", "environment", RequestType.COMPLAINT),
        ("我举报有个小卖部卖假烟", "tobacco", RequestType.REPORT),
        ("建议多开一些公交线路", "transport", RequestType.SUGGESTION),
        ("老板拖欠工资半年了求求你们帮帮忙", "social_security", RequestType.HELP),
        ("请问护照过期了怎么换", "immigration", RequestType.CONSULTATION),
    ],
)
def test_everyday_requests(text: str, domain: str, request_type: RequestType) -> None:
    result = classify(text, RULES, MODEL)
    assert (result.domain, result.request_type, result.urgency) == (domain, request_type, Urgency.NORMAL)
    assert result.confidence >= RULES.thresholds.min_confidence


@pytest.mark.parametrize(
    ("text", "service", "number"),
    [
        ("快来人有人在抢劫", EmergencyService.POLICE, "110"),
        ("我家厨房着火了", EmergencyService.FIRE, "119"),
        ("我爸晕倒了叫不醒", EmergencyService.AMBULANCE, "120"),
        ("路口出车祸了有人受伤", EmergencyService.TRAFFIC, "122"),
    ],
)
def test_emergencies_win_with_high_confidence(text: str, service: EmergencyService, number: str) -> None:
    result = classify(text, RULES, MODEL)
    assert result.is_emergency
    assert (result.emergency_service, result.emergency_number) == (service, number)
    assert result.confidence == RULES.thresholds.emergency_rule_confidence
    assert result.source is Source.RULES


def test_an_old_fire_or_a_fire_hazard_is_not_an_emergency() -> None:
    for text in ("上个月楼下着火了，想问问赔偿怎么处理", "我举报楼道里的火灾隐患"):
        result = classify(text, RULES, MODEL)
        assert not result.is_emergency, text
    assert classify("我举报楼道里的火灾隐患", RULES, MODEL).domain == "fire_safety"


@pytest.mark.parametrize(
    ("text", "matter"),
    [
        ("法院判决了对方一直不执行", OutOfScope.LITIGATION),
        ("劳动仲裁裁决我不服", OutOfScope.ARBITRATION),
        ("我的事情已经在信访局登记了", OutOfScope.PETITION),
        ("我要举报镇长贪污受贿", OutOfScope.DISCIPLINE),
        ("我想申请行政复议", OutOfScope.RECONSIDERATION),
        ("我想申请政府信息公开", OutOfScope.INFO_DISCLOSURE),
    ],
)
def test_out_of_scope_matters_are_flagged(text: str, matter: OutOfScope) -> None:
    assert classify(text, RULES, MODEL).out_of_scope is matter


def test_empty_and_unclear_transcripts_go_to_the_general_queue() -> None:
    assert classify("", RULES, MODEL) == Classification.fallback("", Source.EMPTY)
    assert classify(" ， ", RULES, MODEL).source is Source.EMPTY
    unclear = classify("嗯嗯那个就是", RULES, MODEL)
    assert unclear.domain == "general"
    assert not unclear.is_emergency


def test_rules_alone_work_without_the_model() -> None:
    result = classify("我要举报有人卖假烟", RULES, None)
    assert (result.domain, result.source) == ("tobacco", Source.RULES)
    assert classify("嗯", RULES, None).domain == "general"


def test_to_json_is_plain_data() -> None:
    data = classify("我家厨房着火了", RULES, MODEL).to_json()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["urgency"] == "emergency" and data["emergency_number"] == "119"
    assert set(data) >= {"domain", "request_type", "urgency", "emergency_service", "out_of_scope",
                         "confidence", "source"}


def test_the_corpus_covers_every_class() -> None:
    examples = load_corpus()
    assert len(examples) >= 600
    domains = [e.domain for e in examples if e.emergency == NONE]
    for domain in catalogue_domains() | {"general"}:
        assert domains.count(domain) >= 15, domain
    assert {e.request_type for e in examples} == set(RequestType)
    assert {e.emergency for e in examples} == {NONE, *EmergencyService}
    assert {e.out_of_scope for e in examples} == {NONE, *OutOfScope}


def test_the_split_is_deterministic_and_stratified() -> None:
    examples = load_corpus()
    train_set, held_out = split(examples)
    assert split(list(reversed(examples))) == (train_set, held_out)
    assert not {e.text for e in train_set} & {e.text for e in held_out}
    assert 0.18 <= len(held_out) / len(examples) <= 0.25
    assert {e.stratum for e in held_out} == {e.stratum for e in examples}


def test_the_shipped_model_is_trained_from_the_shipped_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(["--check"]) == 0, capsys.readouterr().out


def test_model_round_trip_and_bad_files(tmp_path: Path) -> None:
    copy = tmp_path / "model.json"
    MODEL.save(copy)
    again = load_ngram_model(copy)
    before, after = MODEL.predict("我要投诉物业"), again.predict("我要投诉物业")
    for head, probs in before.items():
        assert after[head] == pytest.approx(probs)
    assert copy.read_bytes() == DEFAULT_MODEL.read_bytes()
    with pytest.raises(ModelFileError, match=r"missing\.json"):
        load_ngram_model(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(ModelFileError, match="not a"):
        load_ngram_model(tmp_path / "other.json")
    priors = MODEL.predict("")
    assert isinstance(MODEL, NgramModel)
    assert sum(priors["domain"].values()) == pytest.approx(1.0)


def test_held_out_accuracy_floors() -> None:
    _, held_out = split(load_corpus())
    scores = evaluate(held_out, RULES, MODEL)["combined"]
    assert scores["domain"].accuracy >= 0.8
    assert scores["request_type"].accuracy >= 0.85
    assert scores["emergency"].accuracy >= 0.95
    assert scores["out_of_scope"].accuracy >= 0.9
    false_alarms = [e.text for e in held_out
                    if e.emergency == NONE and classify(e.text, RULES, MODEL).is_emergency]
    assert false_alarms == []
