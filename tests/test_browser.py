"""The generated leaderboard in a real browser: headless Chromium driven by Selenium.

Opens ``index.html`` from disk (``file://``), checks the console stays clean, sorts by a
column both ways, filters, restores the view from the URL, follows a submission link, and
saves screenshots to ``test-artifacts/`` for people (and reviewers) to look at.

Skipped when Chromium, chromedriver or Selenium are missing, unless
``REWARDHEADS_REQUIRE_SYSTEM_TOOLS=1`` (CI), which makes that a failure.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest
from systools import REQUIRE_ENV, require_module, require_tool
from test_leaderboard import DEMO, write_demo_results

from harness.leaderboard import render_site
from harness.paths import repo_path

ARTIFACTS = repo_path("test-artifacts")
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--window-size=1360,900", "--hide-scrollbars")

# Reads the visible rows of one table: [[name, value of column `key`], ...] in page order.
ROWS_JS = """
const [table, key] = arguments;
const th = table.querySelector(`th[data-key="${key}"]`);
return Array.from(table.tBodies[0].rows).filter(r => !r.hidden)
  .map(r => [r.dataset.name, r.cells[th.cellIndex].dataset.v]);
"""
ARROW_JS = """
const th = arguments[0];
return [th.getAttribute('aria-sort'),
        getComputedStyle(th.querySelector('.arrow'), '::after').content];
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    results = write_demo_results(root / "results")
    index = render_site(results, root / "site", warn=lambda _: None,
                        now=datetime(2026, 11, 25, 9, 30, tzinfo=UTC))
    records = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    return {"index": index, "records": records}


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    chromium = require_tool("chromium", "apt-get install chromium (Debian) for /usr/bin/chromium")
    chromedriver = require_tool("chromedriver", "apt-get install chromium-driver")
    webdriver = require_module("selenium.webdriver", "pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(chromedriver), options=options)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


def severe(drv) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def mini_table(drv):
    from selenium.webdriver.common.by import By

    # groups are sorted by set name: "large" first, then "mini"
    return drv.find_elements(By.CSS_SELECTOR, "table.board")[1]


def full_page_screenshot(drv, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    drv.execute_script("window.scrollTo(0, 0)")
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1360, min(int(height) + 20, 8000))
    drv.save_screenshot(str(ARTIFACTS / name))
    drv.set_window_size(1360, 900)
    assert (ARTIFACTS / name).stat().st_size > 10_000


def test_sort_filter_url_state(driver, site):
    from selenium.webdriver.common.by import By

    url = site["index"].as_uri()
    driver.get(url)
    assert driver.title == "RewardHeads leaderboard"
    table = mini_table(driver)
    expected_rank = [name for name, *_ in sorted(DEMO, key=lambda d: -d[1])]
    assert [n for n, _ in driver.execute_script(ROWS_JS, table, "overall")] == expected_rank

    chat = {r["submission"]["name"]: r["suites"]["rewardbench-v1"]["sections"]["Chat"]["mean"] for r in site["records"]
            if r["status"] == "ok" and r["set"]["name"] == "mini"}
    header = table.find_element(By.CSS_SELECTOR, 'th[data-key="chat"]')
    header.click()  # first click on a score: best first
    rows = driver.execute_script(ROWS_JS, table, "chat")
    assert [n for n, _ in rows] == sorted(chat, key=lambda n: -chat[n])
    values = [float(v) for _, v in rows]
    assert values == sorted(values, reverse=True)
    assert driver.execute_script(ARROW_JS, header) == ["descending", '"▼"']

    header.click()  # again: reversed
    rows = driver.execute_script(ROWS_JS, table, "chat")
    assert [n for n, _ in rows] == sorted(chat, key=lambda n: chat[n])
    assert driver.execute_script(ARROW_JS, header) == ["ascending", '"▲"']
    assert "sort=chat" in driver.current_url and "dir=asc" in driver.current_url

    box = driver.find_element(By.ID, "filter")
    box.send_keys("bt_")
    visible = [n for n, _ in driver.execute_script(ROWS_JS, table, "chat")]
    assert visible == sorted((n for n in chat if "bt_" in n), key=lambda n: chat[n])
    hidden = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if not r.is_displayed()]
    assert len(hidden) == len(chat) - len(visible) > 0
    assert driver.find_element(By.ID, "filter-count").text == f"{len(visible) + 1} of 14 shown"
    assert "q=bt_" in driver.current_url
    shared = driver.current_url

    driver.get("about:blank")
    driver.get(shared)  # a shared link restores the sort and the filter
    table = mini_table(driver)
    assert driver.find_element(By.ID, "filter").get_attribute("value") == "bt_"
    assert [n for n, _ in driver.execute_script(ROWS_JS, table, "chat")] == visible
    header = table.find_element(By.CSS_SELECTOR, 'th[data-key="chat"]')
    assert header.get_attribute("aria-sort") == "ascending"
    assert severe(driver) == []


def test_set_selector_shows_one_set_and_keeps_it_in_the_url(driver, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(site["index"].as_uri())
    groups = driver.find_elements(By.CSS_SELECTOR, "section.group")
    assert len(groups) == 2 and all(g.is_displayed() for g in groups)
    select = Select(driver.find_element(By.ID, "set-select"))
    model = "HuggingFaceTB/SmolLM2-135M-Instruct (layer -1, mean pool)"
    assert [o.text for o in select.options] == ["All sets (2)", f"large v2 · {model}", f"mini v1 · {model}"]
    select.select_by_index(1)
    shown = [g.get_attribute("data-set") for g in groups if g.is_displayed()]
    assert shown == [select.options[1].get_attribute("value")] and shown[0].startswith("large-2-")
    assert f"set={shown[0]}" in driver.current_url
    shared = driver.current_url
    driver.get("about:blank")
    driver.get(shared)
    groups = driver.find_elements(By.CSS_SELECTOR, "section.group")
    assert [g.get_attribute("data-set") for g in groups if g.is_displayed()] == shown
    Select(driver.find_element(By.ID, "set-select")).select_by_index(0)
    assert all(g.is_displayed() for g in driver.find_elements(By.CSS_SELECTOR, "section.group"))
    assert "set=" not in driver.current_url
    assert severe(driver) == []


def test_submission_page_and_screenshots(driver, site):
    from selenium.webdriver.common.by import By

    driver.get(site["index"].as_uri())
    assert severe(driver) == []
    full_page_screenshot(driver, "leaderboard-index.png")

    mini_table(driver).find_element(By.LINK_TEXT, "armo_gate").click()
    assert driver.current_url.endswith("/submissions/armo_gate.html")
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("armo_gate")
    subsets = driver.find_elements(By.CSS_SELECTOR, "#subsets tr[data-subset]")
    assert len(subsets) == 23  # every RewardBench v1 subset, mean and per seed
    # subset, items, weight, mean, CI, then one column per seed
    assert len(subsets[0].find_elements(By.TAG_NAME, "td")) == 5 + 3
    bib = driver.find_element(By.ID, "bibtex").text
    assert bib.startswith("@misc{rewardheads:armo_gate:mini-1,")
    assert "manifest sha256 3f1c9a7d" in bib and "harness 0.1.0" in bib
    full_page_screenshot(driver, "leaderboard-detail.png")
    driver.find_element(By.CSS_SELECTOR, 'button[data-copy="bibtex"]').click()
    assert severe(driver) == []


# At phone width: the page's and each table's overflow, the board's scroll hint, the plots.
PHONE_JS = """
const frames = Array.from(document.querySelectorAll('.table-frame'));
const hint = f => f.querySelector('.scroll-hint');
const shown = el => el && el.getBoundingClientRect().height > 0 && getComputedStyle(el).display !== 'none';
const texts = Array.from(document.querySelectorAll('figure svg text')).filter(shown);
return {
  page: [document.documentElement.scrollWidth, window.innerWidth],
  tables: frames.map(f => {
    const w = f.querySelector('.table-wrap');
    return {overflow: w.scrollWidth - w.clientWidth, classes: f.className,
            hint: getComputedStyle(hint(f)).opacity,
            hintRight: hint(f).getBoundingClientRect().right,
            shadow: getComputedStyle(f, '::after').opacity};
  }),
  layouts: Array.from(document.querySelectorAll('figure svg')).map(svg =>
    [shown(svg.querySelector('.svg-wide')), shown(svg.querySelector('.svg-narrow'))]),
  texts: texts.length,
  minText: Math.min(...texts.map(t => t.getBoundingClientRect().height)),
};
"""


def phone_screenshot(drv, path) -> None:
    """The whole page at phone width, then back to an 812 px-high window."""
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(375, min(int(height) + 100, 8000))
    drv.save_screenshot(str(path))
    drv.set_window_size(375, 812)
    assert path.stat().st_size > 10_000


def wait_for(drv, script, *args):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(drv, 3, poll_frequency=0.05).until(lambda d: d.execute_script(script, *args))


def test_phone_width_hint_no_page_overflow_legible_plots(driver, site, tmp_path):
    from selenium.webdriver.common.by import By

    driver.get(site["index"].as_uri())
    desk = driver.execute_script(PHONE_JS)
    assert [(t["overflow"], t["classes"], t["hint"]) for t in desk["tables"]] == [
        (0, "table-frame", "0")] * 2  # desktop: the boards fit, no hint
    assert desk["layouts"] == [[True, False]] * 4  # desktop keeps its drawings
    assert desk["minText"] >= 10
    driver.set_window_size(375, 812)
    try:
        driver.get(site["index"].as_uri())
        wait_for(driver, "return getComputedStyle(document.querySelector('.scroll-hint'))"
                         ".opacity === '1'")
        phone = driver.execute_script(PHONE_JS)
        phone_screenshot(driver, tmp_path / "leaderboard-index-375.png")
        page_width, viewport = phone["page"]
        assert viewport == 375 and page_width <= viewport  # nothing scrolls the whole page
        assert len(phone["tables"]) == 2
        for table in phone["tables"]:  # both boards are wider than a phone: hint and shadow
            assert table["overflow"] > 300, table
            assert table["classes"].split() == ["table-frame", "more-right"], table
            assert table["hint"] == "1" and table["shadow"] == "1", table
            assert table["hintRight"] <= viewport
        assert phone["layouts"] == [[False, True]] * 4  # the phone drawings
        assert phone["texts"] > 50 and phone["minText"] >= 9, phone["minText"]

        table = mini_table(driver)  # scrolling hides the hint and shows the left shadow
        frame = table.find_element(By.XPATH, "ancestor::div[contains(@class,'table-frame')]")
        driver.execute_script("arguments[0].parentNode.scrollLeft = 120", table)
        wait_for(driver, "return getComputedStyle(arguments[0].querySelector('.scroll-hint'))"
                         ".opacity === '0'", frame)
        assert set(frame.get_attribute("class").split()) == {"table-frame", "more-left",
                                                             "more-right"}
        driver.execute_script("arguments[0].scrollIntoView()", table)
        driver.save_screenshot(str(tmp_path / "leaderboard-index-375-scrolled.png"))
        driver.execute_script("arguments[0].parentNode.scrollLeft = 1e6", table)
        wait_for(driver, "return arguments[0].className.split(' ').sort().join() === "
                         "'more-left,table-frame'", frame)  # at the end: no right shadow

        header = table.find_element(By.CSS_SELECTOR, 'th[data-key="fit"] button')
        header.click()  # sorting still works from the scrolled table
        fits = [float(v) for _, v in driver.execute_script(ROWS_JS, table, "fit")]
        assert fits == sorted(fits)

        table.find_element(By.LINK_TEXT, "armo_gate").click()
        assert driver.current_url.endswith("/submissions/armo_gate.html")
        wait_for(driver, "return Array.from(document.querySelectorAll('.scroll-hint'))"
                         ".every(h => getComputedStyle(h).opacity === '1')")
        detail = driver.execute_script(PHONE_JS)
        assert detail["page"][0] <= detail["page"][1] == 375
        # section scores and per-subset tables (three seed columns) overflow, hinted
        assert [(t["overflow"] > 0, t["hint"]) for t in detail["tables"]] == [(True, "1")] * 2
        phone_screenshot(driver, tmp_path / "leaderboard-detail-375.png")
        assert severe(driver) == []
    finally:
        driver.set_window_size(1360, 900)


def test_require_tool_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nothing"):
        require_tool("rewardheads-no-such-tool", "apt-get install nothing")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ENV}=1 requires it"):
        require_tool("rewardheads-no-such-tool")
    with pytest.raises(pytest.fail.Exception, match="Python module 'no_such_module_xyz'"):
        require_module("no_such_module_xyz")
    assert require_tool(sys.executable) == sys.executable
