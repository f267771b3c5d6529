from __future__ import annotations

from django.test import TestCase


class ApiTests(TestCase):
    def test_the_api_answers_under_v1(self) -> None:
        response = self.client.get("/api/v1/health")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ok")

    def test_the_openapi_schema_describes_the_api(self) -> None:
        schema = self.client.get("/api/v1/openapi.json").json()
        self.assertEqual(schema["info"]["title"], "headon API")
        self.assertIn("/api/v1/health", schema["paths"])

    def test_the_api_docs_load_their_scripts_from_headon_not_a_cdn(self) -> None:
        html = self.client.get("/api/v1/docs").content.decode()
        self.assertIn("/static/ninja/swagger-ui-bundle.js", html)
        self.assertNotIn("cdn.", html)
