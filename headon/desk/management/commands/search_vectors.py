from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from headon.desk.models import Answer
from headon.desk.services import answer_vectors


class Command(BaseCommand):
    help = (
        "Store the sentence vectors of every public answer for search by meaning "
        "(after an upgrade or a change of sentence model); publishing stores them too."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        model = answer_vectors.search_embedder()
        if model is None:
            raise CommandError("No sentence model is configured or loads: search stays lexical.")
        done = 0
        for answer in Answer.objects.filter(published__isnull=False).iterator():
            answer_vectors.refresh(answer)
            done += 1
        self.stdout.write(f"Stored the {model.name} vectors of {done} public answers.")
