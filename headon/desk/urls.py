from django.urls import path, register_converter

from headon.desk.views import digest, public


class DateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(DateConverter, "isodate")

app_name = "desk"
urlpatterns = [
    path("", digest.answers_index, name="answers"),
    path("ask/", public.ask_form, name="ask"),
    path("ask/thanks/", public.ask_thanks, name="asked"),
    path("ask/answered-already/", public.answered_already, name="answered_already"),
    path("search/", public.search_page, name="search"),
    path("feed/<str:lang>.atom", digest.digest_feed, name="feed"),
    path("q/<int:pk>/", public.question_page, name="question"),
    path("q/<int:pk>/helpful/", public.helpful_vote, name="helpful"),
    path("<isodate:day>/", digest.digest_page, name="digest"),
    path("<isodate:day>/r<int:number>/", digest.digest_page, name="digest_revision"),
    path("<isodate:day>.json", digest.digest_json, name="digest_json"),
    path("<isodate:day>/r<int:number>.json", digest.digest_json, name="digest_revision_json"),
    path("reconcile_digest.py", digest.reconciler_script, name="reconciler"),
    path("<isodate:day>/<str:lang>.txt", digest.digest_text, name="digest_text"),
    path("<isodate:day>/<str:lang>.png", digest.digest_png, name="digest_png"),
]
