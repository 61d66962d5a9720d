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
  // The method form returns a promise (the stub's before the bundle loads, the tracker's after): it rejects with
  // the tracker's message when the input is refused. (push returns nothing to wait on.)
  window._klaviyo.identify(props).then(
    () => { status.textContent = `Queued identify for ${props.email}: watch the live view.`; },
    (err) => { status.textContent = `Refused: ${err && err.message ? err.message : err}`; },
  );
});
