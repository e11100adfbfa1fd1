"""End to end: the labeling page in headless Chromium (selenium), against a real server.

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) and ``pip install selenium``; skipped with the
reason otherwise. Run with ``pytest -m browser tests/test_label_page_browser.py``.
Set ``SKAL_PAGE_SCREENSHOTS=docs/_static`` to write the guide's screenshots.
"""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

pytestmark = pytest.mark.browser

pytest.importorskip("flask")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install "
                                                  "selenium)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skal.labeling import LabelingSession  # noqa: E402
from skal.labeling_page import create_app, serve  # noqa: E402

DIGITS_X, DIGITS_Y = load_digits(return_X_y=True)
BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
if BROWSER is None or DRIVER is None:
    pytest.skip("no Chromium and chromedriver on PATH (apt-get install chromium "
                "chromium-driver)", allow_module_level=True)

WRONG = 4  # the first answers are off by one, so that the filter has labels to doubt


@pytest.fixture
def page(tmp_path):
    np.save(tmp_path / "pool.npy", DIGITS_X[:150])
    session = LabelingSession.create(tmp_path / "s.skal", tmp_path / "pool.npy",
                                     classes=list(range(10)), budget=[20, 20], random_state=0)
    stop, ready, urls = threading.Event(), threading.Event(), []
    server = threading.Thread(target=serve, args=(create_app(session), "127.0.0.1", 0),
                              kwargs={"on_ready": lambda u: (urls.append(u), ready.set()),
                                      "stop": stop}, daemon=True)
    server.start()
    assert ready.wait(10)
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1100,1000", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    try:
        yield session, driver, urls[0]
    finally:
        driver.quit()
        stop.set()
        server.join(10)


def _press(driver, key):
    ActionChains(driver).send_keys(key).perform()


def _wait(driver, condition, what):
    return WebDriverWait(driver, 30).until(lambda d: condition(d), message=what)


# Read the page in one script call: the page redraws its parts after every
# answer, so element handles kept across calls go stale.
def _current_id(driver):
    return driver.execute_script(
        "const box = document.getElementById('item');"
        "return box.hidden || document.getElementById('undo-banner').hidden === false ? null"
        " : document.getElementById('item-id').textContent.slice(3) || null;")


def _latest_answer(driver):
    found = driver.execute_script(
        "const t = document.querySelector('#recent .thumb');"
        "return t ? [t.title.slice(3), t.querySelector('b').textContent] : null;")
    return tuple(found) if found else (None, None)


def _reviewed_rows(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#reviewed tbody tr')]"
        ".map((r) => [...r.cells].slice(1).map((c) => c.textContent));")


def _shot(driver, tmp_path, name):
    path = tmp_path / name
    driver.save_screenshot(str(path))
    target = os.environ.get("SKAL_PAGE_SCREENSHOTS")
    if target:
        shutil.copyfile(path, os.path.join(target, name))


def test_label_a_batch_undo_and_correct_a_doubted_label(page, tmp_path):
    session, driver, url = page
    driver.get(url)
    answers = {}
    # Label the first round (20 digits) with the keyboard.
    while len(answers) < 20:
        item = _wait(driver, _current_id, "an item to label")
        truth = int(DIGITS_Y[int(item)])
        label = (truth + 1) % 10 if len(answers) < WRONG else truth
        _press(driver, str(label))
        _wait(driver, lambda d, i=item: _latest_answer(d)[0] == i, f"answer for {item} saved")
        answers[item] = label
        if len(answers) == WRONG + 1:
            # A slip: answer wrongly, then Backspace and the right key (undo = relabel).
            slip = _wait(driver, _current_id, "an item to slip on")
            truth = int(DIGITS_Y[int(slip)])
            _press(driver, str((truth + 5) % 10))
            _wait(driver, lambda d, i=slip: _latest_answer(d)[0] == i, "slip saved")
            _press(driver, Keys.BACKSPACE)
            banner = driver.find_element(By.ID, "undo-banner")
            assert banner.is_displayed() and f"id {slip}" in banner.text
            _press(driver, str(truth))
            _wait(driver, lambda d, want=(slip, str(truth)): _latest_answer(d) == want, "undo saved")
            assert not driver.find_element(By.ID, "undo-banner").is_displayed()
            answers[slip] = truth
            undone = (slip, (truth + 5) % 10, truth)
        if len(answers) == 12:
            _shot(driver, tmp_path, "labeling_page.png")
    # The round is over; the page has asked for the next one already.
    _wait(driver, lambda d: d.execute_script(
        "return document.getElementById('progress-text').textContent").startswith("round 2"),
        "the second round asked")

    driver.find_element(By.ID, "tab-review").click()
    cards = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#review-list .card"),
                  "doubted labels listed")
    flagged = LabelingSession.open(session.state_path).flagged()
    assert [c.get_attribute("data-id") for c in cards] == [r["id"] for r in flagged]
    wrong = [r["id"] for r in flagged if r["label"] != DIGITS_Y[int(r["id"])]]
    right = [r["id"] for r in flagged if r["label"] == DIGITS_Y[int(r["id"])]]
    assert wrong, "the filter doubts none of the wrong answers"
    _shot(driver, tmp_path, "labeling_page_review.png")
    # Correct one wrong label: click its card, press the true digit.
    fixed = wrong[0]
    first_answer = answers[fixed]
    driver.find_element(By.CSS_SELECTOR, f'.card[data-id="{fixed}"]').click()
    _press(driver, str(DIGITS_Y[int(fixed)]))
    _wait(driver, lambda d: _reviewed_rows(d)[:1] == [[fixed, str(first_answer),
                                                        str(DIGITS_Y[int(fixed)]), "changed"]],
          "correction listed as changed")
    answers[fixed] = int(DIGITS_Y[int(fixed)])
    kept = None
    if right:  # keep a right label the filter doubted: Enter on its card
        kept = right[0]
        driver.find_element(By.CSS_SELECTOR, f'.card[data-id="{kept}"]').click()
        _press(driver, Keys.ENTER)
        _wait(driver, lambda d: _reviewed_rows(d)[:1] == [[kept, str(answers[kept]),
                                                            str(answers[kept]), "kept"]],
              "keep listed as kept")

    # What another process reads from the state file.
    saved = LabelingSession.open(session.state_path)
    table = {r["id"]: r for r in saved.labels_table()}
    assert {i: r["label"] for i, r in table.items()} == answers
    expected = [(int(undone[0]), undone[1], undone[2], True),
                (int(fixed), first_answer, answers[fixed], True)]
    if kept is not None:
        expected.append((int(kept), answers[kept], answers[kept], False))
    assert [(c["index"], c["old"], c["new"], c["changed"]) for c in
            saved.learner.corrections_] == expected
    assert {i for i, r in table.items() if r["reviewed"]} == {str(e[0]) for e in expected}
    assert saved.status()["round"] == 1 and saved.status()["n_labeled"] == 20
