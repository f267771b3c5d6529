"""The benchmarks' URLs: headon's, and /bench/insert, the ceiling
(bench/views.py). Routed only by bench/settings.py."""

from django.urls import path

from bench.views import insert_one
from headon import urls as product

handler500 = product.handler500

urlpatterns = [
    *product.urlpatterns,
    path("bench/insert", insert_one, name="bench_insert"),
]
