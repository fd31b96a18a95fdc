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
from tests.e2e.server import Server, sovra_command, sovra_up
from tests.lockbox.test_e2e import cli_principal
from tests.support.lockbox import VAULT_COLLECTION

pytestmark = pytest.mark.e2e

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
