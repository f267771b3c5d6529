from django.urls import path

from headon.visits.views import reports

urlpatterns = [
    path("", reports.report, name="report"),
    path("report.csv", reports.report_csv_download, name="report_csv"),
]
