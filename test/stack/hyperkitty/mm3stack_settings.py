"""Minimal Django settings for a throw-away HyperKitty used by mm2migrate's integration tests.

Derived from HyperKitty's example_project (Debian: /usr/share/doc/python3-django-hyperkitty/examples),
trimmed to what HyperKitty 1.3.7 needs. Everything instance-specific (ports, keys, paths) comes from
stack_local.json, which test/stack/stack.py writes next to this file when it starts the stack.
"""
import json
import os

from django.contrib.messages import constants as messages

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(BASE_DIR, 'stack_local.json'), encoding='utf-8') as _fh:
    LOCAL = json.load(_fh)

SECRET_KEY = LOCAL['secret_key']
# DEBUG off: error pages stay short and no SQL is kept in memory during bulk imports.
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost', '[::1]']
SITE_ID = 1

MAILMAN_REST_API_URL = LOCAL['rest_url']
MAILMAN_REST_API_USER = LOCAL['rest_user']
MAILMAN_REST_API_PASS = LOCAL['rest_password']
MAILMAN_ARCHIVER_KEY = LOCAL['archiver_key']
MAILMAN_ARCHIVER_FROM = ('127.0.0.1', '::1')

INSTALLED_APPS = (
    'hyperkitty',
    'django_mailman3',
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.sites',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'rest_framework',
    'django_gravatar',
    'compressor',
    'haystack',
    'django_extensions',
    'django_q',
    'allauth',
    'allauth.account',
    'allauth.socialaccount',
)

MIDDLEWARE = (
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
    'django_mailman3.middleware.TimezoneMiddleware',
)

ROOT_URLCONF = 'mm3stack_urls'
WSGI_APPLICATION = 'mm3stack_wsgi.application'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [],
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.debug',
                'django.template.context_processors.i18n',
                'django.template.context_processors.media',
                'django.template.context_processors.static',
                'django.template.context_processors.tz',
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
                'django_mailman3.context_processors.common',
                'hyperkitty.context_processors.common',
            ],
        },
    },
]

DATABASES = {
    'default': {
        # django.db.backends.sqlite3 with BEGIN IMMEDIATE transactions (see mm3stack_sqlite/base.py).
        'ENGINE': 'mm3stack_sqlite',
        'NAME': LOCAL['database'],
        # gunicorn workers, CLI imports (and qcluster when enabled) share this file.
        'OPTIONS': {'timeout': 60},
    }
}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = True
USE_L10N = True
USE_TZ = True

STATIC_ROOT = os.path.join(LOCAL['state_dir'], 'static')
STATIC_URL = '/static/'
STATICFILES_FINDERS = (
    'django.contrib.staticfiles.finders.FileSystemFinder',
    'django.contrib.staticfiles.finders.AppDirectoriesFinder',
    'compressor.finders.CompressorFinder',
)
# No compress/collectstatic step: pages are rendered for tests, static assets are not served.
COMPRESS_ENABLED = False
COMPRESS_OFFLINE = False

SESSION_SERIALIZER = 'django.contrib.sessions.serializers.PickleSerializer'
LOGIN_URL = 'account_login'
LOGIN_REDIRECT_URL = 'hk_root'
LOGOUT_URL = 'account_logout'
MESSAGE_TAGS = {messages.ERROR: 'danger'}

AUTHENTICATION_BACKENDS = (
    'django.contrib.auth.backends.ModelBackend',
    'allauth.account.auth_backends.AuthenticationBackend',
)
ACCOUNT_AUTHENTICATION_METHOD = 'username_email'
ACCOUNT_EMAIL_REQUIRED = True
ACCOUNT_EMAIL_VERIFICATION = 'mandatory'
ACCOUNT_DEFAULT_HTTP_PROTOCOL = 'http'
ACCOUNT_UNIQUE_EMAIL = True

# Nothing leaves the machine: Django mail goes to files in the work dir.
EMAIL_BACKEND = 'django.core.mail.backends.filebased.EmailBackend'
EMAIL_FILE_PATH = os.path.join(LOCAL['state_dir'], 'emails')

HAYSTACK_CONNECTIONS = {
    'default': {
        'ENGINE': 'haystack.backends.whoosh_backend.WhooshEngine',
        'PATH': LOCAL['fulltext_index'],
    },
}

REST_FRAMEWORK = {
    'PAGE_SIZE': 10,
    'DEFAULT_PAGINATION_CLASS': 'rest_framework.pagination.LimitOffsetPagination',
    'DEFAULT_FILTER_BACKENDS': ('rest_framework.filters.OrderingFilter',),
}

# sync=True runs HyperKitty's tasks inline: with a separate qcluster on SQLite, a share of the tasks
# fail with "database is locked" under load (see shared/reference/mailman3-stack.md, gotcha 11).
# The production-like variant (MM3_STACK_QCLUSTER=1) starts `manage.py qcluster` instead.
Q_CLUSTER = {
    'name': 'mm3stack',
    'sync': not LOCAL['qcluster'],
    'workers': 1,
    'timeout': 300,
    'retry': 360,
    'save_limit': 100,
    'poll': 1,
    'orm': 'default',
}

# Per-process caches would show stale pages across gunicorn workers; the example project's choice.
CACHES = {'default': {'BACKEND': 'django.core.cache.backends.dummy.DummyCache'}}

FILTER_VHOST = False
HYPERKITTY_DISABLE_SINGLETON_TASKS = False
HYPERKITTY_TASK_LOCK_TIMEOUT = 10 * 60
HYPERKITTY_JOBS_UPDATE_INDEX_LOCKFILE = os.path.join(LOCAL['state_dir'], 'update-index.lock')
HYPERKITTY_JOBS_UPDATE_INDEX_LOCK_LIFE = 900
SHOW_INACTIVE_LISTS_DEFAULT = True
HYPERKITTY_ALLOW_WEB_POSTING = False
HYPERKITTY_ENABLE_GRAVATAR = False
HYPERKITTY_MLIST_FEED_LENGTH = 30

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {
        'file': {
            'level': 'INFO',
            'class': 'logging.handlers.WatchedFileHandler',
            'filename': LOCAL['log_file'],
            'formatter': 'verbose',
        },
        'console': {'class': 'logging.StreamHandler', 'formatter': 'simple'},
    },
    'loggers': {
        'django.request': {'handlers': ['file'], 'level': 'ERROR', 'propagate': False},
        'django': {'handlers': ['file'], 'level': 'ERROR', 'propagate': True},
        'hyperkitty': {'handlers': ['file', 'console'], 'level': 'INFO', 'propagate': False},
    },
    'formatters': {
        'verbose': {'format': '%(levelname)s %(asctime)s %(process)d %(name)s %(message)s'},
        'simple': {'format': '%(levelname)s %(message)s'},
    },
}
