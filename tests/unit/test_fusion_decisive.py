"""Rule confirmations decide alone only where the case base measured them precise (service/fusion.py)."""

from service.fusion import DECISIVE, Candidate, FusionModel, decide, rank_candidates, rule_precision


def test_rule_precision_is_smoothed_towards_the_overall_rate():
    pairs = [("a", True)] * 9 + [("a", False)] + [("b", True)] + [("b", False)] * 4
    overall, per_cause = rule_precision(pairs)
    assert overall == round(10 / 15, 3)
    # a: 9 of 10, pulled a little towards 0.667; b: 1 of 5, pulled up, still far below it
    assert 0.85 < per_cause["a"] < 0.9 and 0.25 < per_cause["b"] < 0.35
    assert rule_precision([]) == (0.0, {})


def _candidate(category: str, confirmed: bool) -> Candidate:
    features = {"rule_confirmed": float(confirmed), "rule_score": 1.0 if confirmed else 0.0}
    return Candidate(category, category, features, confirmed)


def test_a_confirmation_of_an_imprecise_cause_is_only_a_feature():
    model = FusionModel(weights={"rule_confirmed": 0.5}, none_weights={}, none_bias=2.0, threshold=0.9,
                        confirmed_floor=0.85, rule_precision={"precise": 0.95, "vague": DECISIVE - 0.3})
    ranked = rank_candidates([_candidate("precise", True), _candidate("vague", True)], {}, model)
    by_category = {c.category: c for c in ranked}
    assert by_category["precise"].confirmed and by_category["precise"].probability >= 0.95
    assert not by_category["vague"].confirmed and by_category["vague"].probability < 0.5
    chosen, rest = decide(ranked, model)
    assert [c.category for c in chosen] == ["precise"] and [c.category for c in rest] == ["vague"]


def test_equal_probabilities_rank_the_cause_seen_more_often_first():
    # Same features, same probability: the case base's counts order them, not the names.
    model = FusionModel(weights={"rule_score": 1.0}, none_weights={}, none_bias=0.0, threshold=0.9,
                        case_counts={"common": 30, "rare": 3})
    ranked = rank_candidates([_candidate("a-unseen", False), _candidate("rare", False), _candidate("common", False)],
                             {}, model)
    assert [c.category for c in ranked] == ["common", "rare", "a-unseen"]
    assert len({c.probability for c in ranked}) == 1
    # Without counts (a model trained before them) the order is by name, as before.
    model.case_counts = {}
    assert [c.category for c in rank_candidates(ranked, {}, model)] == ["a-unseen", "common", "rare"]


def test_a_cause_never_measured_gets_the_overall_precision():
    model = FusionModel(weights={}, none_weights={}, none_bias=0.0, threshold=0.9, confirmed_floor=0.88)
    assert model.precision("new-cause") == 0.88 and model.decisive("new-cause") == (0.88 >= DECISIVE)


def test_top_k_and_best_per_cause_equal_their_naive_definitions():
    import random

    from service.cases import OUT_OF_SCOPE
    from service.fusion import _top, _top_by_cause

    rng = random.Random(3)
    causes = ["a", "b", "c", OUT_OF_SCOPE]
    for _ in range(200):
        n = rng.randint(0, 120)
        scores = {f"case{i}": round(rng.uniform(-0.2, 1.0), rng.choice([1, 2, 6])) for i in range(n)}  # many ties
        cause_of = {i: rng.choice(causes) for i in scores if rng.random() < 0.9}
        k = rng.randint(1, 12)
        assert _top(scores, k) == sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:k]
        wanted = set(rng.sample(causes, rng.randint(0, 4)))
        naive: dict[str, float] = {}
        for case_id, score in scores.items():
            cause = cause_of.get(case_id)
            if cause is not None:
                naive[cause] = max(naive.get(cause, -2.0), score)
        expected = {c: s for c, s in naive.items() if c in wanted}
        in_scope = [s for c, s in naive.items() if c != OUT_OF_SCOPE]
        if in_scope:
            expected[""] = max(in_scope)
        assert _top_by_cause(scores, cause_of, wanted) == expected


def test_a_shared_symptom_alone_in_a_bare_paste_is_never_probable():
    from service.fusion import is_bare, only_shared_symptom
    from service.parse import parse
    from service.pipeline import as_parts

    log = "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n" * 2
    assert is_bare(parse(as_parts(log))) and is_bare(parse(as_parts("训练 loss 为 0，grad_norm 为 nan\n" + log)))
    story = ("Fine-tuning Qwen2.5-7B with LoRA on four A100s under DeepSpeed ZeRO-2; after the first hundred steps the "
             "loss drops to zero and grad_norm turns NaN, and restarting from the last checkpoint does the same.\n")
    assert not is_bare(parse(as_parts(story + log)))

    def candidate(input_bare: float, **features: float) -> Candidate:
        return Candidate("c", "c", {"rule_group": 1.0, "rule_symptom": 0.9, "rule_score": 0.9, **features}, False,
                         probability=0.95, bare=bool(input_bare))

    model = FusionModel(weights={}, none_weights={}, none_bias=0.0, threshold=0.8)
    assert only_shared_symptom(candidate(input_bare=1.0))
    assert decide([candidate(input_bare=1.0)], model)[0] == []  # asked, not answered
    assert [c.category for c in decide([candidate(input_bare=0.0)], model)[0]] == ["c"]  # a described run: answered
    assert [c.category for c in decide([candidate(input_bare=1.0, rule_score=1.4)], model)[0]] == ["c"]  # own evidence


def test_similarity_cannot_rank_the_causes_of_a_shared_symptom_in_a_bare_paste():
    from service.fusion import SIMILARITY_FEATURES, _level_shared_symptom

    def candidate(category: str, bare: bool, score: float, vote: float, clf: float) -> Candidate:
        features = {"rule_group": 1.0, "rule_symptom": 0.9, "rule_score": score, "case_vote": vote, "clf": clf,
                    "art_rank": vote / 2}
        return Candidate(category, category, features, False, bare=bare)

    found = [candidate("a", True, 0.9, 0.8, -0.5), candidate("b", True, 0.9, 0.1, -4.0),
             candidate("own-evidence", True, 1.5, 0.05, -6.0)]
    leveled = {c.category: c.features for c in _level_shared_symptom(found)}
    for name in ("case_vote", "clf", "art_rank"):
        assert name in SIMILARITY_FEATURES
        assert leveled["a"][name] == leveled["b"][name] == max(found[0].features[name], found[1].features[name])
    assert leveled["own-evidence"] == found[2].features  # its rules say more than the symptom: similarity stays
    assert leveled["a"]["rule_score"] == 0.9  # rule features are its own
    described = [candidate("a", False, 0.9, 0.8, -0.5), candidate("b", False, 0.9, 0.1, -4.0)]
    assert _level_shared_symptom(described) == described  # a described run: its similarity is evidence
