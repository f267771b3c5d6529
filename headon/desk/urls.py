from django.urls import path, register_converter

from headon.desk import public_views, views


class DateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(DateConverter, "isodate")

app_name = "desk"
urlpatterns = [
    path("", public_views.answers_index, name="answers"),
    path("ask/", views.ask_form, name="ask"),
    path("ask/thanks/", views.ask_thanks, name="asked"),
    path("ask/answered-already/", public_views.answered_already, name="answered_already"),
    path("search/", public_views.search_page, name="search"),
    path("feed/<str:lang>.atom", public_views.digest_feed, name="feed"),
    path("q/<int:pk>/", public_views.question_page, name="question"),
    path("q/<int:pk>/helpful/", public_views.helpful_vote, name="helpful"),
    path("<isodate:day>/", public_views.digest_page, name="digest"),
    path("<isodate:day>/r<int:number>/", public_views.digest_page, name="digest_revision"),
    path("<isodate:day>.json", public_views.digest_json, name="digest_json"),
    path("<isodate:day>/<str:lang>.txt", public_views.digest_text, name="digest_text"),
    path("<isodate:day>/<str:lang>.png", public_views.digest_png, name="digest_png"),
]
