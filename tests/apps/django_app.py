"""The Django project of django_site.py, configured in-module with settings.configure()."""

import django_site
from django.conf import settings

settings.configure(**{key: getattr(django_site, key) for key in dir(django_site) if key.isupper()})

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
