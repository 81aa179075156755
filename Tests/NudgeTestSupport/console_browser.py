"""Drives the operator console in headless Chromium (Debian chromium + chromium-driver) with
Selenium, as an admin would: reads a JSON object on stdin (base URL, tokens, ids, screenshot
folder), prints {"checks": [[name, ok, detail], ...], ...}. Every page it opens is checked for
script that ran (window.__pwned, alert), CSP violations and requests to any other origin."""
import json
import os
import sys
import threading
import urllib.request
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ["SE_AVOID_STATS"] = "true"  # no telemetry, no Selenium Manager download
os.environ["SE_OFFLINE"] = "true"
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

checks = []
out = {}


def check(name, ok, detail=""):
    checks.append([name, bool(ok), "" if ok else str(detail)[:2000]])


cfg = json.load(sys.stdin)
BASE = cfg["base"]
SHOTS = cfg.get("screenshots")

# Recorded before any page script: alerts, and the CSP violations the browser reports.
PROBE = """
window.__alerts = []; window.alert = window.confirm = window.prompt = function (m) { window.__alerts.push(String(m)); return true; };
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });
"""


def driver():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/lib/chromium/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--disable-background-networking",
              "--disable-component-update", "--disable-dev-shm-usage", "--no-first-run", "--disable-sync",
              "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    d.set_page_load_timeout(30)
    return d


def requests_seen(d):
    urls = []
    for entry in d.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            urls.append(m["params"]["request"]["url"])
    return urls


def inert(d, page):
    """Nothing ran and nothing left for another origin on this page."""
    pwned = d.execute_script("return typeof window.__pwned")
    check(f"{page}: no injected script ran", pwned == "undefined", pwned)
    alerts = d.execute_script("return window.__alerts || []")
    check(f"{page}: no alert or confirm", not [a for a in alerts if "pwned" in a.lower()], alerts)
    csp = d.execute_script("return window.__csp || []")
    check(f"{page}: no CSP violation", csp == [], csp)
    foreign = [u for u in requests_seen(d) if not (u.startswith(BASE + "/") or u.startswith("data:"))]
    check(f"{page}: no request to another origin", foreign == [], foreign)


def shot(d, name):
    if SHOTS:
        d.save_screenshot(os.path.join(SHOTS, name + ".png"))


def api(method, path, token, body=None):
    req = urllib.request.Request(BASE + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def wait_for(condition, seconds=10):
    """Until `condition()` is truthy; whether it became so."""
    import time
    end = time.time() + seconds
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def wait_url(d, suffix, seconds=10):
    """Until the page at `suffix` has loaded (a click on a submit button does not wait)."""
    import time
    end = time.time() + seconds
    while time.time() < end:
        if d.current_url.endswith(suffix) and d.execute_script("return document.readyState") == "complete":
            return True
        time.sleep(0.05)
    return False


def text(d):
    return d.find_element(By.TAG_NAME, "body").text


def h1(d):
    return d.find_element(By.TAG_NAME, "h1").text


# A page of another site that posts a form to the console by itself (its own script).
ATTACK = """<!doctype html><html><body>
<form id="f" method="post" action="%s/console/tokens"><input name="name" value="planted"><input name="scopes" value="admin">
<input name="csrf" value="guess"></form><script>document.getElementById('f').submit()</script></body></html>"""


# The same for a draft: rejecting it (ending its enrollment) from another site.
ATTACK_DRAFT = """<!doctype html><html><body>
<form id="f" method="post" action="%s/console/drafts/%s/reject"><input name="action" value="exit">
<input name="csrf" value="guess"></form><script>document.getElementById('f').submit()</script></body></html>"""


class Attacker(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (ATTACK_DRAFT % (BASE, cfg["draft_keep"]) if self.path == "/draft" else ATTACK % BASE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def wait_text(d, element_id, wanted, seconds=10):
    """Until the element (on the page after a redirect) contains `wanted`; its text."""
    import time
    end = time.time() + seconds
    last = ""
    while time.time() < end:
        try:
            last = d.find_element(By.ID, element_id).text
            if wanted in last:
                return last
        except Exception:  # the old page went away while reading it
            pass
        time.sleep(0.05)
    return last


def drafts(d):
    """Approval drafts: listed, hostile text inert, an edit approved, one rejected with exit."""
    admin = cfg["admin"]
    d.get(BASE + "/console/drafts")
    check("drafts page", h1(d) == "Drafts", h1(d))
    listed = [r.get_attribute("data-draft") for r in d.find_elements(By.CSS_SELECTOR, "#drafts tr[data-draft]")]
    check("pending drafts listed", sorted(listed) == sorted([cfg["draft_approve"], cfg["draft_reject"], cfg["draft_keep"]]), listed)
    check("another organization's draft not listed", cfg["other_draft"] not in d.page_source, "listed")
    check("hostile subject listed as text", "<script>window.__pwned=1</script>" in text(d), text(d))
    inert(d, "drafts")
    shot(d, "drafts")

    # The hostile draft: subject and body are text, in the page and in the edit form.
    d.find_element(By.CSS_SELECTOR, "a[href='/console/drafts/%s']" % cfg["draft_approve"]).click()
    wait_url(d, "/console/drafts/" + cfg["draft_approve"])
    check("draft page", h1(d) == "Draft" and d.find_element(By.ID, "draft-state").text == "pending", text(d))
    check("draft subject as text", d.find_element(By.ID, "draft-subject").text.startswith("Hello <script>window.__pwned=1</script>"),
          d.find_element(By.ID, "draft-subject").text)
    check("draft body as text", "</textarea></pre><script>window.__pwned=5</script>" in d.find_element(By.ID, "draft-body").text,
          d.find_element(By.ID, "draft-body").text)
    check("edit form holds the body exactly", d.find_element(By.ID, "edit-body").get_attribute("value") == cfg["hostile_body"],
          d.find_element(By.ID, "edit-body").get_attribute("value"))
    check("draft links its enrollment", d.find_element(By.ID, "draft-enrollment").text == cfg["enrollment_approve"], text(d))
    check("no element from the draft", d.find_elements(By.CSS_SELECTOR, "main img, main svg, main style, main a[href^='javascript']") == [],
          "element")
    inert(d, "draft")
    shot(d, "draft")

    # Edit subject and body, approve: the API records the edit.
    subject = d.find_element(By.ID, "edit-subject")
    subject.clear()
    subject.send_keys(cfg["edited_subject"])
    body = d.find_element(By.ID, "edit-body")
    body.clear()
    body.send_keys(cfg["edited_body"])
    d.find_element(By.ID, "approve").click()
    state = wait_text(d, "draft-state", "approved")
    check("approved in the console", state == "approved (send)", state)
    status, got = api("GET", "/v1/drafts/%s" % cfg["draft_approve"], admin)
    check("approved with the edit", status == 200 and got["state"] == "approved" and got["subject"] == cfg["edited_subject"]
          and got["body"] == cfg["edited_body"] and got["original_body"] == cfg["hostile_body"] and got.get("edited_by"), got)
    check("decider and edit shown", (got or {}).get("decided_by", "-") in d.find_element(By.ID, "draft-decided").text
          and d.find_element(By.ID, "original-body").text.startswith("Body <script>"), text(d))
    check("decided draft has no forms", d.find_elements(By.ID, "approve-form") == [], "form")
    inert(d, "approved draft")
    # The approved step is due at once; the clock moves on so the dispatcher sends it.
    for _ in range(2):
        api("POST", "/v1/_clock/advance/", admin, {"seconds": 60})

    # Reject the other one with exit: its enrollment ends.
    d.get(BASE + "/console/drafts/%s" % cfg["draft_reject"])
    d.find_element(By.ID, "reject-exit").click()
    state = wait_text(d, "draft-state", "rejected")
    check("rejected in the console", state == "rejected (exit)", state)
    status, e = api("GET", "/v1/sequences/enrollments/%s" % cfg["enrollment_reject"], admin)
    check("rejected with exit ends the enrollment", status == 200 and e["state"] == "exited" and e.get("exit_reason") == "draft_rejected", e)
    inert(d, "rejected draft")

    # The filter: decided drafts by state; the pending list keeps only the untouched one.
    d.get(BASE + "/console/drafts?state=approved")
    listed = [r.get_attribute("data-draft") for r in d.find_elements(By.CSS_SELECTOR, "#drafts tr[data-draft]")]
    check("filter by state", listed == [cfg["draft_approve"]], listed)
    d.get(BASE + "/console/drafts")
    listed = [r.get_attribute("data-draft") for r in d.find_elements(By.CSS_SELECTOR, "#drafts tr[data-draft]")]
    check("pending list after decisions", listed == [cfg["draft_keep"]], listed)
    d.get(BASE + "/console/drafts?state=bogus")
    check("unknown state: 422", h1(d) == "Error 422", h1(d))

    # Another organization's draft is not found.
    d.get(BASE + "/console/drafts/%s" % cfg["other_draft"])
    check("other organization's draft: 404", h1(d) == "Error 404", h1(d))


def main():
    admin = cfg["admin"]
    d = driver()
    try:
        # Sign in: the token goes in a form once and is exchanged for a session cookie.
        d.get(BASE + "/console/")
        check("unsigned: redirected to sign-in", d.current_url.endswith("/console/sign-in"), d.current_url)
        shot(d, "sign-in")
        d.find_element(By.ID, "token").send_keys(admin)
        d.find_element(By.ID, "sign-in").click()
        wait_url(d, "/console/")
        check("signed in: overview", h1(d) == "Overview", h1(d))
        cookies = d.get_cookies()
        session = [c for c in cookies if c["name"] == "nudge_console"]
        check("session cookie is HttpOnly, SameSite=Strict, /console",
              len(session) == 1 and session[0]["httpOnly"] and session[0].get("sameSite") == "Strict" and session[0]["path"] == "/console",
              cookies)
        check("token not in cookies", all(admin not in c["value"] for c in cookies), "token in a cookie")
        storage = d.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
        check("token not in web storage", admin not in storage and storage == "{}{}", storage)
        check("overview counts today's sends", d.find_element(By.ID, "sent").text == "1", text(d))
        check("overview counts pending drafts", d.find_element(By.ID, "drafts-pending").text == "3", text(d))
        inert(d, "overview")
        shot(d, "overview")

        # Create a token; its secret is shown once.
        d.get(BASE + "/console/tokens")
        d.find_element(By.NAME, "name").send_keys("agent from console")
        d.find_element(By.CSS_SELECTOR, "input[name=scopes][value='contacts:read']").click()
        d.find_element(By.ID, "create").click()
        # The answer's URL is the form's: wait for the secret itself, not the address.
        created = wait_for(lambda: d.find_elements(By.ID, "secret"))
        check("token created", created, text(d))
        if not created:  # the page says why; nothing after this can run
            print(json.dumps({"checks": checks}))
            sys.exit(0)
        secret = d.find_element(By.ID, "secret").text
        check("secret shown", secret.startswith("nudge_"), secret)
        shot(d, "token-created")
        status, me = api("GET", "/v1/tokens/me", secret)
        check("new token works with its scopes", status == 200 and me["scopes"] == ["contacts:read"], (status, me))
        out["secret"] = secret
        d.get(BASE + "/console/tokens")
        check("secret not shown again", secret not in d.page_source, "secret in the token list")
        inert(d, "tokens")
        shot(d, "tokens")

        # A sequence with hostile names, steps and its enrollments.
        d.get(BASE + "/console/sequences")
        inert(d, "sequences")
        d.find_element(By.CSS_SELECTOR, "a[href='/console/sequences/%s']" % cfg["sequence"]).click()
        check("sequence page", "<script>window.__pwned=1</script>" in d.find_element(By.ID, "sequence-name").text, text(d))
        check("steps listed", len(d.find_elements(By.CSS_SELECTOR, "ol.steps > li")) == 2, text(d))
        inert(d, "sequence")
        shot(d, "sequence")

        # The enrollment's timeline: sent, judged or exited on the reply, with reasons.
        d.get(BASE + "/console/enrollments/%s" % cfg["enrollment"])
        timeline = d.find_element(By.ID, "timeline").text
        check("timeline has the send", "message.sent" in timeline, timeline)
        check("timeline has the exit and its reason", "enrollment.exited" in timeline and "replied" in timeline, timeline)
        inert(d, "enrollment")
        shot(d, "enrollment")

        # The thread: the hostile reply is text, its remote image never loaded.
        d.find_element(By.CSS_SELECTOR, "a[href^='/console/threads/']").click()
        body = text(d)
        check("reply shown as text", "Reply" in body and "window.__pwned" in body, body)
        check("no image element from mail", d.find_elements(By.CSS_SELECTOR, "main img, main svg, main a[href^='javascript']") == [], "element")
        inert(d, "thread")
        shot(d, "thread")

        for page in ["enrollments", "threads", "inboxes", "suppressions", "webhooks"]:
            d.get(BASE + "/console/" + page)
            check(f"{page} page", h1(d) != "" and "Error" not in h1(d), h1(d))
            inert(d, page)
            shot(d, page)

        drafts(d)

        # Another organization's ids are not found.
        d.get(BASE + "/console/sequences/%s" % cfg["other_sequence"])
        check("other organization's sequence: 404", h1(d) == "Error 404", h1(d))
        d.get(BASE + "/console/enrollments/%s" % cfg["other_enrollment"])
        check("other organization's enrollment: 404", h1(d) == "Error 404", h1(d))

        # CSRF: another site's page posts a form to the console; refused, nothing created.
        before = api("GET", "/v1/tokens?limit=200", admin)[1]["data"]
        server = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        d.get("http://localhost:%d/" % server.server_address[1])
        d.implicitly_wait(0)
        import time
        for _ in range(50):
            if d.current_url.startswith(BASE):
                break
            time.sleep(0.1)
        check("cross-site post refused", "Refused" in text(d) or "Sign in" in h1(d), (d.current_url, text(d)))
        after = api("GET", "/v1/tokens?limit=200", admin)[1]["data"]
        check("cross-site post created nothing", len(after) == len(before), (len(before), len(after)))
        d.get("http://localhost:%d/draft" % server.server_address[1])
        for _ in range(50):
            if d.current_url.startswith(BASE):
                break
            time.sleep(0.1)
        check("cross-site draft rejection refused", "Refused" in text(d) or "Sign in" in h1(d), (d.current_url, text(d)))
        status, kept = api("GET", "/v1/drafts/%s" % cfg["draft_keep"], admin)
        check("cross-site post decided no draft", status == 200 and kept["state"] == "pending", (status, kept))

        # A draft decided elsewhere while its page was open: the API's 409, as a console page.
        d.get(BASE + "/console/drafts/%s" % cfg["draft_keep"])
        status, _ = api("POST", "/v1/drafts/%s/reject" % cfg["draft_keep"], admin, {"action": "skip_step"})
        check("decided through the API", status == 200, status)
        d.find_element(By.ID, "approve").click()
        for _ in range(100):
            try:
                if h1(d).startswith("Error"):
                    break
            except Exception:  # the old page went away while reading it
                pass
            time.sleep(0.05)
        check("deciding a decided draft: 409", h1(d) == "Error 409", (h1(d), text(d)))
        server.shutdown()
        d.get_log("performance")  # the attacker page's own requests are not the console's

        # Revoke the new token from its row.
        d.get(BASE + "/console/tokens")
        row = d.find_element(By.CSS_SELECTOR, "tr[data-token='%s']" % me["id"])
        row.find_element(By.CSS_SELECTOR, "button.danger").click()
        import time
        for _ in range(100):  # the list is loaded again after the redirect
            try:
                if "revoked" in d.find_element(By.CSS_SELECTOR, "tr[data-token='%s']" % me["id"]).text:
                    break
            except Exception:  # the old page went away between finding the row and reading it
                pass
            time.sleep(0.05)
        row = d.find_element(By.CSS_SELECTOR, "tr[data-token='%s']" % me["id"])
        check("revoked in the list", "revoked" in row.text, row.text)
        check("revoked token refused by the API", api("GET", "/v1/tokens/me", secret)[0] == 401, "still accepted")
        inert(d, "tokens after revoke")

        # Phone width.
        d.set_window_size(390, 844)
        d.get(BASE + "/console/enrollments/%s" % cfg["enrollment"])
        width = d.execute_script("return document.documentElement.scrollWidth")
        check("phone width: no horizontal scroll", width <= 400, width)
        shot(d, "phone-enrollment")
        d.set_window_size(1280, 900)

        # Sign out: the session is gone.
        d.get(BASE + "/console/")
        d.find_element(By.ID, "sign-out").click()
        check("signed out", wait_url(d, "/console/sign-in"), d.current_url)
        d.get(BASE + "/console/tokens")
        check("after sign-out pages ask to sign in", d.current_url.endswith("/console/sign-in"), d.current_url)
    finally:
        d.quit()


try:
    main()
except Exception as e:  # a failure of the script itself is a failed check, with its cause
    import traceback
    check("script ran to the end", False, traceback.format_exc())
print(json.dumps({"checks": checks, **out}))
