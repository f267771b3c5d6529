"""The visit program's part of the demo."""

from __future__ import annotations

from headon.visits.models import Program


def load() -> None:
    Program.objects.get_or_create(
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
        },
    )
