"""A real browser on the example site: headless Chromium, driven by Selenium.

``wsgicgi serve`` runs as a subprocess on a free 127.0.0.1 port and serves the
repository's example site (index.html and cgi-bin/) exactly as the README's
first command does.  Chromium follows its links and submits every form on it,
a multipart file upload included, and the tests read what the page shows:
text the scripts computed from what the browser sent.  A second server serves
a small failing app through one-line gateway scripts, for the 500 page and the
``WSGICGI_DEBUG`` traceback page.

When a test fails, a screenshot (PNG) and the page source (HTML) go to
``$WSGICGI_ARTIFACTS`` (default: ``test-artifacts/`` at the repository's top);
the failure message names the files.

Debian's chromium and chromium-driver are used as installed (scripts/test
installs them): Selenium is given both paths, so Selenium Manager never runs
and nothing is downloaded.  Missing, they skip these tests, or fail them in CI.
"""

import functools
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

import pytest
from fcgi_stack import on_ci, require

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT = 30.0
WAIT = 30.0  # seconds for a page to load or an element to appear

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # No connection anywhere but 127.0.0.1: this machine's network is closed.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,1024",
)

FAILING_APP = """\
def app(environ, start_response):
    raise RuntimeError("failed on purpose, query %r" % environ["QUERY_STRING"])
"""
FAILING_INDEX = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>failing</title></head><body>
<a href="cgi-bin/fail.cgi?plain=1">plain</a>
<a href="cgi-bin/debug.cgi?debug=1">debug</a>
</body></html>
"""


# -- artifacts on failure -----------------------------------------------------


def artifacts_dir():
    return os.environ.get("WSGICGI_ARTIFACTS") or os.path.join(ROOT, "test-artifacts")


def save_artifacts(driver, name):
    """Write ``name``.png (a screenshot) and ``name``.html (the page source)
    into the artifacts folder; return their paths."""
    folder = artifacts_dir()
    os.makedirs(folder, exist_ok=True)
    base = os.path.join(folder, re.sub(r"[^A-Za-z0-9_.-]+", "_", name))
    png, page = base + ".png", base + ".html"
    driver.save_screenshot(png)
    with open(page, "w", encoding="utf-8") as f:
        f.write("<!-- %s -->\n" % driver.current_url.replace("--", "%2D%2D"))
        f.write(driver.page_source)
    return png, page


def artifacts_on_failure(test):
    """Decorate a test that takes ``browser``: if it fails, save what the
    browser shows and name the files in the failure message."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except Exception as exc:
            driver = kwargs["browser"]
            try:
                paths = save_artifacts(driver, test.__name__ + _param_suffix(kwargs))
                note = "browser artifacts: %s (at %s)" % (" ".join(paths), driver.current_url)
            except Exception as failure:  # a dead browser: keep the real error
                note = "browser artifacts not saved: %r" % (failure,)
            print(note, file=sys.stderr)
            if hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(note)
            raise

    return wrapper


def _param_suffix(kwargs):
    script = kwargs.get("script")
    return "-" + script if script else ""


# -- servers and the browser ----------------------------------------------------


class Serve:
    """``wsgicgi serve 0 -d DIR`` as a subprocess; its URL read from the banner."""

    def __init__(self, directory, env=None):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wsgicgi", "serve", "0", "-d", directory],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )
        banner = b""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            match = re.search(rb"http://127\.0\.0\.1:(\d+)/", banner)
            if match:
                break
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise AssertionError("wsgicgi serve did not start: %r\n%s" % (banner, self.text()))
            if select.select([self.proc.stdout], [], [], min(left, 0.5))[0]:
                banner += os.read(self.proc.stdout.fileno(), 4096)
        self.url = "http://127.0.0.1:%s/" % match.group(1).decode()

    def text(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except OSError:
                pass
        self.proc.stdout.close()
        self.log.close()


@pytest.fixture(scope="module")
def example():
    """The repository's example site, served as the README's first command does.
    A PATH without this venv: only the folder serve prepends lets the one-line
    script's ``env python3`` find a Python that has wsgicgi."""
    server = Serve(ROOT, env=dict(os.environ, PATH="/usr/bin:/bin"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    """A site whose one-line gateway scripts run an app that raises: fail.cgi
    as in production, debug.cgi with WSGICGI_DEBUG=1 set on its shebang line
    (serve passes scripts no variables of its own)."""
    root = tmp_path_factory.mktemp("failing-site")
    cgi = root / "cgi-bin"
    cgi.mkdir()
    (root / "index.html").write_bytes(FAILING_INDEX)
    (cgi / "failing.py").write_text(FAILING_APP)
    scripts = {
        "fail.cgi": "#!/usr/bin/env -S python3 -m wsgicgi failing:app\n",
        "debug.cgi": "#!/usr/bin/env -S WSGICGI_DEBUG=1 python3 -m wsgicgi failing:app\n",
    }
    for name, text in scripts.items():
        (cgi / name).write_text(text)
        (cgi / name).chmod(0o755)
    server = Serve(str(root), env=dict(os.environ, PATH="/usr/bin:/bin"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, with a profile of its own."""
    require(CHROMIUM, CHROMEDRIVER)
    try:
        from selenium import webdriver
    except ImportError:
        message = "selenium is not installed (it is in the test extra)"
        if on_ci():
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="wsgicgi-chromium-")
    options.add_argument("--user-data-dir=" + profile)
    log = tempfile.NamedTemporaryFile(prefix="wsgicgi-chromedriver-", suffix=".log", delete=False)
    log.close()
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER, log_output=log.name)
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except Exception:
        with open(log.name, errors="replace") as f:
            print(f.read()[-4000:], file=sys.stderr)
        os.unlink(log.name)
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        os.unlink(log.name)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def home(browser, example):
    """The browser on the example site's front page, with no cookies."""
    browser.get(example.url)
    browser.delete_all_cookies()
    browser.get(example.url)
    assert browser.title == "wsgicgi example site"
    return browser


# -- helpers ------------------------------------------------------------------


def by(kind):
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def navigate(driver, action):
    """Run ``action`` (a click, a submit) and wait for the next page to load."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(by("TAG_NAME"), "html")
    action()
    wait = WebDriverWait(driver, WAIT)
    wait.until(expected_conditions.staleness_of(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def follow(driver, link_text):
    link = driver.find_element(by("LINK_TEXT"), link_text)
    navigate(driver, link.click)


def submit(driver, form):
    button = form.find_element(by("TAG_NAME"), "button")
    navigate(driver, button.click)


def fill(field, text):
    field.clear()
    field.send_keys(text)


def body_text(driver):
    return driver.find_element(by("TAG_NAME"), "body").text


def cell(driver, name):
    """The text of the table cell whose row header is ``name``."""
    return driver.find_element(by("XPATH"), "//tr[th=%s]/td" % _xpath_literal(name)).text


def _xpath_literal(text):
    assert "'" not in text
    return "'%s'" % text


# -- the static page and the legacy scripts -------------------------------------


@artifacts_on_failure
def test_hello_sh_link_runs_the_shell_script(home, browser):
    follow(browser, "cgi-bin/hello.sh")
    assert browser.current_url.endswith("/cgi-bin/hello.sh?name=world")
    lines = body_text(browser).splitlines()
    assert lines[0] == "Hello, world, from a shell script."
    assert "REQUEST_METHOD=GET" in lines
    assert "SCRIPT_NAME=/cgi-bin/hello.sh" in lines
    assert "QUERY_STRING=name=world" in lines


@artifacts_on_failure
def test_index_form_posts_to_hello_sh(home, browser):
    message = "héllo & ünïcode = 100%"
    form = browser.find_element(by("CSS_SELECTOR"), 'form[action="cgi-bin/hello.sh"]')
    fill(form.find_element(by("NAME"), "message"), message)
    submit(browser, form)
    lines = body_text(browser).splitlines()
    assert "REQUEST_METHOD=POST" in lines
    assert "CONTENT_TYPE=application/x-www-form-urlencoded" in lines
    sent = urlencode({"message": message})  # what a browser sends: UTF-8, + for space
    assert "CONTENT_LENGTH=%d" % len(sent) in lines
    assert lines[lines.index("--- body ---") + 1] == sent


@artifacts_on_failure
def test_env_pl_shows_path_info_query_and_its_form(home, browser):
    follow(browser, "cgi-bin/env.pl")
    assert browser.find_element(by("TAG_NAME"), "h1").text.startswith("Hello from Perl v5.")
    assert cell(browser, "SCRIPT_NAME") == "/cgi-bin/env.pl"
    assert cell(browser, "PATH_INFO") == "/extra/path"
    assert cell(browser, "QUERY_STRING") == "a=1&b=2"
    assert cell(browser, "REQUEST_METHOD") == "GET"
    assert cell(browser, "PATH_TRANSLATED") == os.path.join(ROOT, "extra", "path")
    fields = [li.text for li in browser.find_elements(by("CSS_SELECTOR"), "ul li")]
    assert fields == ["a = 1", "b = 2"]

    form = browser.find_element(by("TAG_NAME"), "form")
    fill(form.find_element(by("NAME"), "greeting"), "grüß <dich> & ciao")
    submit(browser, form)
    assert "Form fields (POST)" in body_text(browser)
    fields = [li.text for li in browser.find_elements(by("CSS_SELECTOR"), "ul li")]
    assert fields == ["greeting = grüß <dich> & ciao"]
    assert cell(browser, "REQUEST_METHOD") == "POST"
    assert cell(browser, "CONTENT_TYPE") == "application/x-www-form-urlencoded"
    # The form's action is the script's own URL: no PATH_INFO at all.
    assert not browser.find_elements(by("XPATH"), "//tr[th='PATH_INFO']")


@artifacts_on_failure
def test_form_py_answers_its_form(home, browser):
    from selenium.webdriver.support.ui import Select

    follow(browser, "cgi-bin/form.py")
    assert browser.title == "A form in a legacy Python CGI script"
    form = browser.find_element(by("TAG_NAME"), "form")
    fill(form.find_element(by("NAME"), "name"), "Zoë")
    Select(form.find_element(by("NAME"), "language")).select_by_visible_text("Perl")
    submit(browser, form)
    assert browser.title == "Hello, Zoë"
    text = body_text(browser)
    assert "You like Perl." in text
    version = "%d.%d.%d" % sys.version_info[:3]
    assert "This answer came from Python %s, started as a CGI script." % version in text

    # Its form is on the answer too: a second round trip, other values.
    form = browser.find_element(by("TAG_NAME"), "form")
    fill(form.find_element(by("NAME"), "name"), "  ")
    Select(form.find_element(by("NAME"), "language")).select_by_visible_text("C")
    submit(browser, form)
    assert browser.title == "Hello, stranger"
    assert "You like C." in body_text(browser)


@artifacts_on_failure
def test_upload_py_receives_a_file(home, browser, tmp_path):
    follow(browser, "cgi-bin/upload.py")
    assert browser.title == "Upload a file to a legacy Python CGI script"
    # Every byte value, CR and LF in every position, and a line that looks
    # like a boundary: what a multipart parser most easily gets wrong.
    data = bytes(range(256)) * 1024 + b"\r\n--\r\n\r\r\n\n--" + os.urandom(50_000) + b"\r\n"
    path = tmp_path / "données 1.bin"
    path.write_bytes(data)
    form = browser.find_element(by("TAG_NAME"), "form")
    assert form.get_attribute("enctype") == "multipart/form-data"
    fill(form.find_element(by("NAME"), "note"), "a note, ünïcode")
    form.find_element(by("NAME"), "file").send_keys(str(path))
    submit(browser, form)

    assert browser.title == "Received 2 parts"
    note = browser.find_element(by("CSS_SELECTOR"), 'li[data-name="note"]')
    assert note.find_element(by("CLASS_NAME"), "value").text == "a note, ünïcode"
    upload = browser.find_element(by("CSS_SELECTOR"), 'li[data-name="file"]')
    assert upload.find_element(by("CLASS_NAME"), "filename").text == "données 1.bin"
    assert upload.find_element(by("CLASS_NAME"), "size").text == str(len(data))
    digest = upload.find_element(by("CLASS_NAME"), "sha256").text
    assert digest == hashlib.sha256(data).hexdigest()

    # The form again, with no file chosen: an empty part with an empty name.
    form = browser.find_element(by("TAG_NAME"), "form")
    submit(browser, form)
    upload = browser.find_element(by("CSS_SELECTOR"), 'li[data-name="file"]')
    assert upload.find_element(by("CLASS_NAME"), "size").text == "0"
    assert upload.find_element(by("CLASS_NAME"), "filename").text == ""
    assert upload.find_element(by("CLASS_NAME"), "sha256").text == hashlib.sha256().hexdigest()


# -- the one-line gateway script: a WSGI app as CGI -------------------------------


@pytest.mark.parametrize("script", ["app.cgi", "app.py"])
@artifacts_on_failure
def test_gateway_app_links_and_form(home, browser, script):
    follow(browser, "cgi-bin/%s" % script)
    assert browser.title == "wsgicgi example app"
    heading = browser.find_element(by("TAG_NAME"), "h1")
    assert heading.text == "Hello from a WSGI app served as CGI"
    assert cell(browser, "REQUEST_METHOD") == "GET"
    assert cell(browser, "SCRIPT_NAME") == "/cgi-bin/" + script
    assert cell(browser, "PATH_INFO") == "/"
    assert cell(browser, "QUERY_STRING") == ""
    assert cell(browser, "SERVER_SOFTWARE").startswith("wsgicgi")
    assert cell(browser, "wsgi.url_scheme") == "http"

    follow(browser, "This page with a query string")
    assert cell(browser, "QUERY_STRING") == "greeting=hello+world&n=2"
    assert cell(browser, "PATH_INFO") == "/"

    # The form POSTs to /form; the app answers 303 with a cookie, and the
    # page the browser is sent to greets by the name in the cookie.
    form = browser.find_element(by("TAG_NAME"), "form")
    fill(form.find_element(by("NAME"), "name"), "Zoë <b>")
    submit(browser, form)
    assert browser.current_url.endswith("/cgi-bin/%s/" % script)
    heading = browser.find_element(by("TAG_NAME"), "h1")
    assert heading.text == "Hello, Zoë <b> from a WSGI app served as CGI"
    assert cell(browser, "REQUEST_METHOD") == "GET"
    assert browser.get_cookie("name")["value"] == "Zo%C3%AB%20%3Cb%3E"


# -- the gateway's error pages ------------------------------------------------------


@artifacts_on_failure
def test_app_error_page_and_wsgicgi_debug_page(browser, failing):
    browser.get(failing.url)
    follow(browser, "plain")
    text = body_text(browser)
    assert text.splitlines()[0] == "500 Internal Server Error"
    assert "Traceback" not in text and "failed on purpose" not in text

    browser.back()
    follow(browser, "debug")
    text = body_text(browser)
    lines = text.splitlines()
    assert lines[0] == "500 Internal Server Error"
    assert "Traceback (most recent call last):" in lines
    assert 'failing.py", line 2, in app' in text
    assert lines[-1] == "RuntimeError: failed on purpose, query 'debug=1'"
    assert "failed on purpose, query 'plain=1'" in failing.text()  # the log has both


# -- the artifacts themselves --------------------------------------------------------


def test_a_failing_browser_test_leaves_a_screenshot_and_the_page(
    browser, example, tmp_path, monkeypatch
):
    monkeypatch.setenv("WSGICGI_ARTIFACTS", str(tmp_path / "artifacts"))

    @artifacts_on_failure
    def test_broken(browser):
        browser.get(example.url + "cgi-bin/hello.sh?name=artifact")
        assert "Goodbye" in body_text(browser)

    with pytest.raises(AssertionError) as info:
        test_broken(browser=browser)
    png = tmp_path / "artifacts" / "test_broken.png"
    page = tmp_path / "artifacts" / "test_broken.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000
    assert "Hello, artifact, from a shell script." in page.read_text()
    if sys.version_info >= (3, 11):
        assert info.value.__notes__[-1].startswith("browser artifacts: %s %s" % (png, page))
