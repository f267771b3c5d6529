"""The visit program's part of the demo: the reference program, built from
its rules, open for applications, with a rush of applications already in
and its draw committed (a coordinator can close and seal it at once; the
draw then waits for its drand round, whose signature is on the internet);
last summer's program, drawn, whose public record anyone can verify; and an
open day held today, with confirmed visitors and their tickets, so the
gate, the visitor list and messages can be tried at once.

The drawn program's draw was sealed a second before quicknet round 9683610
(2024-07-24 20:49:54 UTC) and names round 9683710, 100 rounds later: a
real, published round (`beacon.RECORDED`), so the record verifies offline,
signature included. Its dates are in the past, so it is written as the
applications are, directly, and sealed with the services' own functions
(`parties_for`, `seats_for`, `seal_of`): `draw_close` would seal it now."""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import Sum
from django.utils import timezone

from headon.timezones import organiser_now, organiser_today, organiser_tz
from headon.visits import beacon, schedule
from headon.visits import draw as core
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Draw,
    Offer,
    PartyMember,
    Program,
    ScheduleExclusion,
    ScheduleRule,
    Session,
    WaitlistEntry,
)
from headon.visits.services import draws
from headon.visits.services.applications import access_token
from headon.visits.services.notices import private_url
from headon.visits.services.offers import walk_in_open
from headon.visits.services.people import mask_phone_number, seal
from headon.visits.services.programs import sessions_apply_rules
from headon.visits.services.tickets import issue_tickets

LABELS = {
    "Lunar New Year": "Lunar New Year · 春节",
    "Monday morning": "Monday morning · 周一上午",
    "Saturday morning": "Saturday morning · 周六上午",
    "Line maintenance": "Line maintenance · 产线检修",
}


# What the demo's programs ask of applicants (decision 26).
QUESTIONS = [
    {
        "key": "heard",
        "label_en": "How did you hear about us?",
        "label_zh": "您是从哪里得知本次开放日的？",
        "kind": "choice",
        "required": True,
        "choices": [
            {"key": "c1", "label_en": "WeChat", "label_zh": "微信"},
            {"key": "c2", "label_en": "A friend or family", "label_zh": "亲友介绍"},
            {"key": "c3", "label_en": "Our website", "label_zh": "官方网站"},
            {"key": "c4", "label_en": "I work here", "label_zh": "我在这里工作"},
        ],
    },
    {
        "key": "hope",
        "label_en": "Anything you especially hope to see?",
        "label_zh": "您特别希望看到什么？",
        "kind": "text",
        "required": False,
    },
]
ASKS: dict[str, object] = {
    "minimum_age": 8,
    "ask_accessibility": True,
    "ask_emergency_contact": True,
    "questions": QUESTIONS,
}
HOPES = [
    ("zh", "想看机器人焊接车身"),
    ("zh", "孩子很想看总装线"),
    ("en", "The paint shop, if possible"),
    ("en", "How the batteries are fitted"),
]
NEEDS = [
    ("zh", "一位同行者使用轮椅，需要无障碍通道"),
    ("zh", "老人行走较慢，希望途中有座位休息"),
    ("en", "Hearing aid user: a hearing loop or written notes would help"),
]
EMERGENCY = ["王丽", "李强", "陈静", "Sarah Li", "张敏"]


def demo_extras(rng: random.Random, n: int, language: str) -> dict[str, object]:
    """A party's answers to what the demo programs ask, some in each language."""
    chinese = language.startswith("zh")
    answers: list[dict[str, str]] = [
        {"q": "heard", "c": rng.choice(["c1", "c1", "c2", "c3", "c4"])}
    ]
    hopes = [text for lang, text in HOPES if (lang == "zh") == chinese]
    if n % 4 == 0:
        answers.append({"q": "hope", "a": rng.choice(hopes)})
    needs = [text for lang, text in NEEDS if (lang == "zh") == chinese]
    phone = f"+86133{n:08d}"
    return {
        "accessibility_needs": rng.choice(needs) if n % 15 == 0 else "",
        "emergency_name": rng.choice(EMERGENCY),
        "emergency_phone_masked": mask_phone_number(phone),
        "emergency_phone_sealed": seal(phone),
        "answers": answers,
    }


def demo_birth_date(rng: random.Random, position: int) -> dt.date:
    """The lead an adult; one companion in three a child of 8 to 15 (8 on
    the demo's first sessions: born before 2018)."""
    child = position and rng.random() < 0.35
    year = rng.randint(2011, 2017) if child else rng.randint(1955, 2004)
    return dt.date(year, rng.randint(1, 12), rng.randint(1, 28))


def load() -> Program:
    program, created = Program.objects.get_or_create(
        slug="open-factory-days-2027",
        defaults={
            "title_en": "Open Factory Days 2027",
            "title_zh": "2027 工厂开放日",
            "description_en": (
                "Walk the assembly line with the people who build our cars. "
                "16 sessions, 60 visitors each: Lunar New Year days 5 to 7, "
                "Monday mornings and Saturday mornings. Seats are drawn by lottery."
            ),
            "description_zh": (
                "和造车的同事一起走进总装车间。共 16 场，每场 60 人："
                "春节初五至初七、周一上午和周六上午。名额通过公开抽签产生。"
            ),
            "venue": "Plant 2, 88 Jiading Road, Shanghai · 上海嘉定路 88 号二号工厂",
            "status": Program.Status.PUBLISHED,
            "party_size_max": 4,
            "choices_max": 3,
            # Open from now for a month, so the demo can be tried at once.
            "applications_open_at": timezone.now() - dt.timedelta(hours=1),
            "applications_close_at": timezone.now() + dt.timedelta(days=30),
            "privacy_notice_en": (
                "We use your name, phone number and ID number only to run this draw and "
                "to check you in at the gate. ID numbers are stored encrypted and deleted "
                "90 days after the last session."
            ),
            "privacy_notice_zh": (
                "我们仅将您的姓名、手机号和身份证号用于本次抽签和入场核验。"
                "身份证号加密保存，并在最后一场结束 90 天后删除。"
            ),
            **ASKS,
        },
    )
    if created:
        rules, exclusions = schedule.reference_program_rules()
        for position, rule in enumerate(rules):
            spec = schedule.rule_to_dict(rule)
            spec["label"] = LABELS.get(spec["label"], spec["label"])
            ScheduleRule.objects.create(program=program, position=position, spec=spec)
        for exclusion in exclusions:
            ScheduleExclusion.objects.create(
                program=program,
                date=exclusion.date,
                start=exclusion.start,
                reason=LABELS.get(exclusion.reason, exclusion.reason),
            )
        sessions_apply_rules(program=program)
        load_applications(program)
        draws.draw_commit(program=program, source=Draw.Source.SECRET, actor=None)
    load_drawn()
    return program


DRAWN_ROUND = 9683710  # 2024-07-24 20:54:54 UTC, quicknet


def load_drawn() -> Program:
    """Last summer's program: four Saturday sessions of 30, 200 parties,
    drawn on a real quicknet round (see the module's docstring)."""
    sealed_at = beacon.round_time(DRAWN_ROUND - 100) - dt.timedelta(seconds=1)
    program, created = Program.objects.get_or_create(
        slug="open-factory-days-2024",
        defaults={
            "title_en": "Open Factory Days, summer 2024",
            "title_zh": "2024 夏季工厂开放日",
            "description_en": "Four Saturday mornings in August 2024. Drawn; the record is public.",
            "description_zh": "2024 年 8 月的四个周六上午。已抽签，记录公开。",
            "venue": "Plant 2, 88 Jiading Road, Shanghai · 上海嘉定路 88 号二号工厂",
            "status": Program.Status.PUBLISHED,
            "party_size_max": 4,
            "choices_max": 3,
            "applications_open_at": sealed_at - dt.timedelta(days=30),
            "applications_close_at": sealed_at - dt.timedelta(minutes=50),
        },
    )
    if not created:
        return program
    first = dt.datetime(2024, 8, 3, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai
    for week in range(4):
        Session.objects.create(
            program=program,
            starts_at=first + dt.timedelta(weeks=week),
            ends_at=first + dt.timedelta(weeks=week, hours=2),
            capacity=30,
            label_en="Saturday morning",
            label_zh="周六上午",
        )
    load_applications(program, parties=200, seed=2024, prefix="S")
    secret = core.new_secret()
    draw = Draw.objects.create(
        program=program,
        algorithm=core.ALGORITHM_VERSION,
        mechanism=Draw.Mechanism.FAIR,
        source=Draw.Source.SECRET,
        commitment=core.commitment_for_secret(secret),
        secret_sealed=seal(secret.hex()),
        beacon_offset=100,
    )
    draw.committed_at = sealed_at - dt.timedelta(days=7)
    draw.closed_at = dt.datetime.fromtimestamp(int(sealed_at.timestamp()), dt.UTC)
    draw.beacon_round = beacon.first_round_at_or_after(draw.closed_at) + draw.beacon_offset
    parties = draws.parties_for(program)
    draw.sealed_hash = core.sealed_hash(parties, draws.seats_for(program), draws.seal_of(draw))
    draw.parties = len(parties)
    draw.stage = Draw.Stage.CLOSED
    draw.save()
    draws.draw_run(program=program, actor=None, beacon_value=beacon.RECORDED[DRAWN_ROUND])
    settle_drawn(program, beacon.round_time(DRAWN_ROUND) + dt.timedelta(minutes=5))
    return program


def settle_drawn(program: Program, ran_at: dt.datetime) -> None:
    """The summer as it ended: drawn minutes after its round, every party
    offered a place confirmed it the next day and holds its tickets. Run now,
    the draw would date itself and its offers today."""
    Draw.objects.filter(program=program).update(ran_at=ran_at)
    for offer in Offer.objects.filter(session__program=program).select_related("session"):
        offer.offered_at = ran_at
        offer.deadline = min(ran_at + dt.timedelta(hours=72), offer.session.starts_at)
        offer.status = Offer.Status.CONFIRMED
        offer.responded_at = ran_at + dt.timedelta(days=1)
        offer.save(update_fields=["offered_at", "deadline", "status", "responded_at"])
        issue_tickets(offer)


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "Emma", "Liam", "Olivia"]


def load_applications(
    program: Program, parties: int = 1100, seed: int = 2027, prefix: str = "D"
) -> int:
    """A realistic rush: about 2,400 people in 1,100 parties for 960 seats,
    the Lunar New Year and Saturday sessions wanted most. Written directly
    (the demo's people have phone numbers only, masked)."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)  # nosec B311
    sessions = list(program.sessions.order_by("starts_at"))
    weights = [
        3.0
        if "春节" in s.label_zh or "Lunar" in s.label_en
        else 2.0
        if s.starts_at.weekday() == 5
        else 1.0
        for s in sessions
    ]
    now = timezone.now()
    applications = []
    asks = program.ask_emergency_contact
    # Its own generator: the parties, their choices and so the draw stay
    # what they were before the demo asked these.
    extra = random.Random(seed + 1)  # noqa: S311  # nosec B311
    for n in range(parties):
        language = "zh-hans" if rng.random() < 0.8 else "en"
        applications.append(
            Application(
                program=program,
                reference=f"{prefix}{n:06d}"[:12],
                contact_kind=Application.ContactKind.PHONE,
                contact=f"+86139{n:08d}" if prefix == "D" else f"+86136{n:08d}",
                language=language,
                party_size=rng.choices([1, 2, 3, 4], weights=[35, 35, 15, 15])[0],
                consented_at=now,
                **(demo_extras(extra, n, language) if asks else {}),
            )
        )
    Application.objects.bulk_create(applications, batch_size=500)
    members, choices = [], []
    for n, application in enumerate(Application.objects.filter(program=program)):
        for position in range(application.party_size):
            phone = f"+86137{application.pk:05d}{position:03d}"
            # One party in twenty waits for its last companion to confirm
            # (issue 17); sealing the draw drops whoever is still waiting.
            waiting = n % 20 == 0 and position == application.party_size - 1 and position > 0
            members.append(
                PartyMember(
                    application=application,
                    position=position,
                    name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                    phone_masked=mask_phone_number(phone) if position == 0 or waiting else "",
                    phone_sealed=seal(phone) if waiting else "",
                    status=PartyMember.Status.WAITING if waiting else PartyMember.Status.CONFIRMED,
                    invited_at=now if waiting else None,
                    invites_sent=1 if waiting else 0,
                    birth_date=demo_birth_date(rng, position) if program.asks_birth_dates else None,
                )
            )
        wanted: list[Session] = []
        for _ in range(rng.randint(1, program.choices_max)):
            pick = rng.choices(sessions, weights=weights)[0]
            if pick not in wanted:
                wanted.append(pick)
        choices += [
            ApplicationChoice(application=application, session=session, rank=rank)
            for rank, session in enumerate(wanted, start=1)
        ]
    PartyMember.objects.bulk_create(members, batch_size=1000)
    ApplicationChoice.objects.bulk_create(choices, batch_size=1000)
    return len(applications)


def waiting_party_link(program: Program) -> str:
    """The private page of a demo party waiting for a companion, to try."""
    application = (
        Application.objects.filter(program=program, members__status=PartyMember.Status.WAITING)
        .order_by("pk")
        .first()
    )
    if application is None:
        return ""
    return f"/visits/{program.slug}/a/{application.reference}/{access_token(application)}/"


TODAY_PREFIX = "open-day-"


def _today_starts(day: dt.date) -> list[dt.datetime]:
    """09:30 and 14:00 today, and one starting this hour, so that one gate
    is open whenever the demo is started (each runs two hours)."""
    tz = organiser_tz()
    fixed = [dt.datetime.combine(day, dt.time(9, 30), tzinfo=tz)]
    fixed.append(dt.datetime.combine(day, dt.time(14, 0), tzinfo=tz))
    now = organiser_now().replace(minute=0, second=0, microsecond=0)
    if all(abs(now - start) >= dt.timedelta(hours=2) for start in fixed):
        fixed.append(now)
    return sorted(fixed)


def load_today(parties: int = 24, seed: int = 7) -> Program:
    """A program whose sessions are today in the organiser's zone, its
    draw done in effect: every party confirmed, with signed tickets. One a
    day (the slug has the date), so a demo rerun tomorrow gets its own; the
    earlier ones are archived."""
    day = organiser_today()
    slug = f"{TODAY_PREFIX}{day:%Y%m%d}"
    Program.objects.filter(slug__startswith=TODAY_PREFIX).exclude(slug=slug).update(
        status=Program.Status.ARCHIVED
    )
    program, created = Program.objects.get_or_create(
        slug=slug,
        defaults={
            "title_en": "Open day today",
            "title_zh": "今日开放日",
            "description_en": "A visit held today, to try the gate and the visitor list.",
            "description_zh": "今天举行的参观，用于试用入口签到和访客名单。",
            "venue": "Plant 2, 88 Jiading Road, Shanghai · 上海嘉定路 88 号二号工厂",
            "status": Program.Status.PUBLISHED,
            "applications_open_at": timezone.now() - dt.timedelta(days=10),
            "applications_close_at": timezone.now() - dt.timedelta(days=3),
            **ASKS,
        },
    )
    if not created:
        return program
    sessions = [
        Session.objects.create(
            program=program,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            capacity=20,
            label_en="Open day",
            label_zh="开放日",
            from_rule=False,
        )
        for start in _today_starts(day)
    ]
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)  # nosec B311
    extra = random.Random(seed + 1)  # noqa: S311  # nosec B311
    for n in range(parties):
        session = sessions[n % len(sessions)]
        size = rng.choice([1, 2, 2, 3])
        language = "zh-hans" if n % 3 else "en"
        application = Application.objects.create(
            program=program,
            reference=f"T{day:%m%d}{n:03d}",
            contact_kind=Application.ContactKind.PHONE,
            contact=f"+86136{n:08d}",
            language=language,
            party_size=size,
            consented_at=timezone.now() - dt.timedelta(days=5),
            **demo_extras(extra, n, language),
        )
        PartyMember.objects.bulk_create(
            PartyMember(
                application=application,
                position=position,
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                phone_masked=mask_phone_number(f"+86135{n:05d}{position:03d}"),
                birth_date=demo_birth_date(extra, position),
            )
            for position in range(size)
        )
        ApplicationChoice.objects.create(application=application, session=session, rank=1)
        offer = Offer.objects.create(
            application=application,
            session=session,
            seats=size,
            status=Offer.Status.CONFIRMED,
            deadline=session.starts_at,
            responded_at=timezone.now() - dt.timedelta(days=2),
        )
        issue_tickets(offer)
    _walk_in_waiting(program, sessions, day, parties)
    return program


def _walk_in_waiting(program: Program, sessions: list[Session], day: dt.date, n: int) -> None:
    """One party of one waiting for the session whose gate is open now (the
    latest to start), with one free seat in it: the gate's "walk-ins from
    the waitlist" can be tried at once."""
    now = timezone.now()
    session = max(
        (s for s in sessions if walk_in_open(s, now)), key=lambda s: s.starts_at, default=None
    )
    if session is None:
        return
    held = Offer.objects.filter(session=session).aggregate(n=Sum("seats"))["n"] or 0
    session.capacity = held + 1
    session.save(update_fields=["capacity"])
    application = Application.objects.create(
        program=program,
        reference=f"T{day:%m%d}{n:03d}",
        contact_kind=Application.ContactKind.PHONE,
        contact=f"+86136{n:08d}",
        language="zh-hans",
        party_size=1,
        consented_at=now - dt.timedelta(days=5),
    )
    PartyMember.objects.create(
        application=application,
        position=0,
        name="周小雨",
        phone_masked=mask_phone_number(f"+86135{n:05d}000"),
    )
    ApplicationChoice.objects.create(application=application, session=session, rank=1)
    WaitlistEntry.objects.create(program=program, application=application, position=1)


def ticket_link(program: Program) -> str:
    """The ticket page of the party of today's open day whose session is
    open soonest: what the demo prints, to try the gate with."""
    confirmed = Offer.objects.filter(
        session__program=program, status=Offer.Status.CONFIRMED
    ).select_related("application__program")
    by_start = confirmed.order_by("session__starts_at", "pk")
    offer = by_start.filter(session__ends_at__gte=timezone.now()).first() or by_start.first()
    return private_url(offer.application, "visits:tickets") if offer else ""
