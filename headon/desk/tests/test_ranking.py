from __future__ import annotations

import pytest

from headon.desk.ranking import QuestionDay, Weights, rank, rising


def day(
    qid: int, people: int, *, likes: int = 0, hourly: list[int] | None = None, rumour: bool = False
) -> QuestionDay:
    return QuestionDay(
        qid, people, people, 1, likes, 0, 0, hourly or [people // 20 or 1] * 20, rumour
    )


def test_many_people_outrank_one_viral_comment() -> None:
    crowd = day(1, 1204)
    viral = day(2, 1, likes=50_000)
    assert [r.question_id for r in rank([viral, crowd])] == [1, 2]


def test_engagement_breaks_a_tie_between_equal_crowds() -> None:
    assert [r.question_id for r in rank([day(1, 100), day(2, 100, likes=900)])] == [2, 1]


def test_a_rumour_is_boosted_and_the_boost_is_a_setting() -> None:
    plain, rumour = day(1, 100), day(2, 90, rumour=True)
    assert rank([plain, rumour])[0].question_id == 2
    assert rank([plain, rumour], Weights(rumour=0))[0].question_id == 1


def test_a_question_climbing_all_evening_is_rising_since_the_climb_began() -> None:
    hourly = [2] * 18 + [8, 12, 20, 30]
    since, growth = rising(hourly)
    assert since == 18
    assert growth > 5


def test_a_flat_question_is_not_rising_and_a_tiny_one_never_is() -> None:
    assert rising([5] * 20) == (None, 1.0)
    assert rising([0] * 20 + [1, 2]) == (None, 1.0)


def test_each_rank_carries_its_parts_and_they_add_up() -> None:
    ranked = rank([day(1, 50, likes=10, hourly=[1] * 10 + [5, 9, 15])])[0]
    assert ranked.score == pytest.approx(sum(ranked.parts.values()), abs=1e-3)
    assert ranked.rising_since == 10


def test_unknown_weights_in_settings_are_refused() -> None:
    assert Weights.from_mapping({"people": 2}).people == 2.0
    with pytest.raises(ValueError, match="likes"):
        Weights.from_mapping({"likes": 1})
