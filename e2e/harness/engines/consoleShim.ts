// Console capture for an engine whose driver reports no console messages (WebKit over classic WebDriver: no
// log endpoint, no BiDi, no init scripts; MiniBrowser's write-console-messages-to-stdout setting does not reach
// the pages an automation session opens). The page itself records them: put CONSOLE_SHIM first in <head>
// (with the page's nonce under a strict CSP), and Page.consoleMessages() reads what it recorded in this document.
// Chromium and Firefox need none of this (their consoleMessages() come from the protocol).

/** window.__engineConsole: every console call ({type, text}, type as Playwright names it) and uncaught error ('pageerror'). */
export const CONSOLE_SHIM = `(function () {
  if (window.__engineConsole) return;
  var log = (window.__engineConsole = []);
  var text = function (a) {
    if (typeof a === 'string') return a;
    if (a instanceof Error) return String(a);
    try { return JSON.stringify(a); } catch (e) { return String(a); }
  };
  ['log', 'info', 'warn', 'error', 'debug'].forEach(function (t) {
    var orig = console[t];
    console[t] = function () {
      try { log.push({ type: t === 'warn' ? 'warning' : t, text: Array.prototype.map.call(arguments, text).join(' ') }); } catch (e) {}
      return orig.apply(this, arguments);
    };
  });
  addEventListener('error', function (e) { log.push({ type: 'pageerror', text: String(e.message) }); });
  addEventListener('unhandledrejection', function (e) { log.push({ type: 'pageerror', text: 'unhandledrejection: ' + text(e.reason) }); });
})();`;

/** Page-side reader of what CONSOLE_SHIM recorded ([] when the page has no shim). */
export const READ_SHIM = `(window.__engineConsole || []).slice()`;
