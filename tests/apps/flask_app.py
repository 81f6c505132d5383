"""A small Flask app for tests/test_frameworks.py: a page, a form, URL building."""

from flask import Flask, jsonify, redirect, request, url_for
from markupsafe import escape

app = Flask(__name__)


@app.get("/")
def index():
    name = request.cookies.get("name", "stranger")
    return '<h1>Hello, %s (Flask)</h1><a href="%s">form</a>' % (escape(name), url_for("form"))


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        name = request.form["name"]
        resp = redirect(url_for("hello", name=name), code=303)
        resp.set_cookie("name", name, httponly=True, path=(request.script_root or "") + "/")
        return resp
    return (
        '<form method="post" action="%s"><input name="name"><button>go</button></form>'
        % url_for("form")
    )


@app.get("/hello/<name>")
def hello(name):
    return "Hello, %s! cookie=%s" % (escape(name), escape(request.cookies.get("name", "")))


@app.get("/links")
def links():
    return jsonify(
        form=url_for("form"),
        hello=url_for("hello", name="Ann Lee"),
        external=url_for("index", _external=True),
        script_root=request.script_root,
        path=request.path,
    )


def pretty(environ, start_response):
    """The app behind docs/deploy/cgi.md's pretty-URL RewriteRule, wrapped as that page shows."""
    environ["SCRIPT_NAME"] = environ["SCRIPT_NAME"].rsplit("/", 1)[0]
    return app(environ, start_response)
