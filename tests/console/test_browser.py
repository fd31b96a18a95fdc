"""The console end to end in a real headless browser against the real ``sovra up``.

Debian's ``chromium`` driven through its matching ``chromium-driver`` by Selenium
(ADR 1300; scripts/install-system-deps.sh installs both). Flows: an administrator logs
in and sees the dashboard; a second approver approves a lockbox request; an auditor
searches the ledger and verifies an entry; an administrator erases a data subject and
downloads the certificate; a user chats over the demo collection and opens a citation.
Each page is saved as a screenshot under the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sovra.data import verify_certificate
from tests.console.test_oidc_login import oidc_server, provider
from tests.e2e.server import Server, sovra_command, sovra_up
from tests.support.lockbox import VAULT_COLLECTION
from tests.support.principals import cli_principal
from tests.threat.conftest import key_dir, pack_spec, signers, workshop
from tests.transfer.conftest import Workshop

pytestmark = pytest.mark.e2e
__all__ = ["key_dir", "oidc_server", "provider", "signers", "workshop"]  # fixtures used

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Selenium Manager must never try to download a browser or driver: both are Debian's.
os.environ["SE_OFFLINE"] = "true"

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip("Debian's chromium and chromium-driver are not installed: run "
                "scripts/install-system-deps.sh", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sovra_up(tmp_path_factory.mktemp("console") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


def _chromium(downloads: Path, page_load_strategy: str) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.page_load_strategy = page_load_strategy
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900", "--no-first-run",
                     "--disable-background-networking", "--disable-sync",
                     "--disable-component-update", "--disable-default-apps"):
        options.add_argument(argument)
    downloads.mkdir(exist_ok=True)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads  # type: ignore[attr-defined]
    return driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = _chromium(tmp_path / "downloads", "normal")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def streaming_browser(tmp_path: Path) -> Iterator[WebDriver]:
    """For a page that keeps loading (a live watch): navigation returns at once."""
    driver = _chromium(tmp_path / "downloads", "none")
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: WebDriver, shots: Path, name: str) -> None:
    driver.save_screenshot(str(shots / f"{name}.png"))


def log_in(driver: WebDriver, server: Server, key: str) -> None:
    driver.get(server.url + "/console/")
    # Not logged in: sent to the login page, which is reachable by keyboard alone.
    WebDriverWait(driver, 20).until(expected_conditions.url_contains("/console/login"))
    field = WebDriverWait(driver, 20).until(
        expected_conditions.presence_of_element_located((By.ID, "api_key")))
    assert driver.switch_to.active_element == field  # focus starts on the key field
    field.send_keys(key, Keys.ENTER)
    WebDriverWait(driver, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "header .who")))


def press(element: WebElement) -> None:
    """Activate a link or button from the keyboard (focus, then Enter), as a person
    without a mouse does."""
    element.send_keys(Keys.ENTER)


def wait_for_flash(driver: WebDriver, text: str) -> None:
    """Until the page after a form says ``text`` (the page before may still show an
    older line: the wait outlasts it)."""
    try:
        WebDriverWait(driver, 60).until(expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".flash"), text))
    except Exception:
        raise AssertionError(f"no {text!r} in: {driver.page_source[-3000:]}") from None


def wait_for_file(folder: Path, pattern: str) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no {pattern} downloaded: {list(folder.iterdir())}")


def no_console_errors(driver: WebDriver) -> None:
    """No CSP violation or script error in the page (the log is Chromium's console)."""
    problems = [e for e in driver.get_log("browser")
                if e.get("level") == "SEVERE" and "favicon" not in e.get("message", "")]
    assert problems == []


def test_an_administrator_logs_in_and_sees_the_dashboard(server: Server, browser: WebDriver,
                                                         shots: Path) -> None:
    browser.get(server.url + "/console/login")
    shoot(browser, shots, "01-login")
    log_in(browser, server, server.admin_key)
    assert browser.title.startswith("Dashboard")
    titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".card h2")]
    assert titles[:3] == ["Seal", "Ledger", "Approvals"]
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "unsealed" in text
    assert "latest checkpoint" in text or "none signed yet" in text
    assert "last backup" in text and "patch lag" in text
    shoot(browser, shots, "02-dashboard")
    no_console_errors(browser)


def test_a_second_approver_approves_a_lockbox_request(server: Server, browser: WebDriver,
                                                      shots: Path) -> None:
    admin = server.headers()
    operator = cli_principal(server, "otto", "operator")
    ann = cli_principal(server, "ann", "approver")
    abe = cli_principal(server, "abe", "approver")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.post("/data/collections", headers=admin,
                  json=VAULT_COLLECTION).raise_for_status()
        asked = http.post("/lockbox/requests", headers=operator, json={
            "scope": "collection:vault", "actions": ["documents.read"],
            "reason": "INC-7: verify the held batch", "ticket": "INC-7", "duration_s": 600})
        assert asked.status_code == 201, asked.text
        request_id = asked.json()["id"]
        first = http.post(f"/lockbox/requests/{request_id}/approve", headers=ann,
                          json={"comment": "first"})
        assert first.json()["state"] == "pending"

        log_in(browser, server, abe["Authorization"].removeprefix("Bearer "))
        browser.find_element(By.LINK_TEXT, "Approvals").click()
        card = browser.find_element(By.ID, f"r-{request_id}")
        assert "1 of 2" in browser.find_element(By.TAG_NAME, "main").text
        shoot(browser, shots, "03-approvals")
        reason = browser.find_element(By.ID, f"reason-{request_id}")
        reason.send_keys("checked INC-7 with the on-call lead")
        card.find_element(By.XPATH, "..//button[text()='Approve']").click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
        assert f"approved {request_id} (active)" in browser.find_element(
            By.CSS_SELECTOR, ".flash").text
        shoot(browser, shots, "04-approved")
        shown = http.get(f"/lockbox/requests/{request_id}", headers=ann).json()
    assert shown["state"] == "active"
    vote = shown["votes"][-1]
    assert vote["voter"] == "abe" and vote["comment"] == "checked INC-7 with the on-call lead"
    assert vote["source"] == "127.0.0.1"  # recorded as the API would record it


def test_an_approver_watches_a_supervised_grant_and_terminates_it(
        server: Server, streaming_browser: WebDriver, shots: Path) -> None:
    browser = streaming_browser
    admin = server.headers()
    operator = cli_principal(server, "olga", "operator")
    ann = cli_principal(server, "amy", "approver")
    abe = cli_principal(server, "art", "approver")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.post("/data/collections", headers=admin, json={
            "id": "ward", "owner": "Care", "purpose": "patients",
            "subject_categories": ["patients"], "data_categories": ["health"],
            "retention_days": 365, "jurisdiction": "EU", "ceiling": "secret"},
        ).raise_for_status()
        made = http.post("/data/collections/ward/documents", headers=admin,
                         data={"classification": "secret"},
                         files={"file": ("chart.txt", b"Bed 4: allergy to penicillin.")})
        made.raise_for_status()
        document = f"/data/documents/{made.json()['document_id']}"
        asked = http.post("/lockbox/requests", headers=operator, json={
            "scope": "collection:ward", "actions": ["documents.read"], "supervised": True,
            "reason": "INC-9: restore a chart", "duration_s": 600})
        assert asked.status_code == 201, asked.text
        grant = asked.json()["id"]
        for approver in (ann, abe):
            http.post(f"/lockbox/requests/{grant}/approve", headers=approver,
                      json={"comment": "ok"}).raise_for_status()
        # Nobody watches yet: supervised use is refused.
        assert http.get(document, headers=operator).status_code == 403

        log_in(browser, server, abe["Authorization"].removeprefix("Bearer "))
        browser.get(server.url + "/console/approvals")
        link = WebDriverWait(browser, 20).until(expected_conditions.element_to_be_clickable(
            (By.CSS_SELECTOR, f"a[href$='/grants/{grant}/watch']")))
        # The watch page keeps loading while it watches (this browser does not wait).
        link.click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "events")))
        deadline = time.monotonic() + 20
        while http.get(document, headers=operator).status_code != 200:
            assert time.monotonic() < deadline, "the watched grant never allowed the read"
            time.sleep(0.5)
        WebDriverWait(browser, 20).until(
            expected_conditions.text_to_be_present_in_element((By.ID, "events"),
                                                              "documents.read"))
        assert "olga documents.read" in browser.find_element(By.ID, "events").text
        shoot(browser, shots, "11-watch")
        browser.find_element(By.ID, "reason").send_keys("chart restored, ending access")
        browser.find_element(By.XPATH, "//button[contains(text(), 'Terminate')]").click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
        assert f"terminated {grant} (revoked)" in browser.find_element(
            By.CSS_SELECTOR, ".flash").text
        assert http.get(document, headers=operator).status_code == 403


def test_an_auditor_searches_the_ledger_and_verifies_an_entry(server: Server,
                                                              browser: WebDriver,
                                                              shots: Path) -> None:
    auditor = cli_principal(server, "aude", "auditor")
    log_in(browser, server, auditor["Authorization"].removeprefix("Bearer "))
    browser.find_element(By.LINK_TEXT, "Ledger").click()
    browser.find_element(By.ID, "action").send_keys("console.*")
    browser.find_element(By.ID, "principal").send_keys("aude", Keys.ENTER)
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("principal=aude"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#rows tr:not(#more)")
    assert rows, "the auditor's own login is in the ledger"
    assert all("aude" in r.text and "console." in r.text for r in rows)
    shoot(browser, shots, "05-ledger-search")
    link = rows[0].find_element(By.TAG_NAME, "a")
    seq = link.text
    # The server signs a checkpoint within seconds of a write: wait until it covers it.
    deadline = time.monotonic() + 30
    while True:
        browser.get(f"{server.url}/console/ledger/{seq}")
        verdict = browser.find_element(By.ID, "verdict").text
        if verdict.startswith("Verified") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert verdict.startswith("Verified: included in the checkpoint"), verdict
    assert '"actor": "aude"' in browser.find_element(By.TAG_NAME, "pre").text
    shoot(browser, shots, "06-ledger-entry")
    no_console_errors(browser)


def test_an_erasure_certificate_is_downloaded(server: Server, browser: WebDriver,
                                              shots: Path) -> None:
    admin = server.headers()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.post("/data/collections", headers=admin, json={
            "id": "crm", "owner": "Sales", "purpose": "customer care",
            "subject_categories": ["clients"], "data_categories": ["contact"],
            "retention_days": 365, "jurisdiction": "EU", "ceiling": "confidential"},
        ).raise_for_status()
        http.post("/data/collections/crm/documents", headers=admin,
                  data={"classification": "internal"},
                  files={"file": ("note.txt", b"Call back erin@example.org about the refund.")},
                  ).raise_for_status()
    log_in(browser, server, server.admin_key)
    browser.get(server.url + "/console/data?collection=crm")
    documents = browser.find_elements(By.XPATH, "//h2[text()='Documents in crm']"
                                      "/following-sibling::table[1]//tbody/tr")
    assert len(documents) == 1 and "internal" in documents[0].text
    browser.find_element(By.ID, "subject").send_keys("erin@example.org")
    shoot(browser, shots, "07-data")
    browser.find_element(By.XPATH, "//button[contains(text(), 'Erase')]").click()
    downloads: Path = browser.downloads  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    found: list[Path] = []
    while time.monotonic() < deadline:
        found = list(downloads.glob("erasure-certificate-*.json"))
        if found:
            break
        time.sleep(0.3)
    assert found, f"no certificate downloaded: {list(downloads.iterdir())}"
    text = found[0].read_text()
    body = verify_certificate(text)  # the signature verifies
    assert body["actor"] == "admin"
    assert len(body["erased"]) == 1  # type: ignore[arg-type]
    assert json.loads(text)["legal_basis"] == "GDPR Art. 17"


def test_a_user_chats_and_opens_a_citation(server: Server, browser: WebDriver,
                                           shots: Path) -> None:
    shown = subprocess.run([*sovra_command(), "--data-dir", str(server.data_dir), "demo"],
                           capture_output=True, text=True, timeout=300, check=True)
    assert "Collection demo is ready" in shown.stdout
    user = cli_principal(server, "una", "analyst")
    log_in(browser, server, user["Authorization"].removeprefix("Bearer "))
    browser.find_element(By.LINK_TEXT, "Chat").click()
    browser.find_element(By.ID, "c-demo").is_selected() or browser.find_element(
        By.ID, "c-demo").click()
    browser.find_element(By.ID, "question").send_keys(
        "How many days of annual leave do staff get?")
    shoot(browser, shots, "08-chat")
    browser.find_element(By.XPATH, "//button[text()='Ask']").click()
    try:
        WebDriverWait(browser, 240).until(
            expected_conditions.presence_of_element_located((By.ID, "citations")))
    except Exception:
        shoot(browser, shots, "09-chat-failed")
        raise AssertionError(browser.page_source[-3000:]) from None
    answer = browser.find_element(By.ID, "answer").text
    assert answer.strip(), "the model answered"
    cites = browser.find_elements(By.CSS_SELECTOR, "#citations a")
    assert len(cites) == 3 and all("demo /" in c.text for c in cites)
    request_id = browser.find_element(By.ID, "request-id").text
    shoot(browser, shots, "09-chat-answer")
    cites[0].click()
    try:
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "passage")))
    except Exception:
        raise AssertionError(browser.current_url + "\n" + browser.page_source[:2000]) from None
    passage = browser.find_element(By.ID, "passage").text
    assert passage.strip() and passage in browser.find_element(By.TAG_NAME, "pre").text
    shoot(browser, shots, "10-passage")
    no_console_errors(browser)

    # An auditor finds the request's trace by its id, by keyboard, and sees it verified.
    auditor = cli_principal(server, "audra", "auditor")
    browser.delete_all_cookies()
    log_in(browser, server, auditor["Authorization"].removeprefix("Bearer "))
    press(browser.find_element(By.LINK_TEXT, "Ledger"))
    browser.find_element(By.ID, "request_id").send_keys(request_id, Keys.ENTER)
    verdict = WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.ID, "verdict")))
    assert verdict.text.startswith("Verified: every entry"), browser.page_source[-3000:]
    steps = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "main section h2")]
    assert [t.split(":")[0] for t in steps] == ["Policy decision", "Request", "Response"]
    retrieved = browser.find_elements(By.CSS_SELECTOR, "#retrieved tbody tr")
    assert len(retrieved) == 3 and all("demo" in r.text for r in retrieved)
    shoot(browser, shots, "12-trace")
    no_console_errors(browser)


def test_an_auditor_generates_and_downloads_the_reports(server: Server, browser: WebDriver,
                                                        shots: Path) -> None:
    auditor = cli_principal(server, "aura", "auditor")
    log_in(browser, server, auditor["Authorization"].removeprefix("Bearer "))
    press(browser.find_element(By.LINK_TEXT, "Reports"))
    browser.find_element(By.ID, "regime-gdpr").send_keys(Keys.SPACE)  # tick, by keyboard
    assert browser.find_element(By.ID, "regime-gdpr").is_selected()
    press(browser.find_element(By.XPATH, "//button[text()='Generate the compliance report']"))
    wait_for_flash(browser, "generated the compliance report recorded at entry")
    press(browser.find_element(By.XPATH, "//button[text()='Run the assessment']"))
    wait_for_flash(browser, "generated the assessment report recorded at entry")
    rows = browser.find_elements(By.CSS_SELECTOR, "#reports tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == [
        "assessment", "compliance"]
    shoot(browser, shots, "13-reports")
    downloads: Path = browser.downloads  # type: ignore[attr-defined]
    press(rows[1].find_element(By.LINK_TEXT, "PDF"))
    pdf = wait_for_file(downloads, "sovra-compliance-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    press(rows[0].find_element(By.LINK_TEXT, "JSON"))
    assessed = json.loads(wait_for_file(downloads, "sovra-assessment-*.json").read_text())
    assert assessed["seal"]["level"] in range(5)
    press(rows[1].find_elements(By.TAG_NAME, "a")[0])
    verdict = browser.find_element(By.ID, "verdict").text
    assert "is the one ledger entry" in verdict
    assert browser.find_elements(By.CSS_SELECTOR, "#chart svg rect")
    shoot(browser, shots, "14-report")
    no_console_errors(browser)


def test_an_approver_approves_a_model_in_the_inbox(server: Server, browser: WebDriver,
                                                  shots: Path) -> None:
    abby = cli_principal(server, "abby", "approver")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        made = http.post("/v1/sovra/models", headers=server.headers(), json={
            "id": "site-chat", "sha256": "cd" * 32, "source": "site build 7",
            "licence": "Apache-2.0", "ceiling": "confidential",
            "upstream_url": "http://127.0.0.1:9/v1"})
        assert made.status_code == 201, made.text
        log_in(browser, server, abby["Authorization"].removeprefix("Bearer "))
        press(browser.find_element(By.LINK_TEXT, "Approvals"))
        card = browser.find_element(By.ID, "model-site-chat").find_element(By.XPATH, "..")
        assert "asked by" in card.text and "admin" in card.text
        card.find_element(By.ID, "ceiling-site-chat").send_keys("internal")
        shoot(browser, shots, "15-inbox-model")
        press(card.find_element(By.XPATH, ".//button[text()='Approve']"))
        wait_for_flash(browser, "approved model site-chat up to internal")
        listed = http.get("/v1/models", headers=server.headers()).json()["data"]
    assert "site-chat" in [m["id"] for m in listed]
    no_console_errors(browser)


def test_an_administrator_triages_an_alert(server: Server, browser: WebDriver, shots: Path,
                                           workshop: Workshop, tmp_path: Path) -> None:
    admin = server.headers()
    bundle = workshop.build(pack_spec(tmp_path / "pack-src"))
    root = (workshop.repo / "roots" / "1.root.json").read_bytes()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.post("/bundles/trust", headers=admin,
                  files={"root": ("1.root.json", root)}).raise_for_status()
        http.post("/bundles/import", headers=admin,
                  files={"bundle": (bundle.name, bundle.read_bytes())}).raise_for_status()
        for i in range(6):  # an API key failing repeatedly from one address
            bad = server.headers(f"sk-sovra-notakey{i:02d}_x")
            assert http.get("/alerts", headers=bad).status_code == 401
        http.post("/threat/hunt", headers=admin).raise_for_status()
        alert = next(a for a in http.get("/alerts", headers=admin).json()
                     if a["title"] == "API key failing repeatedly")
        log_in(browser, server, server.admin_key)
        press(browser.find_element(By.LINK_TEXT, "Threat"))
        card = browser.find_element(By.ID, f"alert-{alert['id']}").find_element(By.XPATH, "..")
        press(card.find_element(By.XPATH, ".//button[text()='Acknowledge']"))
        wait_for_flash(browser, f"acknowledged {alert['id']} (acknowledged)")
        browser.find_element(By.ID, f"reason-{alert['id']}").send_keys(
            "our own test client with an old key; key rotated")
        shoot(browser, shots, "16-threat")
        press(browser.find_element(By.ID, f"alert-{alert['id']}").find_element(
            By.XPATH, "..//button[text()='Close']"))
        wait_for_flash(browser, f"closed {alert['id']} (closed)")
        shown = http.get(f"/alerts/{alert['id']}", headers=admin).json()
    assert shown["status"] == "closed"
    assert shown["close_reason"] == "our own test client with an old key; key rotated"
    no_console_errors(browser)


STAFF_CSV = (b"name,email,iban,salary,dept\n"
             b"Anna Keller,anna.keller@example.com,DE89370400440532013000,52000,sales\n"
             b"Ben Ortiz,ben.ortiz@example.com,GB82WEST12345698765432,61000,sales\n")


def test_an_analyst_sees_masks_and_an_approver_approves_an_export(
        server: Server, browser: WebDriver, shots: Path) -> None:
    admin = server.headers()
    anya = cli_principal(server, "anya", "analyst", "internal")
    apollo = cli_principal(server, "apollo", "approver")
    with httpx.Client(base_url=server.url, timeout=120) as http:
        http.post("/data/collections", headers=admin, json={
            "id": "hr", "owner": "HR", "purpose": "workforce analytics",
            "subject_categories": ["employees"], "data_categories": ["contact", "bank"],
            "retention_days": 365, "jurisdiction": "EU", "ceiling": "secret"},
        ).raise_for_status()
        http.post("/data/collections/hr/documents", headers=admin,
                  files={"file": ("staff.csv", STAFF_CSV)}).raise_for_status()
        log_in(browser, server, anya["Authorization"].removeprefix("Bearer "))
        press(browser.find_element(By.LINK_TEXT, "Analytics"))
        browser.find_element(By.ID, "sql").send_keys(
            "SELECT name, iban, salary FROM hr.staff ORDER BY salary")
        press(browser.find_element(By.XPATH, "//button[text()='Run the query']"))
        masked = WebDriverWait(browser, 60).until(
            expected_conditions.presence_of_element_located((By.ID, "masked")))
        assert masked.text == "hr.staff.iban"
        heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#result th")]
        assert heads == ["name", "iban (masked)", "salary"]
        table = browser.find_element(By.ID, "result").text
        assert "Anna Keller" in table and "DE89370400440532013000" not in table
        shoot(browser, shots, "17-analytics")
        made = http.post("/analytics/exports", headers=anya,
                         json={"kind": "portability", "collection": "hr"})
        assert made.status_code == 201, made.text
        export_id = made.json()["id"]
        browser.delete_all_cookies()
        log_in(browser, server, apollo["Authorization"].removeprefix("Bearer "))
        press(browser.find_element(By.LINK_TEXT, "Analytics"))
        press(browser.find_element(By.XPATH,
                                   f"//button[text()='Approve export {export_id[:8]}']"))
        wait_for_flash(browser, f"approved export {export_id}: 1 of 2 (pending)")
        card = browser.find_element(By.ID, f"export-{export_id}").find_element(By.XPATH, "..")
        assert "awaiting the second approval" in card.text
        assert "a different second approver must" in card.text
        shoot(browser, shots, "18-export")
    no_console_errors(browser)


def test_a_person_logs_in_through_the_identity_provider(oidc_server: Server,
                                                        browser: WebDriver,
                                                        shots: Path) -> None:
    browser.get(oidc_server.url + "/console/approvals")
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("/console/login"))
    press(browser.find_element(By.ID, "oidc-login"))
    # The provider's own page (another origin): pick the predefined user.
    button = WebDriverWait(browser, 20).until(expected_conditions.element_to_be_clickable(
        (By.CSS_SELECTOR, "button[name='sub'][value='ann']")))
    assert "/oauth2/authorize" in browser.current_url
    assert "code_challenge_method=S256" in browser.current_url
    shoot(browser, shots, "19-oidc-provider")
    # That page is the provider's (its stylesheet is on a CDN, unreachable here): its log
    # is not the console's.
    browser.get_log("browser")
    press(button)
    who = WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "header .who")))
    assert who.text == "oidc:ann (approver)"
    assert browser.current_url.endswith("/console/approvals")
    assert browser.title.startswith("Approvals")
    shoot(browser, shots, "20-oidc-logged-in")
    no_console_errors(browser)


@pytest.fixture(scope="module", autouse=True)
def _keep_screenshots(shots: Path) -> Iterator[None]:
    """Copy the screenshots beside the test run's output when asked to (the operator
    guide's pictures come from here: SOVRA_CONSOLE_SHOTS=docs/console)."""
    yield
    target = os.environ.get("SOVRA_CONSOLE_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, Path(target) / shot.name)
