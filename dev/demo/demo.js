// The demo form: each submit sends one identify through the tracker.
'use strict';

const form = document.getElementById('identify');
const status = document.getElementById('status');

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const field = (name) => form.elements[name].value.trim();
  const props = { email: field('email') };
  if (field('first_name')) props.first_name = field('first_name');
  if (field('favorite_color')) props.properties = { favorite_color: field('favorite_color') };
  status.textContent = 'Sending…';
  // After the bundle loads, push may return the identify promise; before, it is Array.prototype.push.
  Promise.resolve(window._klaviyo.push(['identify', props])).then(
    () => { status.textContent = `Queued identify for ${props.email}: watch the live view.`; },
    (err) => { status.textContent = `Refused: ${err && err.message ? err.message : err}`; },
  );
});
