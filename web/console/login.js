/* Staff login: posts the credentials as JSON and goes to the console. No data is rendered here. */
(function () {
  'use strict';
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {
      username: document.getElementById('username').value.trim(),
      password: document.getElementById('password').value,
    };
    if (!body.username || !body.password) {
      showError('Enter your username and password.');
      return;
    }
    try {
      const response = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'same-origin',
      });
      if (response.ok) {
        window.location.assign('/console');
        return;
      }
      showError(response.status === 401 ? 'Wrong username or password.' : 'Login failed (' + response.status + ').');
    } catch (e) {
      showError('The server cannot be reached.');
    }
  });

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }
})();
