"""A Django project in one module: settings, URLs and views, no database.

Usable both ways the docs show (docs/deploy/cgi.md): as ``DJANGO_SETTINGS_MODULE=django_site``
with ``django.core.wsgi:get_wsgi_application()``, or through django_app.py,
which calls ``settings.configure()`` with these values.
"""

from django.http import HttpResponse, HttpResponseForbidden, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path, reverse
from django.utils.html import escape

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
INSTALLED_APPS = []
DATABASES = {}
MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
USE_TZ = True


def index(request):
    name = request.COOKIES.get("name", "stranger")
    return HttpResponse(
        '<h1>Hello, %s (Django)</h1><a href="%s">form</a>' % (escape(name), reverse("form"))
    )


def form(request):
    if request.method == "POST":
        name = request.POST["name"]
        resp = HttpResponseRedirect(reverse("hello", args=[name]))
        resp.set_cookie("name", name, httponly=True)
        return resp
    return HttpResponse(
        '<form method="post" action="%s"><input type="hidden" name="csrfmiddlewaretoken" value="%s">'
        '<input name="name"><button>go</button></form>' % (reverse("form"), get_token(request))
    )


def hello(request, name):
    return HttpResponse(
        "Hello, %s! cookie=%s" % (escape(name), escape(request.COOKIES.get("name", "")))
    )


def links(request):
    return JsonResponse(
        {
            "form": reverse("form"),
            "hello": reverse("hello", args=["Ann"]),
            "external": request.build_absolute_uri(reverse("index")),
            "script_name": request.META["SCRIPT_NAME"],
            "path": request.path,
            "path_info": request.path_info,
        }
    )


def csrf_failure(request, reason=""):
    return HttpResponseForbidden("CSRF check failed: " + reason)


CSRF_FAILURE_VIEW = __name__ + ".csrf_failure"

urlpatterns = [
    path("", index, name="index"),
    path("form", form, name="form"),
    path("hello/<str:name>", hello, name="hello"),
    path("links", links, name="links"),
]
