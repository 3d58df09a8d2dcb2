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

        # The tablet's own figures, and the fleet filtered by state and by ID.
        driver.get(base + "/")
        wait.until(lambda d: state() == "disabled")
        seen["version"] = driver.find_element(By.ID, "version-" + device).text
        seen["outbox"] = driver.find_element(By.ID, "outbox-" + device).text
        seen["lease"] = driver.find_element(By.ID, "lease-" + device).text
        seen["apps"] = driver.find_element(By.ID, "apps-" + device).text
        rows = lambda: len(driver.find_elements(By.ID, "row-" + device))
        driver.get(base + "/?state=active")
        seen["rows_active"] = rows()
        driver.get(base + "/?state=disabled&sort=cert&desc=1")
        seen["rows_disabled"] = rows()
        driver.get(base + "/?q=NOSUCH")
        seen["rows_nosuch"] = rows()

        # The certificate calendar; IT holds this tablet's renewals.
        driver.find_element(By.ID, "nav-certificates").click()
        wait.until(lambda d: d.find_elements(By.ID, "calendar"))
        seen["calendar"] = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#calendar tbody tr")]
        driver.save_screenshot(f"{shots}/console-certificates.png")
        driver.find_element(By.ID, "hold-" + device).click()
        wait.until(lambda d: d.find_elements(By.ID, "resume-" + device))
        seen["hold_flash"] = driver.find_element(By.ID, "flash").text
        seen["renewal_held"] = driver.find_element(By.ID, "renewal-" + device).text

        # Staff: add, a mismatched second password, reset, disable, publish.
        driver.find_element(By.ID, "nav-staff").click()
        wait.until(lambda d: d.find_elements(By.ID, "staff-add"))
        driver.find_element(By.ID, "new-id").send_keys("S0100")
        driver.find_element(By.ID, "new-pw").send_keys("Kawasaki-Branch-2026")
        driver.find_element(By.ID, "new-pw2").send_keys("Kawasaki-Branch-2026")
        driver.find_element(By.ID, "add").click()
        wait.until(lambda d: d.find_elements(By.ID, "staff-S0100"))
        seen["staff_added"] = driver.find_element(By.ID, "flash").text
        driver.find_element(By.ID, "pw-S0100").send_keys("Another-Password-1")
        driver.find_element(By.ID, "pw2-S0100").send_keys("Another-Password-2")
        driver.find_element(By.ID, "reset-S0100").click()
        wait.until(lambda d: "differ" in d.find_element(By.ID, "flash").text)
        seen["staff_mismatch"] = driver.find_element(By.ID, "flash").text
        driver.find_element(By.ID, "pw-S0100").send_keys("Another-Password-1")
        driver.find_element(By.ID, "pw2-S0100").send_keys("Another-Password-1")
        driver.find_element(By.ID, "reset-S0100").click()
        wait.until(lambda d: "reset" in d.find_element(By.ID, "flash").text)
        seen["staff_reset"] = driver.find_element(By.ID, "flash").text
        driver.find_element(By.ID, "disable-S0100").click()
        wait.until(lambda d: "disabled" in d.find_element(By.ID, "staff-state-S0100").text)
        seen["staff_state"] = driver.find_element(By.ID, "staff-state-S0100").text
        driver.find_element(By.ID, "publish").click()
        wait.until(lambda d: "staff list number" in d.find_element(By.ID, "flash").text)
        seen["published"] = driver.find_element(By.ID, "flash").text
        seen["staff_page"] = driver.find_element(By.TAG_NAME, "main").text
        driver.save_screenshot(f"{shots}/console-staff.png")

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
