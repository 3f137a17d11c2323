// jest reporter: one line per run when the browser tests were in it but skipped for want of a browser (what
// dev/sandbox/runTests.ts found is in BROWSER_FOR_TESTS; test/browser/spaHarness.ts skips on the same answer).
const { sep } = require('node:path');

const BROWSER_TESTS = `${sep}test${sep}browser${sep}`;

module.exports = class BrowserNotice {
  browserTestsRan = false;

  onTestFileStart(test) {
    if (test.path.includes(BROWSER_TESTS)) this.browserTestsRan = true;
  }

  onRunComplete() {
    if (!this.browserTestsRan || process.env.REQUIRE_BROWSER_TESTS === '1') return;
    const text = process.env.BROWSER_FOR_TESTS;
    const browser = text === undefined || text === '' ? undefined : JSON.parse(text);
    if (browser === undefined || browser.found !== false) return;
    process.stderr.write(
      `browser tests skipped: ${browser.reason} (REQUIRE_BROWSER_TESTS=1 makes this a failure)\n`,
    );
  }
};
