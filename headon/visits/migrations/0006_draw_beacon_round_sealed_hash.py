"""Draws take their seed from a drand quicknet round after the seal, and the
seal hashes everything the draw depends on (headon-draw-v2).

A draw committed but not sealed becomes v2 at once: its commitment stands,
and its secret will be combined with the round after the seal. A draw sealed
under v1 but not run is unsealed, so that it is sealed again under v2 (its
list was frozen and stays frozen: the program's application window is closed
now if it was not); nothing about it was published but the v1 list hash. A
draw that has run keeps its v1 record.
"""

from django.db import migrations, models
from django.utils import timezone


def to_v2(apps, schema_editor):
    Draw = apps.get_model("visits", "Draw")
    Program = apps.get_model("visits", "Program")
    now = timezone.now()
    Draw.objects.filter(stage="committed").update(algorithm="headon-draw-v2")
    for draw in Draw.objects.filter(stage="closed"):
        program = Program.objects.get(pk=draw.program_id)
        if program.applications_close_at is None or program.applications_close_at > now:
            program.applications_close_at = now
            program.save(update_fields=["applications_close_at"])
        draw.algorithm = "headon-draw-v2"
        draw.stage = "committed"
        draw.sealed_hash = ""
        draw.closed_at = None
        draw.save(update_fields=["algorithm", "stage", "sealed_hash", "closed_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("visits", "0005_offer_cancelled"),
    ]

    operations = [
        migrations.RenameField(model_name="draw", old_name="list_hash", new_name="sealed_hash"),
        migrations.RemoveField(model_name="draw", name="beacon"),
        migrations.AddField(
            model_name="draw",
            name="beacon_offset",
            field=models.PositiveIntegerField(default=100, verbose_name="beacon rounds after the seal"),
        ),
        migrations.AddField(
            model_name="draw",
            name="beacon_round",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="draw",
            name="beacon_signature",
            field=models.CharField(blank=True, max_length=96),
        ),
        migrations.AlterField(
            model_name="draw",
            name="source",
            field=models.CharField(
                choices=[
                    ("secret", "A public beacon round after the seal, with an organiser secret"),
                    ("beacon", "A public beacon round after the seal"),
                ],
                max_length=10,
                verbose_name="seed source",
            ),
        ),
        migrations.RunPython(to_v2, migrations.RunPython.noop),
    ]
