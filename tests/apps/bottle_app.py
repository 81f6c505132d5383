"""A small Bottle app for tests/test_frameworks.py: a page, a form, URL building."""

import json

import bottle
from bottle import html_escape, redirect, request, response

app = bottle.Bottle()


@app.get("/", name="index")
def index():
    name = request.get_cookie("name", "stranger")
    return '<h1>Hello, %s (Bottle)</h1><a href="%s">form</a>' % (
        html_escape(name),
        app.get_url("form"),
    )


@app.route("/form", method=["GET", "POST"], name="form")
def form():
    if request.method == "POST":
        name = request.forms.getunicode("name")
        response.set_cookie("name", name, httponly=True, path=request.script_name)
        redirect(app.get_url("hello", name=name), 303)
    return (
        '<form method="post" action="%s"><input name="name"><button>go</button></form>'
        % app.get_url("form")
    )


@app.get("/hello/<name>", name="hello")
def hello(name):
    return "Hello, %s! cookie=%s" % (html_escape(name), html_escape(request.get_cookie("name", "")))


@app.get("/links")
def links():
    response.content_type = "application/json"
    return json.dumps(
        {
            "form": app.get_url("form"),
            "hello": app.get_url("hello", name="Ann"),
            "script_name": request.script_name,
            "path": request.path,
            "url": request.url,
        }
    )


def pretty(environ, start_response):
    """The app behind docs/deploy/cgi.md's pretty-URL RewriteRule, wrapped as that page shows."""
    environ["SCRIPT_NAME"] = environ["SCRIPT_NAME"].rsplit("/", 1)[0]
    return app(environ, start_response)
