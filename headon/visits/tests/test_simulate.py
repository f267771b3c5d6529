"""Tests for the lottery simulation (pure Python, no database)."""

import random

import pytest

from headon.visits.draw import Party
from headon.visits.simulate import (
    MECHANISMS,
    compare,
    individual_lottery,
    make_population,
    make_program,
    simulate,
)

SEED = b"\x07" * 32


def by_mechanism(results):
    return {r.mechanism: r for r in results}


@pytest.fixture(scope="module")
def small_report():
    return simulate(applicants=2_000, sessions=4, capacity=30, runs=3, seed=5)


def test_every_rate_is_a_share_and_every_mechanism_is_reported(small_report):
    assert [r.mechanism for r in small_report.results] == list(MECHANISMS)
    for r in small_report.results:
        assert 0 <= r.fill_rate <= r.fill_rate_promoted <= 1
        assert 0 <= r.success_rate <= 1
        assert all(0 <= rate <= 1 for rate in r.success_by_size.values())
        assert set(r.success_by_size) == {1, 2, 3, 4}
        assert 1 <= r.mean_rank <= 5


def test_only_the_individual_lottery_wastes_seats_and_the_plain_one_fills_them(small_report):
    results = by_mechanism(small_report.results)
    assert results["individual"].wasted_seats > 0
    assert results["group_rsd"].wasted_seats == results["group_rsd_fair"].wasted_seats == 0
    # 2,000 people for 120 seats: the plain group lottery uses every seat.
    assert results["group_rsd"].fill_rate == 1


def test_the_same_seed_gives_the_same_report_and_another_seed_another(small_report):
    again = simulate(applicants=2_000, sessions=4, capacity=30, runs=3, seed=5)
    other = simulate(applicants=2_000, sessions=4, capacity=30, runs=3, seed=6)
    assert again == small_report
    assert other.results != small_report.results


def test_the_population_has_exactly_the_applicants_in_parties_of_one_to_four():
    program = make_program(16, 60)
    parties = make_population(3_001, program, random.Random(1))
    assert sum(p.size for p in parties) == 3_001
    assert {p.size for p in parties} == {1, 2, 3, 4}
    assert all(1 <= len(p.choices) <= 5 for p in parties)
    assert all(len(set(p.choices)) == len(p.choices) for p in parties)


def test_the_new_year_saturday_is_the_most_wanted_session():
    program = make_program(16, 60)
    first_choices = [p.choices[0] for p in make_population(20_000, program, random.Random(2))]
    most = max(set(first_choices), key=first_choices.count)
    assert most.startswith("2027-02-06.")
    assert max(s.weight for s in program) == 6.0


def test_an_individual_lottery_lets_two_members_of_one_party_both_win():
    # Both members of the party apply for its two seats; four seats, so both
    # win, and the second win is two wasted seats.
    outcome = individual_lottery([Party("pair", 2, ("s1",))], {"s1": 4}, SEED)
    assert outcome.visits == {"pair": "s1"}
    assert outcome.wasted == 2


def test_the_individual_lottery_favours_large_parties():
    # Each member is a ticket, so a party of four draws four times.
    parties = [Party(f"one{i}", 1, ("s1",)) for i in range(20)]
    parties += [Party(f"four{i}", 4, ("s1",)) for i in range(20)]
    results = by_mechanism(compare([parties] * 200, {"s1": 12}, seed=3))
    individual, plain = results["individual"].success_by_size, results["group_rsd"].success_by_size
    assert individual[4] > individual[1]
    assert plain[4] < plain[1]  # the group lottery leans the other way
    assert results["individual"].wasted_seats > 0


def test_the_fair_lottery_is_not_worse_for_parties_of_four_and_narrows_the_gap():
    # One session of 12: small parties behind a turned-away party of four take
    # the seats it could not in the plain lottery, never in the fair one.
    parties = [Party(f"one{i}", 1, ("s1",)) for i in range(10)]
    parties += [Party(f"four{i}", 4, ("s1",)) for i in range(10)]
    results = by_mechanism(compare([parties] * 300, {"s1": 12}, seed=4))
    plain, fair = results["group_rsd"], results["group_rsd_fair"]
    assert fair.success_by_size[4] >= plain.success_by_size[4]
    plain_gap = plain.success_by_size[1] - plain.success_by_size[4]
    fair_gap = fair.success_by_size[1] - fair.success_by_size[4]
    assert plain_gap > 0.15
    assert abs(fair_gap) < plain_gap / 2  # measured: 0.19 and 0.07
    assert fair.fill_rate < plain.fill_rate == 1
    assert fair.fill_rate_promoted == 1  # promotion hands out what the draw held back


def test_the_markdown_report_has_both_tables_and_the_chart(small_report):
    text = small_report.to_markdown()
    assert "| individual lottery |" in text
    assert "| group lottery, no leapfrogging |" in text
    assert "party of 4" in text
    assert text.count("```") == 2


def test_it_refuses_an_empty_simulation():
    with pytest.raises(ValueError, match="at least one"):
        simulate(applicants=0)


def test_success_is_reported_before_and_after_promotion_with_intervals(small_report):
    for r in small_report.results:
        for size in (1, 2, 3, 4):
            assert r.success_by_size_promoted[size] >= r.success_by_size[size]
            assert r.ci[f"size {size}"] >= 0
            assert r.ci[f"promoted size {size}"] >= 0
        assert r.success_rate_promoted >= r.success_rate
        assert r.gap == pytest.approx(r.success_by_size_promoted[1] - r.success_by_size_promoted[4])
    individual = by_mechanism(small_report.results)["individual"]
    assert individual.success_by_size_promoted == individual.success_by_size  # no waitlist


def test_the_interval_is_196_standard_errors_of_the_runs():
    from statistics import stdev

    from headon.visits.simulate import _mean_ci

    values = [0.1, 0.3, 0.2, 0.4]
    mean, half = _mean_ci(values)
    assert mean == pytest.approx(0.25)
    assert half == pytest.approx(1.96 * stdev(values) / 2)
    assert _mean_ci([0.5]) == (0.5, 0.0)


def test_the_report_states_its_applicant_model_and_the_individual_lottery(small_report):
    text = small_report.to_markdown()
    assert "**Applicants.** Applicants come in parties of 1, 2, 3 and 4 people" in text
    assert "The *individual lottery* is" in text
    assert "in the draw (%)" in text
    assert "after waitlist promotion (%)" in text
    assert " ± " in text
    assert "group lottery minus no leapfrogging, after waitlist promotion, paired by run" in text
