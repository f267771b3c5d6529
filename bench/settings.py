"""headon's settings for the benchmarks' servers: the product's own, with
bench/urls.py for URLs, which adds the ceiling endpoint (bench/views.py).

    DJANGO_SETTINGS_MODULE=bench.settings python -m headon serve

`headon` and headon/wsgi.py only default DJANGO_SETTINGS_MODULE, so the
harness picks this module through the environment (BENCH_SETTINGS in
bench/harness.py) and the product never imports anything from bench/.
"""

from headon.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
