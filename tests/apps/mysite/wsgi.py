"""WSGI config as Django's startproject writes it; settings from django_site.py."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site")

application = get_wsgi_application()
