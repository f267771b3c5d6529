"""The database side of the shared store (see store.py): fixed-window hit
counters and one-use claims, each with the unix time it may be purged."""

from __future__ import annotations

from django.db import models


class Counter(models.Model):
    name = models.CharField(primary_key=True, max_length=120)
    hits = models.PositiveIntegerField()
    expires = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.hits}"


class Claim(models.Model):
    name = models.CharField(primary_key=True, max_length=120)
    owner = models.CharField(max_length=120)
    expires = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return self.name
