// Runs before the snippet: the stub keeps an existing _klaviyo array, so this config is the first
// command the tracker sees, before it delivers anything. The collector serves this page, so the
// page's own origin is the collector.
window._klaviyo = window._klaviyo || [];
window._klaviyo.push(['config', { apiHost: location.origin, debug: true }]);
