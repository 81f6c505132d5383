"""wsgicgi.loader: APP strings to WSGI callables."""

import sys

import pytest

from wsgicgi.loader import AppLoadError, _split, load_app


@pytest.mark.parametrize(
    "spec,target,attr",
    [
        ("pkg.mod:app", "pkg.mod", "app"),
        ("mod", "mod", None),
        ("mod:make_app()", "mod", "make_app()"),
        ("/srv/site/app.py", "/srv/site/app.py", None),
        ("/srv/site/app.py:application", "/srv/site/app.py", "application"),
        ("C:\\site\\app.py", "C:\\site\\app.py", None),
        ("C:/site/app.wsgi", "C:/site/app.wsgi", None),
        ("mod:", "mod:", None),
    ],
)
def test_split(spec, target, attr):
    assert _split(spec) == (target, attr)


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [
        n
        for n, m in sys.modules.items()
        if getattr(m, "__file__", "") and str(tmp_path) in str(m.__file__)
    ]:
        del sys.modules[name]


def test_dotted_attribute_and_application_preferred(modules):
    (modules / "ldr_a.py").write_text(
        "class Holder:\n    @staticmethod\n    def wsgi(e, s): return []\n"
        "def application(e, s): return [b'application']\n"
        "def app(e, s): return [b'app']\n"
    )
    assert load_app("ldr_a:Holder.wsgi").__name__ == "wsgi"
    assert load_app("ldr_a").__name__ == "application"


def test_app_fallback_and_missing_both(modules):
    (modules / "ldr_b.py").write_text("def app(e, s): return []\n")
    (modules / "ldr_c.py").write_text("x = 1\n")
    assert load_app("ldr_b").__name__ == "app"
    with pytest.raises(AppLoadError, match="no attribute 'application' or 'app'"):
        load_app("ldr_c")


def test_module_named_wsgi_is_a_module_unless_such_a_file_exists(modules, monkeypatch):
    # Django's standard layout: mysite/wsgi.py, loaded as "mysite.wsgi:application".
    (modules / "ldr_site").mkdir()
    (modules / "ldr_site" / "__init__.py").write_text("")
    (modules / "ldr_site" / "wsgi.py").write_text("def application(e, s): return [b'module']\n")
    monkeypatch.chdir(modules)
    assert load_app("ldr_site.wsgi:application")({}, None) == [b"module"]
    (modules / "ldr_file.wsgi").write_text("def application(e, s): return [b'file']\n")
    assert load_app("ldr_file.wsgi")({}, None) == [b"file"]


def test_file_with_a_name_that_is_not_an_identifier(tmp_path):
    path = tmp_path / "my-site.wsgi"
    path.write_text("def application(e, s): return [b'x']\n")
    assert load_app(str(path))({}, None) == [b"x"]


@pytest.mark.parametrize("spec", ["ldr_d:1bad", "ldr_d:a..b", "ldr_d:f(x)", "ldr_d:f(**{})"])
def test_bad_attribute_specs(modules, spec):
    (modules / "ldr_d.py").write_text("def f(*a, **k): return f\n")
    with pytest.raises(AppLoadError):
        load_app(spec)


def test_an_app_spec_without_a_module_is_refused():
    with pytest.raises(AppLoadError, match="no module named in ':app'"):
        load_app(":app")


def test_a_file_path_loads_that_file_even_when_a_module_of_its_name_comes_first(
    tmp_path, monkeypatch
):
    # sys.path already holds both folders, the other one first: importing
    # the stem would find the wrong file, so the file itself is loaded.
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, word in ((first, b"wrong"), (second, b"right")):
        folder.mkdir()
        (folder / "shadowed_app_q3.py").write_text(
            "def app(environ, start_response):\n    return [%r]\n" % word
        )
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    monkeypatch.delitem(sys.modules, "shadowed_app_q3", raising=False)
    try:
        app = load_app(str(second / "shadowed_app_q3.py"))
        assert app({}, None) == [b"right"]
    finally:
        sys.modules.pop("shadowed_app_q3", None)
        sys.modules.pop("_wsgicgi_app_shadowed_app_q3", None)
