#!/usr/bin/env python3
"""Drives shinsei's fleet console in Debian's chromium through chromedriver (Selenium
WebDriver). Called by tests/tests/console.rs with a real relay, a real enrolled tablet
running the real agent, and a running `shinsei-console`.

Usage: console.py LOGIN_URL DEVICE_ID SCREENSHOT_DIR
Prints one JSON object of what it saw; exits non-zero on the first failed expectation.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait


def raw(url, method="GET", data=None, headers=None):
    """Status of a request made outside the browser (the attacker's view)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    login_url, device, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    base = login_url.split("/login")[0]
    port = urllib.parse.urlparse(base).port
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--window-size=1500,900", "--lang=ja"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    seen = {}
    try:
        # The page reloads itself when a device appears: an element can go stale.
        wait = WebDriverWait(driver, 20, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException))
        driver.get(login_url)
        state = lambda: driver.find_element(By.ID, "state-" + device).text
        wait.until(lambda d: state() == "active")
        seen["before"] = state()
        seen["cert"] = driver.find_element(By.ID, "cert-" + device).text
        driver.save_screenshot(f"{shots}/console-fleet.png")

        # The CSRF token and the session cookie, for the attacker's requests below.
        csrf = driver.find_element(By.NAME, "csrf").get_attribute("value")
        cookie = "shinsei_console=" + driver.get_cookie("shinsei_console")["value"]
        form = urllib.parse.urlencode({"csrf": csrf, "reason": "x"}).encode()
        action = f"{base}/devices/{device}/enable"
        seen["no_csrf"] = raw(action, "POST", urllib.parse.urlencode({"reason": "x"}).encode(),
                              {"Cookie": cookie, "Origin": base})
        seen["foreign_origin"] = raw(action, "POST", form,
                                     {"Cookie": cookie, "Origin": "http://evil.example"})
        seen["no_origin"] = raw(action, "POST", form, {"Cookie": cookie})
        seen["forged_host"] = raw(base + "/", "GET", None,
                                  {"Cookie": cookie, "Host": f"evil.example:{port}"})
        seen["no_session"] = raw(base + "/", "GET")

        # Disable the tablet with a reason, as IT would.
        driver.find_element(By.ID, "reason-" + device).send_keys("置き忘れ / left at the branch office")
        driver.find_element(By.ID, "disable-" + device).click()
        wait.until(lambda d: state() == "disabled")
        seen["after"] = state()
        seen["flash"] = driver.find_element(By.ID, "flash").text
        driver.save_screenshot(f"{shots}/console-disabled.png")

        # A wipe by one officer only waits for the second (the relay's two-person rule).
        driver.find_element(By.ID, "wipe-" + device).click()
        wait.until(lambda d: driver.find_element(By.ID, "pending-" + device).text != "")
        seen["pending"] = driver.find_element(By.ID, "pending-" + device).text
        seen["after_wipe_request"] = state()

        # The tablet's own operations log, with the relay's verdict on its chain.
        driver.find_element(By.ID, "log-" + device).click()
        wait.until(lambda d: d.find_elements(By.ID, "chain"))
        seen["device_log_chain"] = driver.find_element(By.ID, "chain").text
        seen["device_log_rows"] = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#device-log tbody tr")]
        driver.save_screenshot(f"{shots}/console-device-log.png")

        driver.get(base + "/audit")
        rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
        seen["audit"] = rows
        driver.save_screenshot(f"{shots}/console-audit.png")

        # The login URL works once.
        driver.delete_all_cookies()
        driver.get(login_url)
        seen["second_login"] = driver.find_element(By.TAG_NAME, "h1").text
    except Exception:
        sys.stderr.write("page at failure: " + driver.current_url + "\n" + driver.find_element(By.TAG_NAME, "body").text + "\n")
        sys.stderr.write("seen so far: " + json.dumps(seen, ensure_ascii=False) + "\n")
        raise
    finally:
        driver.quit()
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
