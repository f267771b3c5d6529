from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse

from headon.accounts.roles import ROLES, sync_role_groups
from headon.testing import PersonasTestCase


class RoleGroupTests(PersonasTestCase):
    def test_every_role_is_a_group_holding_exactly_its_permissions(self) -> None:
        for role in ROLES:
            group = Group.objects.get(name=role.slug)
            held = {
                f"{app}.{codename}"
                for app, codename in group.permissions.values_list(
                    "content_type__app_label", "codename"
                )
            }
            self.assertEqual(held, set(role.permissions), role.slug)

    def test_resyncing_removes_a_permission_granted_to_a_role_group_by_hand(self) -> None:
        gate = Group.objects.get(name="gate_staff")
        gate.permissions.add(*Group.objects.get(name="approver").permissions.all())
        sync_role_groups()
        self.assertEqual(
            set(gate.permissions.values_list("codename", flat=True)), {"check_in_visitors"}
        )

    def test_the_triager_opens_the_desk_but_not_the_visit_program(self) -> None:
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(reverse("desk_staff:home")).status_code, 200)
        self.assertEqual(self.client.get(reverse("visits_staff:home")).status_code, 403)

    def test_gate_staff_open_neither_the_desk_nor_the_program_list(self) -> None:
        self.client.force_login(self.gus)
        self.assertEqual(self.client.get(reverse("desk_staff:home")).status_code, 403)
        self.assertEqual(self.client.get(reverse("visits_staff:home")).status_code, 403)

    def test_the_coordinator_opens_the_program_list(self) -> None:
        self.client.force_login(self.erin)
        self.assertEqual(self.client.get(reverse("visits_staff:home")).status_code, 200)

    def test_staff_pages_send_an_anonymous_visitor_to_sign_in(self) -> None:
        for name in ("staff_home", "desk_staff:home", "visits_staff:home"):
            response = self.client.get(reverse(name))
            self.assertEqual(response.status_code, 302, name)
            self.assertTrue(response["Location"].startswith(reverse("accounts:login")), name)

    def test_the_staff_home_shows_each_role_only_its_own_halves(self) -> None:
        self.client.force_login(self.carol)
        page = self.client.get(reverse("staff_home")).content.decode()
        self.assertIn(reverse("desk_staff:home"), page)
        self.assertNotIn(reverse("visits_staff:home"), page)
        self.assertNotIn(reverse("admin:index"), page)
        self.client.force_login(self.alice)
        page = self.client.get(reverse("staff_home")).content.decode()
        self.assertIn(reverse("visits_staff:home"), page)
        self.assertIn(reverse("admin:index"), page)

    def test_a_staff_member_without_a_role_is_told_to_ask_for_one(self) -> None:
        self.client.force_login(self.oscar)
        self.assertContains(self.client.get(reverse("staff_home")), "Ask an admin")
