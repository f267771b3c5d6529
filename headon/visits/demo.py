"""The visit program's part of the demo: the reference program, built from
its rules, open for applications."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from headon.visits import schedule
from headon.visits.models import Program, ScheduleExclusion, ScheduleRule
from headon.visits.services.programs import sessions_apply_rules

LABELS = {
    "Lunar New Year": "Lunar New Year · 春节",
    "Monday morning": "Monday morning · 周一上午",
    "Saturday morning": "Saturday morning · 周六上午",
    "Line maintenance": "Line maintenance · 产线检修",
}


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
    return program
